/** A subscribed but quiet topic stays in Redis whatever topics.idleTopicMs is: the node's touch
 * runs at least three times per TTL (a lost topic would show as a new page and a disc). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, sharedRedisUrl, uniquePrefix, deletePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('a subscribed, quiet topic outlives idleTopicMs (small idleTopicMs)', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('idle');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { topics: { idleTopicMs: 500 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const pub = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'p' }));
  const sub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 's' }));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'quiet' });
  const first = await pub.ok({ t: 'pub', cache: 'chat', topic: 'quiet', value: 'v1' });
  await sub.items(1);
  // A fixed time on purpose: what is proved is that nothing is lost while the topic stays quiet for
  // several idleTopicMs (500 ms); there is no state to wait for.
  await new Promise((r) => setTimeout(r, 2500));
  const second = await pub.ok({ t: 'pub', cache: 'chat', topic: 'quiet', value: 'v2' });
  t.same([second['page'], second['seq']], [first['page'], 2], 'the next publish continues the page');
  t.same(await sub.drain('disc', 300), [], 'no disc');
});
