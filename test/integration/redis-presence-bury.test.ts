/** A dead node that counted many (topic, user) entries is buried completely: HSCAN from cursor 0
 * may answer an empty page while entries remain, which bury() took for "done". */
import t from 'tap';
import { Redis } from 'ioredis';
import { DEFAULTS } from '../../src/core/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/logger.js';
import { RedisConnection } from '../../src/core/redis-connection.js';
import { RedisPresence } from '../../src/presence/redis-presence.js';
import { sharedRedisUrl, requireRedis, uniquePrefix, deletePrefix } from '../helpers/redis.js';

t.test('every entry of a dead node with 10,000 entries is removed', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('bury');
  const raw = new Redis(url);
  const clock = new ManualClock();
  const p = `${prefix}p:`;
  const N = 10_000;
  // A node 'ghost' that died long ago, counting one connection of user u<i> on topic t<i>.
  await raw.zadd(`${p}\u0000nodes`, clock.now() - 60_000, 'ghost');
  for (let i = 0; i < N; i += 1000) {
    const c: string[] = [];
    const pipe = raw.pipeline();
    for (let j = i; j < i + 1000; j++) {
      c.push(`c\u0000t${j}\u0000u${j}`, '1:0');
      pipe.hset(`${p}c\u0000t${j}`, `u${j}`, 1);
    }
    pipe.hset(`${p}\u0000n:ghost`, ...c);
    await pipe.exec();
  }
  const connection = new RedisConnection({ ...DEFAULTS.redis, url, keyPrefix: prefix }, createLogger({ level: 'silent' }));
  await connection.connect();
  const presence = new RedisPresence({ ...DEFAULTS.presence, leaveGraceMs: 0, nodeTimeoutMs: 3000 }, clock, connection, connection.client.duplicate({ lazyConnect: true }), prefix, createLogger({ level: 'silent' }));
  presence.start(() => {});
  await presence.connect();
  t.teardown(async () => { await presence.close(); await connection.close(); raw.disconnect(); await deletePrefix(url, prefix); });
  // Heartbeats and sweeps (200 entries each: 50 are needed) until the node is forgotten, or the
  // deadline: the loop waits on Redis, not on a fixed number of turns, so a loaded machine only slows it.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && await raw.sismember(`${p}\u0000dead`, 'ghost') + await raw.hlen(`${p}\u0000n:ghost`) > 0) {
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 30));
  }
  t.equal(await raw.hlen(`${p}\u0000n:ghost`), 0, 'the dead node counts nothing any more');
  let left = 0;
  for (let j = 0; j < N; j++) if (await raw.hexists(`${p}c\u0000t${j}`, `u${j}`)) left++;
  t.equal(left, 0, 'no ghost members');
  t.equal(await raw.sismember(`${p}\u0000dead`, 'ghost'), 0, 'and the node is forgotten');
});
