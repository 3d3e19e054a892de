/** A client that subscribes, on a node whose link to Redis is down, to a topic the node still
 * serves from its window (another local subscriber keeps it) is told at once that live items have
 * stopped (`topic_interrupted`, docs/protocol.md), like the subscribers the node had when the link
 * dropped, and hears `topic_resumed` with them. Before, it got only the `topic_resumed`: between
 * the two it took a silent topic for a live one. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

t.test('a subscriber that joins while the link is down is told it is interrupted, then resumed', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('subint');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const scope = PermissionScopes.topicPublishSubscribe('app', '*');
  const first = await RawClient.open(a, await tokenFor(a, scope));
  const late = await RawClient.open(a, await tokenFor(a, scope));
  t.teardown(() => { first.close(); late.close(); });
  await first.ok({ t: 'sub', cache: 'app', topic: 'room' });

  proxy.blackhole();
  proxy.reset();
  t.match(await first.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  await late.ok({ t: 'sub', cache: 'app', topic: 'room' });
  t.same(await late.next((f) => f['t'] === 'notice'), { t: 'notice', kind: 'topic_interrupted', cache: 'app', topic: 'room' }, 'told at once');

  proxy.heal();
  t.match(await late.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' }, 'then resumed');
  t.match(await first.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' });
});
