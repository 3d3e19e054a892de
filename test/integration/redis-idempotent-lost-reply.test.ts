/** An idempotent write whose reply was lost with the link to Redis (the script ran, its answer
 * never came back), retried after the link is back, on the same node or on another one: applied
 * once, and the retry hears the first result (docs/protocol.md, "Idempotent writes"). The proxy
 * keeps Redis's answers on node a's command connection, so "ran but unanswered" is made, not hoped
 * for; the link is then taken for dead (redis.linkTimeoutMs) and reconnects. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

const RETRYABLE = /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/;

async function setup(t: Test) {
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('idemcut');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const auth = { signingKeys: [generateSigningKey()] };
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('app'), PermissionScopes.topicPublishSubscribe('app', '*'));
  const open = async (node: TidingsServer) => {
    const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId: 'writer' }));
    t.teardown(() => c.close());
    return c;
  };
  const onA = await open(a);
  const onB = await open(b);
  const watcher = await open(b);
  return { proxy, onA, onB, watcher };
}

/** Sends `frame` on node a with Redis's answers kept from it: a retryable error, though Redis ran it. */
async function lostReply(t: Test, proxy: Awaited<ReturnType<typeof setup>>['proxy'], onA: RawClient, frame: Frame): Promise<void> {
  proxy.hold(0);
  const reply = await onA.request(frame);
  t.match(reply, { t: 'err', e: { code: RETRYABLE } }, `node a could not tell: ${JSON.stringify(reply['e'])}`);
  proxy.release(0);
}

for (const retryOn of ['a', 'b'] as const) {
  t.test(`pubAppend and listPushBack whose replies were lost, retried on node ${retryOn}: applied once`, async (t) => {
    if (!requireRedis(t)) return;
    const { proxy, onA, onB, watcher } = await setup(t);
    const retrier = retryOn === 'a' ? onA : onB;
    await watcher.ok({ t: 'sub', cache: 'app', topic: 'room' });
    const first = await onA.ok({ t: 'pubAppend', cache: 'app', topic: 'room', list: 'history', value: 'zero' });

    const append = { t: 'pubAppend', cache: 'app', topic: 'room', list: 'history', value: 'one', idempotencyKey: 'append-1' };
    await lostReply(t, proxy, onA, append);
    const push = { t: 'listPushBack', cache: 'app', list: 'log', value: 'x', idempotencyKey: 'push-1' };
    await lostReply(t, proxy, onA, push);

    // Retried once the node can reach Redis again (a's link reconnects by itself).
    let again: Frame = {};
    await waitFor('the retry is answered ok', async () => (again = await retrier.request(append))['t'] === 'ok');
    t.match(again['r'], { seq: first['seq'] + 1, page: first['page'], length: 2 }, 'the retry hears the first result');
    t.match(await retrier.ok(push), { length: 1 }, 'the list push too');
    t.match(await onB.ok({ t: 'listFetch', cache: 'app', list: 'history' }), { values: ['zero', 'one'] }, 'one element appended');
    t.match(await onB.ok({ t: 'listFetch', cache: 'app', list: 'log' }), { values: ['x'] }, 'one element pushed');
    t.match(await watcher.items(2), [{ value: 'zero' }, { value: 'one', seq: first['seq'] + 1 }]);
    t.same(await watcher.drain('item', 100), [], 'one item published');
  });
}
