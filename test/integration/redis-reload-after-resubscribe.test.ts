/** After its Redis subscriber link comes back, a node reloads its copies of the shared sets
 * (revocations, follows) only once its subscription is active again on the new connection: a
 * change made on another node while the re-sent SUBSCRIBE has not reached Redis yet is in the
 * node's copy, not lost until the next reconnect (a revoked tokenId is refused there, a follow
 * notifies through it). The proxy holds the subscriber's SUBSCRIBE, so the window is made, not
 * hoped for. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { resetHoldingSubscribe, startTcpProxy } from '../helpers/tcp-proxy.js';
import { eventually } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

async function client(t: Test, node: TidingsServer, tokenId: string): Promise<RawClient> {
  const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId }));
  t.teardown(() => c.close());
  return c;
}

t.test('a change made while the re-sent SUBSCRIBE is held reaches the reconnected node', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('resub');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const hooks = await HttpReceiver.start(t);
  const config: DeepPartial<TidingsConfig> = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { connectTimeoutMs: 300, reconnectMaxMs: 200 },
    webhooks: { endpoints: [{ name: 'backend', url: hooks.url, secret: 'a-secret-of-enough-length', cache: CACHE, topicPrefix: '', events: ['item.undelivered'] }] },
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });
  const undelivered = (tokenId: string, topic: string) =>
    hooks.events().filter((e) => e['type'] === 'item.undelivered' && e['tokenId'] === tokenId && e['topic'] === topic).length;
  const gina = await client(t, a, 'gina');
  const hank = await client(t, b, 'hank');
  const ritaToken = await tokenFor(a, scope, { tokenId: 'rita' });
  const opens = (node: TidingsServer, token: string) => RawClient.open(node, token).then((c) => { c.close(); return true; }, () => false);
  t.ok(await opens(b, ritaToken), 'B accepts rita before the revocation');

  // B's links drop; the subscriber's new connection keeps its SUBSCRIBE (of, among others, the
  // revocation channel) from Redis until released.
  const channel = Buffer.from(`${prefix}r:\u0000channel`);
  const subscriberLink = await resetHoldingSubscribe(proxy, channel);
  if (subscriberLink === undefined) { t.fail('B\'s subscriber did not send its SUBSCRIBE again'); return; }
  // B's command connection is back and has answered what B sent on it up to now (the reload, when
  // B does not wait for its subscription).
  t.ok(await eventually(async () => (await hank.request({ t: 'pub', cache: CACHE, topic: 'probe', value: 'p' }))['t'] === 'ok'), 'B publishes again');

  // Changes made on A while B's SUBSCRIBE has not reached Redis.
  await a.revoke({ tokenId: 'rita' });
  await gina.ok({ t: 'follow', cache: CACHE, topic: 'late' });
  proxy.releaseRequests(subscriberLink);

  t.ok(await eventually(async () => !(await opens(b, ritaToken))), 'B refuses the tokenId revoked on A during the window');
  let n = 0;
  t.ok(await eventually(async () => {
    await hank.request({ t: 'pub', cache: CACHE, topic: 'late', value: `try ${++n}` });
    await new Promise((r) => setTimeout(r, 100));
    return undelivered('gina', 'late') > 0;
  }), 'a publish through B notifies the follow made on A during the window');
});
