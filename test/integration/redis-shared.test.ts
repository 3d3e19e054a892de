/** What nodes on one Redis share besides topics and data (docs/operations.md, "What is shared, and
 * what is per node"): a credential revoked on node A is refused on node B and B's connections
 * using it are closed; a node started later knows it too. Real nodes, real redis-server. */
import t, { type Test } from 'tap';
import { status } from '@grpc/grpc-js';
import { startServer } from '../helpers/server.js';
import { deletePrefix, proxiedRedis, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { openStreams } from '../helpers/streams.js';
import { resetHoldingSubscribe } from '../helpers/tcp-proxy.js';
import { ManualClock, PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
const hello = (token: string) => ({ t: 'hello', versions: [1], token });

async function deployment(t: Test) {
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('shared');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { auth: { signingKeys: [generateSigningKey()] } };
  const node = () => startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  return { node };
}

async function open(t: Test, server: TidingsServer, token: string): Promise<RawClient> {
  const c = await RawClient.open(server, token);
  t.teardown(() => c.close());
  return c;
}

t.test('a credential revoked on node A: its connections on node B get bye 4504, and it is refused on B and on a node started later', async (t) => {
  if (!requireRedis(t)) return;
  const { node } = await deployment(t);
  const [a, b] = [await node(), await node()];
  const mallory = await tokenFor(a, scope, { tokenId: 'mallory' });
  const bobToken = await tokenFor(a, scope, { tokenId: 'bob' });
  const onB = await open(t, b, mallory);
  const bob = await open(t, b, bobToken);

  await a.revoke({ tokenId: 'mallory' });
  t.match(await onB.next((f) => f['t'] === 'bye'), { code: 4504, reconnect: false, reason: 'credential revoked' }, 'the connection on node B is told');
  t.equal((await onB.waitClosed()).code, 4504, 'and closed');
  const again = await RawClient.connect(b.wsUrl);
  t.teardown(() => again.close());
  t.match(await again.request(hello(mallory)), { t: 'err', e: { code: 'AUTHENTICATION_ERROR', message: 'token has been revoked' } }, 'node B refuses it at hello');
  t.match(await bob.ok({ t: 'ping' }), {}, 'another tokenId on node B is untouched');

  // By one credential (jti), from node B this time; a node that starts afterwards loads both.
  const first = await tokenFor(a, scope, { tokenId: 'carol' });
  await b.revoke({ token: first });
  const c = await node();
  for (const [token, what] of [[mallory, 'by tokenId'], [first, 'by jti']] as const) {
    const late = await RawClient.connect(c.wsUrl);
    t.teardown(() => late.close());
    t.match(await late.request(hello(token)), { t: 'err', e: { code: 'AUTHENTICATION_ERROR' } }, `a node started later refuses the one revoked ${what}`);
  }
  const second = await tokenFor(a, scope, { tokenId: 'carol' });
  t.match(await (await open(t, a, second)).ok({ t: 'ping' }), {}, 'another credential of carol still works (revoked by jti only)');
});

t.test('an idempotent write retried on another node than its first attempt is answered, not applied twice', async (t) => {
  if (!requireRedis(t)) return;
  const { node } = await deployment(t);
  const [a, b] = [await node(), await node()];
  const all = PermissionScopes.combine(scope, PermissionScopes.cacheReadWrite('chat'));
  // The same tokenId on both nodes: a client that reconnected elsewhere after a cut link.
  const first = await open(t, a, await tokenFor(a, all, { tokenId: 'alice' }));
  const retry = await open(t, b, await tokenFor(a, all, { tokenId: 'alice' }));
  const watcher = await open(t, b, await tokenFor(a, all, { tokenId: 'watcher' }));
  await watcher.ok({ t: 'sub', cache: 'chat', topic: 'room' });

  const pub = { t: 'pub', cache: 'chat', topic: 'room', value: 'once', idempotencyKey: 'pub-1' };
  const applied = await first.ok(pub);
  t.same(await retry.ok(pub), applied, 'pub: node b answers what node a applied');
  const pubAppend = { t: 'pubAppend', cache: 'chat', topic: 'room', list: 'history', value: 'kept', idempotencyKey: 'pa-1' };
  const appended = await first.ok(pubAppend);
  t.same(await retry.ok(pubAppend), appended, 'pubAppend too');
  const push = { t: 'listPushBack', cache: 'chat', list: 'log', value: 'x', idempotencyKey: 'push-1' };
  t.same(await retry.ok(push), { length: 1 }, 'a list push first applied on node b');
  t.same(await first.ok(push), { length: 1 }, 'answered on node a');
  const increment = { t: 'increment', cache: 'chat', key: 'visits', amount: 5, idempotencyKey: 'inc-1' };
  t.same(await first.ok(increment), { value: 5 }, 'an increment on node a');
  t.same(await retry.ok(increment), { value: 5 }, 'its retry on node b is answered, not added again');
  const lock = { t: 'setIf', cache: 'chat', key: 'lock', value: 'alice', condition: 'absent', idempotencyKey: 'lock-1' };
  t.same(await first.ok(lock), { stored: true });
  t.same(await retry.ok(lock), { stored: true }, 'a setIf retried elsewhere hears its own "stored"');
  t.same(await watcher.ok({ t: 'get', cache: 'chat', key: 'visits' }), { hit: true, value: '5' }, 'one increment applied');
  const score = { t: 'sortedSetIncrementScore', cache: 'chat', sortedSet: 'board', value: 'ada', amount: 1.5, idempotencyKey: 'score-1' };
  t.same(await first.ok(score), { score: 1.5 }, 'a score increment on node a');
  t.same(await retry.ok(score), { score: 1.5 }, 'its retry on node b is answered, not added again');
  t.same(await watcher.ok({ t: 'sortedSetGetScores', cache: 'chat', sortedSet: 'board', values: ['ada'] }), { hit: true, scores: [1.5] }, 'one score increment applied');

  t.same((await watcher.items(2)).map((f) => f['value']), ['once', 'kept'], 'subscribers got each item once');
  t.same(await watcher.drain('item', 100), [], 'and nothing twice');
  t.same(await watcher.ok({ t: 'listFetch', cache: 'chat', list: 'history' }), { hit: true, values: ['kept'] }, 'one history element');
  t.same(await watcher.ok({ t: 'listFetch', cache: 'chat', list: 'log' }), { hit: true, values: ['x'] }, 'one list element');
  t.match(await retry.ok({ ...pub, idempotencyKey: 'pub-2' }), { seq: applied['seq'] + 2 }, 'another key is another write');
  const other = await open(t, b, await tokenFor(a, all, { tokenId: 'bob' }));
  t.match(await other.ok(pub), { seq: applied['seq'] + 3 }, 'keys are per tokenId: bob\'s "pub-1" is his own');
  // A tokenId and an idempotencyKey may both hold NUL, the separator of the key Redis remembers
  // results under: ("bob\0pub\0x", "k") and ("bob", "x\0pub\0k") are two writes on any node.
  const nulled = await open(t, a, await tokenFor(a, all, { tokenId: 'bob\u0000pub\u0000x' }));
  const nulledSeq = (await nulled.ok({ ...pub, idempotencyKey: 'k' }))['seq'];
  t.match(await other.ok({ ...pub, idempotencyKey: 'x\u0000pub\u0000k' }), { seq: nulledSeq + 1 }, 'a NUL in a tokenId or a key makes no other pair\'s key');
});

/** The key of an idempotent write is current only while that write runs (IdempotencyContext.run):
 * one refused before it reached the engine (a blank topic) leaves it to no later write, whoever
 * sends it. Otherwise the next write on the node, here bob's plain pub, is stored in Redis under
 * alice's key, and alice's corrected retry is answered with bob's result and never published. */
t.test('an idempotent write refused before the engine took its key: the key goes to no other write', async (t) => {
  if (!requireRedis(t)) return;
  const { node } = await deployment(t);
  const [a, b] = [await node(), await node()];
  const alice = await open(t, a, await tokenFor(a, scope, { tokenId: 'alice' }));
  const bob = await open(t, a, await tokenFor(a, scope, { tokenId: 'bob' }));
  const retry = await open(t, b, await tokenFor(a, scope, { tokenId: 'alice' }));
  const watcher = await open(t, b, await tokenFor(a, scope, { tokenId: 'watcher' }));
  await watcher.ok({ t: 'sub', cache: 'chat', topic: 'room' });

  const pub = { t: 'pub', cache: 'chat', topic: 'room', value: 'from alice', idempotencyKey: 'k-1' };
  t.match(await alice.request({ ...pub, topic: ' ' }), { t: 'err', e: { code: 'INVALID_ARGUMENT_ERROR' } }, 'refused: a blank topic');
  const bobs = await bob.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'from bob' });
  const alices = await retry.ok(pub);
  t.equal(alices['seq'], bobs['seq'] + 1, 'alice\'s retry is a write of its own, after bob\'s');
  t.same((await watcher.items(2)).map((f) => f['value']), ['from bob', 'from alice'], 'both items published');
});

