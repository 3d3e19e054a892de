/** A topic Redis lost together with the lastPage key (FLUSHDB, eviction), when lastPage had run
 * ahead of the clock, comes back under a smaller page: subscribers get a disc and the new items,
 * not silence. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, sharedRedisUrl, uniquePrefix, deletePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { Redis } from 'ioredis';
import { PermissionScopes } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('a topic lost with the lastPage key: its subscribers get a disc and the new items', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('small');
  t.teardown(() => deletePrefix(url, prefix));
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  const P = `${prefix}t:\u0000lastpage`;
  await redis.set(P, String(Date.now() + 1_000_000_000)); // pages handed out faster than the clock
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const pub = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'p' }));
  const sub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 's' }));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'x' });
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'v1' });
  await sub.items(1);
  await redis.del(`${prefix}t:chat\u0000x`, `${prefix}t:chat\u0000x\u0000s`, P); // what FLUSHDB does to these keys
  const r = await pub.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'v2' });
  const got = await sub.next((f) => f['t'] === 'disc' || f['t'] === 'item', 2000).catch(() => undefined);
  t.match(got, { t: 'disc', page: r['page'] }, `the subscriber is told of the new page ${r['page']} (got ${JSON.stringify(got)})`);
  t.match(await sub.items(1, () => true, 2000).catch(() => []), [{ value: 'v2', page: r['page'], seq: 1 }], 'then gets its item');
});
