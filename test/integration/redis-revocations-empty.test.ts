/** Redis comes back empty (restarted without persistence) under a running node: the revocations
 * that node holds are written back once its link is back, so a node started afterwards refuses
 * the revoked credential too. Before, they lived on only in the running nodes' copies: a node
 * started (or restarted) since accepted the revoked credential, a silent un-revoke
 * (docs/tokens.md: no entry is ever dropped while it covers a valid credential). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { eventually } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

t.test('revocations survive a Redis that came back empty while a node holds them', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t); // no persistence: a restart loses every entry
  const prefix = uniquePrefix('revempty');
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const token = await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'rita' });
  const opens = (node: TidingsServer) => RawClient.open(node, token).then((c) => { c.close(); return true; }, () => false);
  await a.revoke({ tokenId: 'rita' });
  t.notOk(await opens(a), 'node a refuses rita');

  await redis.stop();
  await redis.start();
  // Node a is back on the restarted Redis once it publishes again.
  const probe = await RawClient.open(a, await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'probe' }));
  t.teardown(() => probe.close());
  t.ok(await eventually(async () => (await probe.request({ t: 'pub', cache: 'app', topic: 'p', value: 'x' }))['t'] === 'ok'), 'node a reaches Redis again');
  t.notOk(await opens(a), 'node a still refuses rita');

  const c = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  t.ok(await eventually(async () => !(await opens(c))), 'a node started after the restart refuses rita too');
});
