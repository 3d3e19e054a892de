/** A publish to a group's input topic is acknowledged only once the group took it, also when it
 * was gathered into a batch while the node's copy of the group directory said the topic feeds no
 * group and the copy was reloaded before the batch left (topic-engine.ts sendBatch). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, sharedRedisUrl, uniquePrefix, deletePrefix } from '../helpers/redis.js';
import { RawModerator, CACHE } from '../helpers/moderator.js';
import { generateSigningKey, type PublishResult } from '../../src/index.js';
import type { RedisEngine } from '../../src/engine/redis-engine.js';

t.test('every publish acknowledged after a group exists is fed to it', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('feed');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = { auth: { signingKeys: [signingKey] }, moderation: { ackTimeoutMs: 60_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  // A group on node b: publishes to "<x>-input" feed it. Node a's copy of the directory is older.
  const mod = await RawModerator.join(b, { tokenId: 'mod', maxInFlight: 1000, policy: () => ({ t: 'accept' }) });
  t.teardown(() => mod.client.close());
  const engine = a.engine as unknown as RedisEngine;
  // Node a reloads its copy (as after a stale reply or its own join) while publishes keep coming,
  // one per event-loop iteration, as a busy node sees them.
  let reloaded = false;
  void engine.groups.reload(CACHE).then(() => { reloaded = true; });
  const acks: Array<Promise<PublishResult>> = [];
  await new Promise<void>((resolve) => {
    const step = () => {
      acks.push(engine.topics.publish(CACHE, 'room1-input', `v${acks.length}`, 'alice'));
      if (reloaded) resolve(); else setImmediate(step);
    };
    setImmediate(step);
  });
  const results = await Promise.all(acks);
  t.equal(results.length, acks.length, `${acks.length} publishes acknowledged`);
  await mod.received(acks.length, 5000).catch(() => {});
  // Both sides sorted the same way (as strings: v10 before v2), whatever the count.
  t.same(mod.deliveries.map((d) => d['value']).sort(), acks.map((_, i) => `v${i}`).sort(), 'each reached the moderator');
});
