/** A client resuming on a node whose copy of the topic lags behind its position while that node
 * cannot reach Redis (so it cannot catch up first): the `sub` is refused SERVER_UNAVAILABLE
 * (retryable), not served as a resume "from the future" (a false disc, then the window the client
 * already holds, then the same items again once the node catches up). Retried once Redis answers,
 * it gets exactly the items after its position. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, sharedRedisUrl, uniquePrefix, deletePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { eventually } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('resume on a lagging node that cannot reach Redis: refused for now, then exact', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('lagout');
  t.teardown(() => deletePrefix(url, prefix));
  const auth = { signingKeys: [generateSigningKey()] };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  // Node b reaches Redis through a relay the test can freeze (short timeouts: an outage is noticed fast).
  const relay = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => relay.close());
  const b = await startServer(t, {
    engine: 'redis', redisUrl: `redis://127.0.0.1:${relay.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } },
  });
  const open = async (server: typeof a, id: string) => {
    const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: id }));
    t.teardown(() => c.close());
    return c;
  };
  const onA = await open(a, 'x');
  const otherOnB = await open(b, 'y'); // node b serves the topic: it holds a copy
  await onA.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await otherOnB.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v1' });
  await otherOnB.items(1);
  // Node b loses Redis: it hears nothing more, and cannot ask.
  relay.freeze();
  for (let i = 2; i <= 4; i++) await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: `v${i}` });
  const last = (await onA.items(4)).at(-1)!;
  const after = { page: last['page'], seq: last['seq'] };
  // The client moves to node b and resumes from what it saw.
  const moved = await open(b, 'x2');
  const reply = await moved.request({ t: 'sub', cache: 'chat', topic: 'lag', after });
  t.match(reply, { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'refused for now: node b cannot know what follows the position');
  t.same(moved.frames.filter((f) => f['t'] === 'disc' || f['t'] === 'item'), [], 'no false disc, nothing replayed');
  // Redis comes back for node b; the client asks again (as the SDK does on SERVER_UNAVAILABLE).
  relay.heal();
  let ok: Frame | undefined;
  t.ok(await eventually(async () => {
    const r = await moved.request({ t: 'sub', cache: 'chat', topic: 'lag', after });
    if (r['t'] === 'ok') ok = r;
    return ok !== undefined;
  }), 'accepted once node b reaches Redis');
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v5' });
  const shown = () => moved.frames.filter((f) => f['t'] === 'disc' || f['t'] === 'item').map((f) => (f['t'] === 'disc' ? 'disc' : f['value']));
  t.ok(await eventually(() => shown().includes('v5')), 'the next item arrives');
  t.same(shown(), ['v5'], 'then exactly the items after the position');
});
