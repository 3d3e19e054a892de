import t from 'tap';
import WebSocket from 'ws';
import { startServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import {
  connect, AuthClient, CacheClient, Connection, ExpiresIn, PermissionScopes, TopicClient, TopicItem, TopicPublish, TopicSubscribe,
  ListFetch, ValueRead, type ConnectionOptions, type WebSocketConstructor,
} from '../../src/client/index.js';
import type { TidingsServer } from '../../src/index.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const scope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat'));

async function client(t: { teardown(fn: () => void): void }, server: TidingsServer, options: Partial<ConnectionOptions> = {}) {
  const token = options.tokenProvider ? undefined : (await server.auth.mintDisposableToken({ scope, expiresInSec: 300, tokenId: 'sdk-user' })).token;
  const c = connect({ url: server.httpUrl, webSocket: WS, reconnectBaseMs: 10, reconnectMaxMs: 50, ...(token ? { token } : {}), ...options });
  t.teardown(() => c.close());
  return c;
}

/** Collects items of a subscription and resolves when `n` arrived. */
function collector() {
  const items: TopicItem[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  return {
    items,
    onItem(item: TopicItem) { items.push(item); if (waiting && items.length >= waiting.n) waiting.resolve(); },
    until(n: number, ms = 5000): Promise<void> {
      if (items.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${items.length} of ${n} items`)), ms);
        waiting = { n, resolve: () => { clearTimeout(timer); resolve(); } };
      });
    },
  };
}

t.test('sdk - publish and subscribe, text and binary, Momento-shaped items', async (t) => {
  const server = await startServer(t);
  const { topics } = await client(t, server);
  const got = collector();
  const sub = await topics.subscribe('chat', 'room', { onItem: got.onItem });
  t.ok(sub instanceof TopicSubscribe.Subscription, 'subscribed');
  const pub = await topics.publish('chat', 'room', 'hello');
  t.ok(pub instanceof TopicPublish.Success);
  await topics.publish('chat', 'room', new Uint8Array([1, 2, 3]));
  await got.until(2);
  t.equal(got.items[0]!.valueString(), 'hello');
  t.equal(got.items[0]!.tokenId(), 'sdk-user');
  t.equal(got.items[0]!.sequenceNumber(), 1);
  t.ok(got.items[0]!.sequencePage() > 0);
  t.same([...got.items[1]!.valueUint8Array()], [1, 2, 3]);
  t.ok(got.items[1]!.value() instanceof Uint8Array);
});

t.test('sdk - many local subscribers of one topic share one server subscription', async (t) => {
  const server = await startServer(t);
  const { topics } = await client(t, server);
  const a = collector();
  const b = collector();
  const subA = await topics.subscribe('chat', 'shared', { onItem: a.onItem });
  await topics.subscribe('chat', 'shared', { onItem: b.onItem });
  await topics.publish('chat', 'shared', 'x');
  await Promise.all([a.until(1), b.until(1)]);
  const sessions = [...server.broker.sessions.values()];
  t.equal(sessions[0]!.subscriptions.size, 1, 'one server-side subscription');
  (subA as TopicSubscribe.Subscription).unsubscribe();
  await topics.publish('chat', 'shared', 'y');
  await b.until(2);
  t.equal(a.items.length, 1, 'the unsubscribed listener gets nothing more');
});

t.test('sdk - reconnect resumes every subscription with no loss and no duplicate', async (t) => {
  const server = await startServer(t);
  const sdk = await client(t, server);
  const got = collector();
  let lost = 0;
  await sdk.topics.subscribe('chat', 'resume', { onItem: got.onItem, onConnectionLost: () => { lost++; } });
  const publisher = await client(t, server);
  for (let i = 1; i <= 5; i++) await publisher.topics.publish('chat', 'resume', `m${i}`);
  await got.until(5);
  const subscriberSession = [...server.broker.sessions.values()].find((s) => s.subscriptions.size > 0)!;
  subscriberSession.connection.close(4000, 'test: drop the connection');
  for (let i = 6; i <= 10; i++) await publisher.topics.publish('chat', 'resume', `m${i}`);
  await got.until(10);
  t.same(got.items.map((i) => i.valueString()), Array.from({ length: 10 }, (_, i) => `m${i + 1}`), 'every item once, in order');
  t.equal(lost, 1, 'onConnectionLost fired once');
  await publisher.topics.publish('chat', 'resume', 'm11');
  await got.until(11);
});

t.test('sdk - resumeFrom a saved position, and discontinuities surface', async (t) => {
  const server = await startServer(t, { config: { topics: { windowItems: 3 } } });
  const sdk = await client(t, server);
  const first = (await sdk.topics.publish('chat', 'saved', 'a')) as TopicPublish.Success;
  for (const v of ['b', 'c', 'd', 'e']) await sdk.topics.publish('chat', 'saved', v);
  const got = collector();
  const gaps: number[][] = [];
  await sdk.topics.subscribe('chat', 'saved', {
    resumeFrom: { page: first.page, seq: 1 },
    onItem: got.onItem,
    onDiscontinuity: (d) => gaps.push([d.lastSequenceNumber(), d.newSequenceNumber()]),
  });
  await got.until(3);
  t.same(gaps, [[1, 3]], 'b fell out of the window');
  t.same(got.items.map((i) => i.valueString()), ['c', 'd', 'e']);
});

t.test('sdk - refusals come back as typed Error responses', async (t) => {
  const server = await startServer(t);
  const token = (await server.auth.mintDisposableToken({ scope: PermissionScopes.topicSubscribeOnly('chat', 'only'), expiresInSec: 60 })).token;
  const sdk = connect({ url: server.wsUrl, token, webSocket: WS });
  t.teardown(() => sdk.close());
  const pub = await sdk.topics.publish('chat', 'only', 'nope');
  t.ok(pub instanceof TopicPublish.Error);
  t.equal((pub as TopicPublish.Error).errorCode(), 'PERMISSION_ERROR');
  const sub = await sdk.topics.subscribe('chat', 'other');
  t.ok(sub instanceof TopicSubscribe.Error);
  t.equal((sub as TopicSubscribe.Error).errorCode(), 'PERMISSION_ERROR');
  const big = await sdk.topics.publish('chat', 'only', 'x'.repeat(70_000));
  t.equal((big as TopicPublish.Error).errorCode(), 'LIMIT_EXCEEDED_ERROR', 'fields are validated before the scope');
  t.equal((big as TopicPublish.Error).limitCause(), 'value_size_limit_exceeded');
  sdk.close();
  // Every notify call too (docs/client.md, "Calls never throw for server or network errors").
  const unregistered = await sdk.notify.unregisterPush('https://push.example/x').catch((err: Error) => `rejected: ${err.message}`);
  t.equal(typeof unregistered === 'object' && unregistered.type === 'Error' && unregistered.errorCode(), 'CONNECTION_ERROR', `unregisterPush: ${String(unregistered)}`);
});

t.test('sdk - offline requests wait in a bounded queue; timeouts and cancellation are typed', async (t) => {
  const server = await startServer(t);
  const token = (await server.auth.mintDisposableToken({ scope, expiresInSec: 60 })).token;
  const port = server.port;
  await server.close();
  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token, webSocket: WS, reconnectBaseMs: 20, reconnectMaxMs: 40, maxQueuedRequests: 2, requestTimeoutMs: 300 });
  t.teardown(() => connection.close());
  const topics = new TopicClient({ connection });
  const queued = [topics.publish('chat', 'x', '1'), topics.publish('chat', 'x', '2')];
  const overflow = await topics.publish('chat', 'x', '3');
  t.equal((overflow as TopicPublish.Error).errorCode(), 'CONNECTION_ERROR', 'a full queue refuses at once');
  const results = await Promise.all(queued);
  t.same(results.map((r) => (r as TopicPublish.Error).errorCode()), ['CONNECTION_ERROR', 'CONNECTION_ERROR'], 'queued requests fail, unsent, when the server never comes back');
  t.match((results[0] as TopicPublish.Error).message(), /not sent within 300 ms/);
  const controller = new AbortController();
  const pending = topics.publish('chat', 'x', '4', { signal: controller.signal, timeoutMs: 5000 });
  controller.abort();
  t.equal(((await pending) as TopicPublish.Error).errorCode(), 'CANCELLED_ERROR');
});

t.test('sdk - a sub whose reply is late is asked again after an unsub: the subscription is made, not refused ALREADY_EXISTS', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await client(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, transport: 'websocket', requestTimeoutMs: 400 });
  await sdk.connection.ready(5000);
  // Counts the subscriptions the server makes (each `sub` it applies reaches the engine).
  const topics: import('../../src/index.js').TopicEngine = server.engine.topics;
  const subscribe = topics.subscribe.bind(topics);
  let made = 0;
  topics.subscribe = (cache, topic, who, after) => { if (topic === 'late') made++; return subscribe(cache, topic, who, after); };
  proxy.hold(0); // the server applies what the SDK sends; its replies wait
  const got = collector();
  const subscribing = sdk.topics.subscribe('chat', 'late', { onItem: got.onItem, timeoutMs: 10_000 });
  await waitFor('the sub asked again after its timeout', () => made >= 2);
  proxy.release(0);
  const sub = await subscribing;
  t.equal(sub.type, 'Subscription', `the late first sub was ended before asking again (${sub})`);
  await sdk.topics.publish('chat', 'late', 'one', { timeoutMs: 5000 });
  await got.until(1);
  t.same(got.items.map((i) => i.valueString()), ['one'], 'subscribed once');
});

t.test('sdk - queued publishes are sent once the server is reachable', async (t) => {
  const first = await startServer(t);
  const port = first.port;
  const signingKey = first.config.auth.signingKeys[0]!;
  const token = (await first.auth.mintDisposableToken({ scope, expiresInSec: 60 })).token;
  await first.close();
  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token, webSocket: WS, reconnectBaseMs: 20, reconnectMaxMs: 40 });
  t.teardown(() => connection.close());
  const topics = new TopicClient({ connection });
  const pending = topics.publish('chat', 'later', 'queued while offline');
  const second = await startServer(t, { config: { server: { port }, auth: { signingKeys: [signingKey] } } });
  const result = await pending;
  t.ok(result instanceof TopicPublish.Success, 'sent after the reconnect');
  t.equal(second.port, port);
  // Cancelled before it was made (the signal fired already): never sent, on an open link too.
  const cancelled = await topics.publish('chat', 'later', 'cancelled already', { signal: AbortSignal.abort() });
  t.equal(cancelled instanceof TopicPublish.Error && cancelled.errorCode(), 'CANCELLED_ERROR', `refused (${cancelled})`);
  const next = await topics.publish('chat', 'later', 'next');
  t.equal((next as TopicPublish.Success).seq, (result as TopicPublish.Success).seq + 1, 'the cancelled publish was not applied');
});

t.test('sdk - cache client: lists and scalars with Momento responses', async (t) => {
  const server = await startServer(t);
  const { cache } = await client(t, server);
  await cache.listConcatenateBack('chat', 'l', ['1', '2', '3']);
  const pushed = await cache.listConcatenateBack('chat', 'l', ['4', '5', '6'], { truncateFrontToSize: 5 });
  t.equal((pushed as { listLength(): number }).listLength(), 5);
  const fetched = await cache.listFetch('chat', 'l');
  t.ok(fetched instanceof ListFetch.Hit);
  t.same((fetched as ListFetch.Hit).valueListString(), ['2', '3', '4', '5', '6']);
  t.ok((await cache.listFetch('chat', 'none')) instanceof ListFetch.Miss);
  await cache.set('chat', 'k', 'v', { ttl: 60 });
  const got = await cache.get('chat', 'k');
  t.equal((got as ValueRead.Hit).valueString(), 'v');
  t.ok((await cache.get('chat', 'missing')) instanceof ValueRead.Miss);
});

t.test('sdk - auth client mints tokens over HTTP from an API key', async (t) => {
  const server = await startServer(t);
  const apiKey = (await server.auth.mintApiKey({ scope, expiresInSec: null })).token;
  const auth = new AuthClient({ url: server.httpUrl, apiKey });
  const ok = await auth.generateDisposableToken(PermissionScopes.topicSubscribeOnly('chat', 'a'), ExpiresIn.minutes(5), { tokenId: 'x' });
  t.equal(ok.type, 'Success');
  if (ok.type === 'Success') {
    t.ok(ok.expiresAt.epoch() > Date.now() / 1000 + 200);
    const grant = await server.auth.verify(ok.authToken);
    t.equal(grant.tokenId, 'x');
  }
  const wider = await auth.generateDisposableToken(PermissionScopes.allDataReadWrite(), ExpiresIn.minutes(5));
  t.equal(wider.type, 'Error');
  if (wider.type === 'Error') t.equal(wider.errorCode(), 'PERMISSION_ERROR');
  const never = await auth.generateDisposableToken(scope, ExpiresIn.never());
  t.equal(never.type === 'Error' && never.errorCode(), 'INVALID_ARGUMENT_ERROR');
});

t.test('sdk - a refused credential closes the connection for good with AUTHENTICATION_ERROR', async (t) => {
  const server = await startServer(t);
  const connection = new Connection({ url: server.wsUrl, token: 'garbage', webSocket: WS });
  t.teardown(() => connection.close());
  const closed = await new Promise<{ state: string; error?: { code: string } }>((resolve) => {
    connection.onStatus((s) => { if (s.state === 'closed') resolve(s as never); });
  });
  t.equal(closed.error?.code, 'AUTHENTICATION_ERROR');
  const topics = new TopicClient({ connection });
  t.equal(((await topics.publish('chat', 'x', 'y')) as TopicPublish.Error).errorCode(), 'CONNECTION_ERROR');
  await t.rejects(connection.ready(), { code: 'AUTHENTICATION_ERROR' }, 'ready() says why the connection closed');
});

void CacheClient;
