/** The SDK over its SSE + HTTP transport, in Node against a real server: the same API as over
 * WebSocket (topics, cache, moderation rejections), resume after the stream drops with nothing
 * lost or doubled, automatic fallback behind a proxy that refuses WebSocket upgrades, and forcing
 * a transport. */
import t from 'tap';
import { connect } from 'node:net';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached, chatScope, WS } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { openSdkStream } from '../helpers/sse.js';
import { HttpStreamSocket, type FetchLike } from '../../src/client/http-transport.js';
import { CacheListFetch, Connection, TopicPublish, TopicSubscribe } from '../../src/client/index.js';

t.test('sdk over sse + http', async (t) => {
  const server = await startServer(t);

  t.test('forced http: topics and cache work, replies and pushes in order', async (t) => {
    const sdk = await sdkFor(t, server, { transport: 'http', webSocket: undefined });
    const opened = await statusReached(sdk.connection, 'open');
    t.equal(opened.transport, 'http');
    const got = itemCollector();
    t.ok((await sdk.topics.subscribe('chat', 'room', got.callbacks)) instanceof TopicSubscribe.Subscription);
    const published = await Promise.all(Array.from({ length: 20 }, (_, i) => sdk.topics.publish('chat', 'room', `m${i}`)));
    t.ok(published.every((p) => p instanceof TopicPublish.Success), 'a burst of publishes, batched into few POSTs');
    await got.items.until(20);
    t.same(got.values(), Array.from({ length: 20 }, (_, i) => `m${i}`), 'in order');
    await sdk.cache.listPushBack('chat', 'history', 'one');
    await sdk.cache.listPushBack('chat', 'history', new Uint8Array([7, 8]));
    const fetched = await sdk.cache.listFetch('chat', 'history');
    t.ok(fetched instanceof CacheListFetch.Hit);
    t.same((fetched as CacheListFetch.Hit).valueListString()[0], 'one');
    t.same([...(fetched as CacheListFetch.Hit).valueListUint8Array()[1]!], [7, 8], 'binary round trip');
  });

  t.test('a URL with its scheme in capitals (WS://…/v1/ws) reaches the same routes', async (t) => {
    const sdk = await sdkFor(t, server, { url: `WS${server.wsUrl.slice('ws'.length)}`, transport: 'http', webSocket: undefined });
    t.equal((await statusReached(sdk.connection, 'open', () => true, 20_000)).transport, 'http');
    t.ok((await sdk.topics.publish('chat', 'caps', 'v')) instanceof TopicPublish.Success);
  });

  t.test('the stream drops: the SDK reconnects over http and resumes with nothing lost or doubled', async (t) => {
    const sdk = await sdkFor(t, server, { transport: 'http', webSocket: undefined });
    const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
    const got = itemCollector();
    await sdk.topics.subscribe('chat', 'resume', got.callbacks);
    for (let i = 1; i <= 3; i++) await publisher.topics.publish('chat', 'resume', `r${i}`);
    await got.items.until(3);
    const streamSession = [...server.broker.sessions.values()].find((s) => s.subscriptions.size === 1 && s.id === (sdk.connection.status as { connectionId?: string }).connectionId)!;
    t.ok(streamSession, 'the stream\'s session');
    const back = statusReached(sdk.connection, 'open', (s) => s.connectionId !== streamSession.id);
    streamSession.connection.close(4000, 'test: drop');
    for (let i = 4; i <= 6; i++) await publisher.topics.publish('chat', 'resume', `r${i}`);
    await back;
    for (let i = 7; i <= 8; i++) await publisher.topics.publish('chat', 'resume', `r${i}`);
    await got.items.until(8);
    await new Promise((r) => setTimeout(r, 100));
    t.same(got.values(), Array.from({ length: 8 }, (_, i) => `r${i + 1}`));
    t.same(got.gaps.events, []);
  });

  t.test('a POST to a stream is answered 204 with no body (one would be read as the start of the next answer on the connection)', async (t) => {
    const { id } = await openSdkStream(t, server.httpUrl);
    const socket = connect(server.port, '127.0.0.1');
    socket.write(`POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${id}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    t.match(answer, /^HTTP\/1\.1 204 /);
    t.equal(answer.slice(answer.indexOf('\r\n\r\n') + 4), '', 'nothing after the head');
  });

  t.test('the socket refuses a frame larger than the server takes in one POST (maxPostBytes, named in the open event)', async (t) => {
    // Below the Connection, which refuses frames past hello's maxFrameBytes: a server that names
    // none (or a hello itself) meets this bound only.
    const socket = new HttpStreamSocket(server.httpUrl, fetch as FetchLike);
    t.teardown(() => socket.close());
    await new Promise((resolve) => { socket.onopen = resolve; });
    t.throws(() => socket.send(new Uint8Array(server.config.http.maxStreamPostBytes - 3)), /larger than the server takes in one POST/);
  });

  t.test('the stream endpoint refuses what is not its own', async (t) => {
    const post = await fetch(`${server.httpUrl}/v1/stream`, { method: 'POST', headers: { 'x-tidings-stream': 'nope' }, body: new Uint8Array(0) });
    t.equal(post.status, 404);
    t.match(await post.json(), { error: { code: 'NOT_FOUND_ERROR' } });
    const put = await fetch(`${server.httpUrl}/v1/stream`, { method: 'PUT' });
    t.equal(put.status, 405, 'a method the stream has not');
    await put.arrayBuffer();
  });
});

t.test('sdk - auto transport falls back to sse + http behind a proxy that refuses upgrades', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  proxy.refuseUpgrades();
  const via = { ...server, httpUrl: `http://127.0.0.1:${proxy.port}` } as typeof server;
  const sdk = await sdkFor(t, via);
  const opened = await statusReached(sdk.connection, 'open');
  t.equal(opened.transport, 'http', 'the upgrade failed, the SDK went on over http');
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'fallback', got.callbacks);
  const direct = await sdkFor(t, server, { tokenId: 'direct' });
  t.equal((await statusReached(direct.connection, 'open')).transport, 'websocket', 'without the proxy, WebSocket');
  await direct.topics.publish('chat', 'fallback', 'from a websocket client');
  await sdk.topics.publish('chat', 'fallback', 'from an http client');
  await got.items.until(2);
  t.same(got.values(), ['from a websocket client', 'from an http client']);

  const forced = await sdkFor(t, via, { transport: 'websocket', tokenId: 'forced' });
  await statusReached(forced.connection, 'reconnecting');
  t.equal(forced.connection.transport, 'websocket', 'a forced transport never falls back');
});

t.test('sdk - auto: each attempt tries WebSocket, then SSE + HTTP at once; both count as one attempt', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  proxy.blackhole(); // TCP connects, nothing ever answers: the upgrade and the stream both hang
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 60 })).token;
  const connection = new Connection({
    url: `http://127.0.0.1:${proxy.port}`, token, webSocket: WS, connectTimeoutMs: 150, reconnectBaseMs: 10, reconnectMaxMs: 20, maxReconnectAttempts: 2,
  });
  t.teardown(() => connection.close());
  const transports: string[] = [];
  connection.onStatus((s) => { if (s.state === 'connecting') transports.push(connection.transport); });
  const closed = await statusReached(connection, 'closed', () => true, 5000);
  t.equal(proxy.accepted, 6, 'three attempts, two transports each');
  t.same(transports, ['http', 'websocket', 'http', 'websocket', 'http'], 'alternating, WebSocket first (the first status came before listening)');
  t.match(closed.reason, /gave up after 2 reconnect attempts/);
});
