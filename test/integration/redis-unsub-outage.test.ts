/** A topic whose last local subscriber left while the link to Redis was down is unsubscribed when
 * the link is back: ioredis would subscribe it again, and the node would receive that topic's
 * messages for good. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { Redis } from 'ioredis';
import { PermissionScopes } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('a topic left while Redis was away is not subscribed again when it returns', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('unsub');
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config: { redis: { reconnectMinMs: 50, reconnectMaxMs: 200 } } });
  const c = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 's' }));
  t.teardown(() => c.close());
  await c.ok({ t: 'sub', cache: 'chat', topic: 'gone' });
  await c.ok({ t: 'sub', cache: 'chat', topic: 'kept' });
  const channel = `${prefix}t:chat\u0000gone`;
  await redis.kill();
  await c.ok({ t: 'unsub', cache: 'chat', topic: 'gone' });
  await redis.start();
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const kept = `${prefix}t:chat\u0000kept`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && Number((await admin.pubsub('NUMSUB', kept))[1]) === 0) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  t.equal(Number((await admin.pubsub('NUMSUB', kept))[1]), 1, 'the topic still subscribed is subscribed again');
  t.equal(Number((await admin.pubsub('NUMSUB', channel))[1]), 0, 'the topic left meanwhile is not');
});
