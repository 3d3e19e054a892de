/** A revocation whose reply was lost on the way back from Redis (the script ran and published it;
 * the node that asked got TIMEOUT_ERROR): it is in force on every node, the asking one included.
 * Before, the asking node ignored its own node's message on the revocation channel (it mirrors its
 * own entries once the script answers, which here it never did), so the revoked credential went
 * on working on exactly that node, and its open connections stayed, until its subscriber link
 * happened to reconnect. The proxy keeps Redis's answers on that node's command connection. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { eventually } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

t.test('a revocation that ran in Redis but whose reply was lost is in force on the asking node too', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('revlost');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const auth = { signingKeys: [generateSigningKey()] };
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 200, linkTimeoutMs: 10_000 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  const token = await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'rita' });
  const opens = (node: TidingsServer) => RawClient.open(node, token).then((c) => { c.close(); return true; }, () => false);
  const open = await RawClient.open(a, token);
  t.teardown(() => open.close());

  proxy.hold(0);
  await t.rejects(a.revoke({ tokenId: 'rita' }), { code: 'TIMEOUT_ERROR' }, 'node a could not tell');
  proxy.release(0);

  t.ok(await eventually(async () => !(await opens(b))), 'node b refuses rita');
  t.ok(await eventually(async () => !(await opens(a))), 'node a refuses rita too');
  await open.waitClosed();
  t.pass('and closed rita\'s open connection on node a');
});
