/** Offline requests: made while disconnected they wait in a queue bounded by count
 * (maxQueuedRequests) and encoded bytes (maxQueuedBytes), go out in order on reconnect, and a
 * request that does not fit, outlives its timeout or is cancelled fails with a typed error, never
 * silently dropped. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached, chatScope, WS } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { Connection, TopicClient, CacheClient, TopicPublish, TopicSubscribe, CacheGet, ClientCause } from '../../src/client/index.js';

t.test('offline - publishes made while disconnected wait in a bounded queue and go out in order on reconnect', async (t) => {
  const first = await startServer(t);
  const port = first.port;
  const signingKey = first.config.auth.signingKeys[0]!;
  const token = (await first.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'offline' })).token;
  const watcher = await sdkFor(t, first);
  await first.close();

  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token, webSocket: WS, reconnectBaseMs: 20, reconnectMaxMs: 40, maxQueuedRequests: 3 });
  t.teardown(() => connection.close());
  const topics = new TopicClient({ connection });
  const queued = ['q1', 'q2', 'q3'].map((v) => topics.publish('chat', 'later', v));
  const overflow = await topics.publish('chat', 'later', 'q4');
  t.ok(overflow instanceof TopicPublish.Error);
  t.equal((overflow as TopicPublish.Error).errorCode(), 'CONNECTION_ERROR', 'a full queue refuses at once, never drops silently');
  t.match((overflow as TopicPublish.Error).message(), /3 requests are already waiting/);
  t.equal((overflow as TopicPublish.Error).limitCause(), 'client_queue_full', 'a cause tells "queue full, try later" from a lost link');
  t.equal((overflow as TopicPublish.Error).innerException().limitCause, ClientCause.QUEUE_FULL);

  const second = await startServer(t, { config: { server: { port }, auth: { signingKeys: [signingKey] } } });
  const got = itemCollector();
  // The watcher reconnects to the new server on its own and subscribes from the start of the page.
  await statusReached(watcher.connection, 'open');
  await watcher.topics.subscribe('chat', 'later', { ...got.callbacks, resumeFrom: { page: 0, seq: 0 } });
  const results = await Promise.all(queued);
  t.ok(results.every((r) => r instanceof TopicPublish.Success), 'every queued publish was sent and acknowledged');
  t.same(results.map((r) => (r as TopicPublish.Success).seq), [1, 2, 3], 'in the order they were made');
  await got.items.until(3);
  t.same(got.values(), ['q1', 'q2', 'q3']);
  t.same(got.items.events.map((i) => i.tokenId()), ['offline', 'offline', 'offline']);
  t.equal(second.port, port);
});

t.test('offline - maxQueuedRequests: 0 rejects every request made while disconnected', async (t) => {
  const server = await startServer(t);
  const port = server.port;
  await server.close();
  const token = 'unused-the-server-is-down';
  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token, webSocket: WS, maxQueuedRequests: 0, reconnectBaseMs: 20 });
  t.teardown(() => connection.close());
  const cache = new CacheClient({ connection });
  const res = await cache.get('chat', 'k');
  t.ok(res instanceof CacheGet.Error);
  t.equal((res as CacheGet.Error).errorCode(), 'CONNECTION_ERROR');
  t.match((res as CacheGet.Error).message(), /not connected .*get was not sent/);
  t.equal((res as CacheGet.Error).limitCause(), 'client_queue_full', 'a queue of size 0 refuses with the same cause');
});

t.test('offline - a queued request that outlives its timeout fails as not sent; subscribe too', async (t) => {
  const server = await startServer(t);
  const port = server.port;
  await server.close();
  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token: 'x', webSocket: WS, requestTimeoutMs: 150, reconnectBaseMs: 20 });
  t.teardown(() => connection.close());
  const topics = new TopicClient({ connection });
  const pub = await topics.publish('chat', 'x', 'y');
  t.equal((pub as TopicPublish.Error).errorCode(), 'CONNECTION_ERROR');
  t.match((pub as TopicPublish.Error).message(), /was not sent within 150 ms \(it was not applied\)/);
  t.equal((pub as TopicPublish.Error).limitCause(), undefined, 'a request that waited and timed out was not refused by the queue: no cause');
  const sub = await topics.subscribe('chat', 'x', { timeoutMs: 100 });
  t.ok(sub instanceof TopicSubscribe.Error);
  t.equal((sub as TopicSubscribe.Error).errorCode(), 'CONNECTION_ERROR');
  const controller = new AbortController();
  const pending = topics.publish('chat', 'x', 'z', { signal: controller.signal, timeoutMs: 5000 });
  controller.abort();
  const cancelled = await pending;
  t.equal((cancelled as TopicPublish.Error).errorCode(), 'CANCELLED_ERROR');
  t.match((cancelled as TopicPublish.Error).message(), /before it was sent/);
});

t.test('offline - in flight when the link drops: a publish is resent after reconnecting (idempotency key); a read fails with CONNECTION_ERROR', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws` });
  await sdk.connection.ready();
  proxy.freeze();
  const inFlight = sdk.topics.publish('chat', 'room', 'maybe', { timeoutMs: 5000 });
  const read = sdk.cache.get('chat', 'k', { timeoutMs: 5000 });
  const abortable = new AbortController();
  const cancelled = sdk.cache.get('chat', 'k', { abortSignal: abortable.signal });
  abortable.abort();
  t.equal(((await cancelled) as CacheGet.Error).errorCode(), 'CANCELLED_ERROR', 'Momento\'s abortSignal works too');
  proxy.reset();
  const readRes = await read;
  t.equal((readRes as CacheGet.Error).errorCode(), 'CONNECTION_ERROR', 'a read in flight fails');
  t.match((readRes as CacheGet.Error).message(), /may or may not have been applied/);
  t.equal((readRes as CacheGet.Error).limitCause(), undefined, 'a lost link has no cause');
  const res = await inFlight;
  t.equal(res.type, 'Success', `the publish went out again after the reconnect and succeeded (${res})`);
  await statusReached(sdk.connection, 'open');
  t.equal((await sdk.topics.publish('chat', 'room', 'next')).type, 'Success', 'the connection came back');
});

t.test('offline - a write sent once that times out waiting for the reconnect may have been applied: TIMEOUT_ERROR, never "not applied"', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, transport: 'websocket', connectTimeoutMs: 150 });
  await sdk.connection.ready();
  proxy.hold(0); // the server's reply never comes back
  const publish = sdk.topics.publish('chat', 'room', 'applied, unanswered', { timeoutMs: 3000 });
  await waitFor('the publish applied', () => server.engine.topics.position('chat', 'room')?.seq === 1);
  proxy.blackhole(); // no reconnect before the publish's timeout
  proxy.reset();
  const res = await publish;
  t.equal((res as TopicPublish.Error).errorCode(), 'TIMEOUT_ERROR', `it was sent once (${res})`);
  t.match((res as TopicPublish.Error).message(), /may or may not have been applied/);
  proxy.heal();
  await statusReached(sdk.connection, 'open', () => true, 10_000);
  t.equal((await sdk.topics.publish('chat', 'room', 'next')).type, 'Success');
  t.equal(server.engine.topics.position('chat', 'room')?.seq, 2, 'the timed-out publish was not sent again');
});

t.test('offline - maxQueuedBytes refuses a request whose frame would pass the byte bound, before the count bound is reached', async (t) => {
  const first = await startServer(t);
  const port = first.port;
  const signingKey = first.config.auth.signingKeys[0]!;
  const token = (await first.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'offline-bytes' })).token;
  const watcher = await sdkFor(t, first);
  await first.close();

  const maxQueuedRequests = 100;
  const maxQueuedBytes = 50_000;
  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token, webSocket: WS, reconnectBaseMs: 20, reconnectMaxMs: 40, maxQueuedRequests, maxQueuedBytes });
  t.teardown(() => connection.close());
  const topics = new TopicClient({ connection });
  const big = (i: number) => `${i}`.padEnd(10_000, 'x');
  const queued: Array<Promise<TopicPublish.Response>> = [];
  let refused: TopicPublish.Response | undefined;
  // Bounded: 10 frames of 10 KB pass 50,000 bytes whatever the framing costs.
  for (let i = 0; i < 10 && !refused; i++) {
    const before = connection.queued.requests;
    const pending = topics.publish('chat', 'bytes', big(i));
    if (connection.queued.requests === before) refused = await pending;
    else queued.push(pending);
    t.ok(connection.queued.bytes <= maxQueuedBytes, `the queue holds ${connection.queued.bytes} bytes, within maxQueuedBytes`);
  }
  t.ok(refused instanceof TopicPublish.Error, 'a frame that does not fit is refused');
  const error = refused as TopicPublish.Error;
  t.equal(error.errorCode(), 'CONNECTION_ERROR', 'the same typed error as a full count bound');
  t.match(error.message(), /maxQueuedBytes \(50000\): pub was not sent/);
  t.equal(error.limitCause(), 'client_queue_full', 'the same cause as a full count bound');
  const frameBytes = Number(/a frame of (\d+) bytes/.exec(error.message())?.[1]);
  t.ok(connection.queued.bytes + frameBytes > maxQueuedBytes, 'it was refused because it would pass the byte bound');
  t.ok(queued.length >= 1 && connection.queued.requests === queued.length && queued.length < maxQueuedRequests, `the count bound was not reached (${queued.length} waiting)`);
  const small = topics.publish('chat', 'bytes', 'small');
  t.equal(connection.queued.requests, queued.length + 1, 'a frame that still fits is queued');
  queued.push(small);

  const second = await startServer(t, { config: { server: { port }, auth: { signingKeys: [signingKey] } } });
  t.equal(second.port, port);
  const got = itemCollector();
  await statusReached(watcher.connection, 'open');
  await watcher.topics.subscribe('chat', 'bytes', { ...got.callbacks, resumeFrom: { page: 0, seq: 0 } });
  const results = await Promise.all(queued);
  t.ok(results.every((r) => r instanceof TopicPublish.Success), 'every queued publish was sent and acknowledged');
  await got.items.until(queued.length);
  t.same(got.values(), [...queued.slice(0, -1).map((_, i) => big(i)), 'small'], 'the queued ones arrived in order; the refused one never');
  t.same(connection.queued, { requests: 0, bytes: 0 }, 'the queue is empty once sent');
});

t.test('offline - ready() waits for the connection outside the queue: a full queue, or maxQueuedRequests 0, does not refuse it', async (t) => {
  const server = await startServer(t);
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'ready' })).token;
  for (const maxQueuedRequests of [0, 1]) {
    const connection = new Connection({ url: server.httpUrl, token, webSocket: WS, maxQueuedRequests });
    t.teardown(() => connection.close());
    // Still connecting: with a bound of 1, this publish fills the queue.
    const queued = maxQueuedRequests > 0 ? new TopicClient({ connection }).publish('chat', 'ready', 'v') : undefined;
    const ready = await connection.ready().then(() => 'open', (err: Error & { limitCause?: string }) => `${err.message} (${err.limitCause})`);
    t.equal(ready, 'open', `maxQueuedRequests ${maxQueuedRequests}: resolves once open`);
    if (queued) t.ok((await queued) instanceof TopicPublish.Success, 'the queued publish went out');
  }
});

t.test('offline - a per-call timeoutMs a timer cannot hold (Infinity, past 2^31 - 1 ms) is refused, not turned into 1 ms', async (t) => {
  const server = await startServer(t);
  const port = server.port;
  await server.close();
  const connection = new Connection({ url: `ws://127.0.0.1:${port}/v1/ws`, token: 'x', webSocket: WS, reconnectBaseMs: 20 });
  t.teardown(() => connection.close());
  const topics = new TopicClient({ connection });
  for (const timeoutMs of [Infinity, 2 ** 31, -1, Number.NaN]) {
    const pub = await topics.publish('chat', 'x', 'y', { timeoutMs });
    t.equal((pub as TopicPublish.Error).errorCode(), 'INVALID_ARGUMENT_ERROR', `publish, timeoutMs ${timeoutMs}: ${pub}`);
    t.match((pub as TopicPublish.Error).message(), /timeoutMs/);
    const sub = await topics.subscribe('chat', 'x', { timeoutMs });
    t.equal((sub as TopicSubscribe.Error).errorCode(), 'INVALID_ARGUMENT_ERROR', `subscribe, timeoutMs ${timeoutMs}: ${sub}`);
  }
  const ready = await connection.ready(Infinity).then(() => 'open', (err: { code?: string }) => err.code);
  t.equal(ready, 'INVALID_ARGUMENT_ERROR', 'ready(timeoutMs) too');
  t.equal(connection.queued.requests, 0, 'nothing was queued');
});