t.test('/metrics with engine redis: the store figures are Redis\'s own (keys, used_memory, maxmemory)', async (t) => {
  if (!requireRedis(t)) return;
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine: 'redis', clock, config: { server: { metricsAccess: 'open' } } });
  const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  const scrape = async () => (await fetch(`${server.httpUrl}/metrics`)).text();
  const c = await open(t, server, await tokenFor(server, PermissionScopes.cacheReadWrite('chat')));
  await c.ok({ t: 'listPushBack', cache: 'chat', list: 'l', value: 'x' });
  clock.advance(5000); // the figures are refreshed when older than 5 s (on the Clock)
  let text = await scrape();
  for (let i = 0; i < 40 && !(gauge(text, 'tidings_store_items') >= 1); i++) {
    await new Promise((r) => setTimeout(r, 25));
    text = await scrape();
  }
  t.ok(gauge(text, 'tidings_store_items') >= 1, `tidings_store_items counts the keys of its database (${gauge(text, 'tidings_store_items')})`);
  t.ok(gauge(text, 'tidings_store_bytes') > 0, `tidings_store_bytes is Redis's used_memory (${gauge(text, 'tidings_store_bytes')})`);
  t.ok(gauge(text, 'tidings_store_limit_bytes') >= 0, 'tidings_store_limit_bytes is maxmemory (0: no bound)');
});

