/** What nodes on one Redis share besides topics and data (docs/operations.md, "What is shared, and
 * what is per node"): a credential revoked on node A is refused on node B and B's connections
 * using it are closed; a node started later knows it too. Real nodes, real redis-server. */
import t, { type Test } from 'tap';
import { pubsub } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { startServer } from '../helpers/server.js';
import { deletePrefix, proxiedRedis, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { SseReader } from '../helpers/sse.js';
import { resetHoldingSubscribe } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
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

/** A grpc-web Subscribe (the web SDK's transport): `opened` at its first message, `ended` with the
 * status and message of its trailer. */
function grpcWebSubscribe(httpUrl: string, token: string, cache: string, topic: string) {
  const message = new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: cache, topic }).serialize();
  const body = Buffer.alloc(5 + message.byteLength);
  body.writeUInt32BE(message.byteLength, 1);
  body.set(message, 5);
  const abort = new AbortController();
  let opened!: () => void;
  const started = new Promise<void>((resolve) => { opened = resolve; });
  const ended = (async () => {
    const res = await fetch(`${httpUrl}/cache_client.pubsub.Pubsub/Subscribe`, {
      method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', authorization: token }, body: body.toString('base64'), signal: abort.signal,
    });
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      // Each frame is base64 of its own: read them all again as more arrives.
      let bytes = Buffer.alloc(0);
      for (const part of text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []) bytes = Buffer.concat([bytes, Buffer.from(part, 'base64')]);
      while (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt32BE(1)) {
        const frame = bytes.subarray(5, 5 + bytes.readUInt32BE(1));
        if (bytes[0] === 0) opened();
        else return decodeURIComponent(/grpc-message:(.*)\r\n/.exec(frame.toString())?.[1] ?? '') + ` (status ${/grpc-status:(\d+)/.exec(frame.toString())?.[1]})`;
        bytes = bytes.subarray(5 + frame.length);
      }
    }
    return 'ended without a trailer';
  })().catch((err: Error) => `failed: ${err.message}`);
  return { opened: started, ended, close: () => abort.abort() };
}

/** Every kind of open stream of `tokenId` on `node`, subscribed to chat/quiet; `ended` answers how
 * each ended, in words the assertions compare. */
async function streamsOf(t: Test, node: TidingsServer, token: string, tokenId: string) {
  const auth = { authorization: `Bearer ${token}` };
  const ws = await open(t, node, token);
  await ws.ok({ t: 'sub', cache: 'chat', topic: 'quiet' });
  const sse = await SseReader.open(`${node.httpUrl}/v1/sse?cache=chat&topic=quiet`, auth);
  t.teardown(() => sse.close());
  await sse.until((r) => r.events.some((e) => e.event === 'ready'));
  const poll = fetch(`${node.httpUrl}/v1/poll?cache=chat&topic=quiet&waitMs=60000`, { headers: auth });
  const Client = makeGenericClientConstructor(pubsub.cache_client.pubsub.UnimplementedPubsubService.definition as ServiceDefinition, 'cache_client.pubsub.Pubsub');
  const grpc = new Client(`127.0.0.1:${node.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => any> & { close(): void };
  t.teardown(() => grpc.close());
  const md = new Metadata();
  md.set('authorization', token);
  const call = grpc['Subscribe']!(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'quiet' }), md);
  const grpcEnded = new Promise<string>((resolve) => call.on('error', (err: { code: number; details: string }) => resolve(`${err.details} (status ${err.code})`)));
  await new Promise((resolve) => call.once('data', resolve));
  const web = grpcWebSubscribe(node.httpUrl, token, 'chat', 'quiet');
  t.teardown(() => web.close());
  await web.opened;
  await waitFor('every stream to hold its session', () => [...node.broker.sessions.values()].filter((s) => s.grant?.tokenId === tokenId).length === 5);
  return {
    ended: async () => ({
      websocket: `close ${(await ws.waitClosed(30_000)).code}`,
      sse: await sse.until((r) => r.ended, 30_000).then(() => `bye ${sse.events.at(-1)?.json?.code}`),
      'long-poll': await poll.then(async (res) => `${res.status} ${((await res.json()) as { error: { message: string } }).error.message}`),
      grpc: await grpcEnded,
      'grpc-web': await web.ended,
    }),
  };
}

const revokedEverywhere = {
  websocket: 'close 4504', sse: 'bye 4504', 'long-poll': '401 credential revoked',
  grpc: `credential revoked (status ${status.UNAUTHENTICATED})`, 'grpc-web': `credential revoked (status ${status.UNAUTHENTICATED})`,
};

t.test('a credential revoked on node A ends every kind of open stream of it on node B, also when B\'s Redis link was cut during the revocation', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'revoke-streams');
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { connectTimeoutMs: 300, reconnectMaxMs: 200 }, momento: { enabled: true, port: 0 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });

  const ivan = await streamsOf(t, b, await tokenFor(a, scope, { tokenId: 'ivan' }), 'ivan');
  await a.revoke({ tokenId: 'ivan' });
  t.same(await ivan.ended(), revokedEverywhere, 'link up: each stream on B ends, saying the credential was revoked');

  const judy = await streamsOf(t, b, await tokenFor(a, scope, { tokenId: 'judy' }), 'judy');
  // B's links drop; its subscriber's SUBSCRIBE to the revocation channel is held from Redis, so B
  // cannot hear the revocation made meanwhile: it must find it when it reloads.
  const subscriberLink = await resetHoldingSubscribe(proxy, Buffer.from(`${prefix}r:\u0000channel`));
  if (subscriberLink === undefined) { t.fail('B\'s subscriber did not send its SUBSCRIBE again'); return; }
  await a.revoke({ tokenId: 'judy' });
  proxy.releaseRequests(subscriberLink);
  t.same(await judy.ended(), revokedEverywhere, 'link cut during the revocation: each stream on B ends once B is back');
});
