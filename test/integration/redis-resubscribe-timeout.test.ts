/** A node's re-sent SUBSCRIBE (after its subscriber link dropped) answered later than
 * redis.commandTimeoutMs, on a link that stays up: the node must still catch its subscribers up
 * (the items published meanwhile, then topic_resumed), by itself. Before, a failed re-subscription
 * waited for the next reconnect, which a link that stays up never brings: the items published
 * while the link was down reached nobody until some later publish happened to reveal the gap,
 * and topic_resumed never came. The proxy holds the SUBSCRIBE, so the late answer is made, not
 * hoped for. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { resetHoldingSubscribe, startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { TopicKeys } from '../../src/engine/redis/keys.js';
import { PermissionScopes } from '../../src/index.js';

const COMMAND_TIMEOUT_MS = 300;

t.test('a re-sent SUBSCRIBE answered after the command timeout: subscribers still caught up and told', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('resubto');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  // a: through the proxy; its link is taken for dead only after linkTimeoutMs, well after the
  // SUBSCRIBE's answer comes. b: straight to Redis.
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const scope = PermissionScopes.topicPublishSubscribe('app', '*');
  const sub = await RawClient.open(a, await tokenFor(a, scope));
  const pub = await RawClient.open(b, await tokenFor(b, scope));
  t.teardown(() => { sub.close(); pub.close(); });
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'before' });
  t.match(await sub.items(1), [{ value: 'before', seq: 1 }]);

  const link = await resetHoldingSubscribe(proxy, Buffer.from(new TopicKeys(prefix, 'app', 'room').channel));
  if (link === undefined) { t.fail('node a did not send its SUBSCRIBE again'); return; }
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'during' });
  // The held SUBSCRIBE times out on node a (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.releaseRequests(link);

  t.match(await sub.items(1, () => true, 10_000), [{ value: 'during', seq: 2 }], 'the item published meanwhile came, with no later publish');
  t.match(await sub.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' }, 'and topic_resumed');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'after' });
  t.match(await sub.items(1), [{ value: 'after', seq: 3 }], 'live again');
  t.same(await sub.drain('disc', 50), [], 'nothing lost');
});