const revokedEverywhere = {
  websocket: 'close 4504', 'sdk stream': 'bye 4504', sse: 'bye 4504', 'long-poll': '401 credential revoked',
  grpc: `credential revoked (status ${status.UNAUTHENTICATED})`, 'grpc-web': `credential revoked (status ${status.UNAUTHENTICATED})`,
};

t.test('a credential revoked on node A ends every kind of open stream of it on node B, also when B\'s Redis link was cut during the revocation', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'revoke-streams');
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { connectTimeoutMs: 300, reconnectMaxMs: 200 }, momento: { enabled: true, port: 0 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });

  const ivan = await openStreams(t, b, await tokenFor(a, scope, { tokenId: 'ivan' }), 'ivan');
  await a.revoke({ tokenId: 'ivan' });
  t.same(await ivan.ended(), revokedEverywhere, 'link up: each stream on B ends, saying the credential was revoked');

  const judy = await openStreams(t, b, await tokenFor(a, scope, { tokenId: 'judy' }), 'judy');
  // B's links drop; its subscriber's SUBSCRIBE to the revocation channel is held from Redis, so B
  // cannot hear the revocation made meanwhile: it must find it when it reloads.
  const subscriberLink = await resetHoldingSubscribe(proxy, Buffer.from(`${prefix}r:\u0000channel`));
  if (subscriberLink === undefined) { t.fail('B\'s subscriber did not send its SUBSCRIBE again'); return; }
  await a.revoke({ tokenId: 'judy' });
  proxy.releaseRequests(subscriberLink);
  t.same(await judy.ended(), revokedEverywhere, 'link cut during the revocation: each stream on B ends once B is back');
});
