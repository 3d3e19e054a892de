import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached, collector, chatScope, WS } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/index.js';
import { Connection, TopicClient, TopicPublish, TopicSubscribe, type ConnectionStatus } from '../../src/client/index.js';

t.test('reconnect - every subscription resumes after the server drops the socket, with no loss and no duplicate', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  const rooms = ['a', 'b', 'c'];
  const got = new Map(rooms.map((r) => [r, itemCollector()]));
  let lost = 0;
  for (const room of rooms) {
    const sub = await sdk.topics.subscribe('chat', room, { ...got.get(room)!.callbacks, onConnectionLost: () => { lost++; } });
    t.ok(sub instanceof TopicSubscribe.Subscription);
  }
  for (let i = 1; i <= 3; i++) for (const room of rooms) await publisher.topics.publish('chat', room, `${room}${i}`);
  await Promise.all(rooms.map((r) => got.get(r)!.items.until(3)));

  const subscriber = [...server.broker.sessions.values()].find((s) => s.subscriptions.size === rooms.length)!;
  const reconnected = statusReached(sdk.connection, 'open', (s) => s.connectionId !== subscriber.id);
  subscriber.connection.close(4000, 'test: drop the connection');
  // Published while the subscriber is away (or resubscribing): the resume replays them.
  for (let i = 4; i <= 6; i++) for (const room of rooms) await publisher.topics.publish('chat', room, `${room}${i}`);
  await reconnected;
  for (let i = 7; i <= 8; i++) for (const room of rooms) await publisher.topics.publish('chat', room, `${room}${i}`);
  await Promise.all(rooms.map((r) => got.get(r)!.items.until(8)));
  for (const room of rooms) {
    t.same(got.get(room)!.values(), Array.from({ length: 8 }, (_, i) => `${room}${i + 1}`), `${room}: every item once, in order`);
    t.same(got.get(room)!.gaps.events, [], `${room}: no discontinuity`);
  }
  t.equal(lost, rooms.length, 'onConnectionLost once per subscription for the one outage');
  const sessions = [...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0);
  t.equal(sessions.length, 1, 'still one connection for all subscriptions');
});

t.test('reconnect - a restarted server (new page) surfaces a discontinuity, then items flow again', async (t) => {
  const first = await startServer(t);
  const port = first.port;
  const signingKey = first.config.auth.signingKeys[0]!;
  const sdk = await sdkFor(t, first);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'room', got.callbacks);
  await sdk.topics.publish('chat', 'room', 'before');
  await got.items.until(1);
  const pageBefore = got.items.events[0]!.sequencePage();

  const states = collector<ConnectionStatus['state']>();
  sdk.connection.onStatus((s) => states.push(s.state));
  await first.close();
  await statusReached(sdk.connection, 'reconnecting');
  const second = await startServer(t, { config: { server: { port }, auth: { signingKeys: [signingKey] } } });
  await statusReached(sdk.connection, 'open');
  await got.gaps.until(1);
  const gap = got.gaps.events[0]!;
  t.ok(gap.newSequencePage() > pageBefore, 'the discontinuity announces the new page');
  t.equal(gap.lastSequenceNumber(), 1, 'the last item held (on the old page)');
  t.equal(gap.newSequenceNumber(), 1, 'the new page starts at 1');

  const publisher = await sdkFor(t, second, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'room', 'after');
  await got.items.until(2);
  t.same(got.values(), ['before', 'after']);
  t.equal(got.items.events[1]!.sequencePage(), gap.newSequencePage());
  t.equal(got.items.events[1]!.sequenceNumber(), 1);
});

t.test('reconnect - the heartbeat watchdog notices a dead link; a request on it times out; the subscription resumes', async (t) => {
  // Not shorter: the watchdog gives up after 2.5 heartbeats of silence, and after a stall of this
  // process it runs before the heartbeats that waited are read, so 100 ms made any 250 ms stall of a
  // loaded machine a second reconnect. 400 ms needs a 1 s stall.
  const server = await startServer(t, { config: { server: { heartbeatMs: 400 } } });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws` });
  const heartbeats = collector<unknown>();
  const got = itemCollector();
  let lost = 0;
  await sdk.topics.subscribe('chat', 'quiet', { ...got.callbacks, onHeartbeat: heartbeats.push, onConnectionLost: () => { lost++; } });
  await heartbeats.until(2);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'quiet', 'one');
  await got.items.until(1);

  proxy.freeze();
  const silent = await sdk.topics.publish('chat', 'quiet', 'into the void', { timeoutMs: 100 });
  t.ok(silent instanceof TopicPublish.Error);
  t.equal((silent as TopicPublish.Error).errorCode(), 'TIMEOUT_ERROR', 'sent, no reply in time');
  t.match((silent as TopicPublish.Error).message(), /may or may not have been applied/);
  await publisher.topics.publish('chat', 'quiet', 'two');

  const dropped = await statusReached(sdk.connection, 'reconnecting');
  t.equal(dropped.lastClose.code, 1006);
  t.match(dropped.lastClose.reason, /no frame from the server/);
  await statusReached(sdk.connection, 'open');
  t.equal(proxy.accepted, 2, 'a new connection was opened');
  await publisher.topics.publish('chat', 'quiet', 'three');
  await got.items.until(3);
  t.same(got.values().filter((v) => v !== 'into the void'), ['one', 'two', 'three'], 'what was published during the dead spell is replayed');
  t.equal(lost, 1);
});

t.test('reconnect - a link that never answers hello is abandoned after connectTimeoutMs and retried', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  proxy.blackhole(); // TCP connects, the WebSocket upgrade never completes
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 60 })).token;
  const connection = new Connection({
    // WebSocket only: in `auto` each attempt also tries SSE + HTTP (test/client/http-transport.test.ts).
    url: `ws://127.0.0.1:${proxy.port}/v1/ws`, token, webSocket: WS, transport: 'websocket', connectTimeoutMs: 150, reconnectBaseMs: 10, reconnectMaxMs: 20, maxReconnectAttempts: 2,
  });
  t.teardown(() => connection.close());
  const closed = await statusReached(connection, 'closed', () => true, 5000);
  t.equal(proxy.accepted, 3, 'the first try and two retries');
  t.equal(closed.error?.code, 'CONNECTION_ERROR');
  t.match(closed.reason, /gave up after 2 reconnect attempts/);
  const late = await new TopicClient({ connection }).publish('chat', 'x', 'y');
  t.equal((late as TopicPublish.Error).errorCode(), 'CONNECTION_ERROR', 'a closed connection refuses at once');
  t.match((late as TopicPublish.Error).message(), /connection is closed/, 'at once, not after waiting in the queue');
  t.equal(connection.queued.requests, 0, 'nothing waits for a connection that will not come back');
  const lateSub = await new TopicClient({ connection }).subscribe('chat', 'x');
  t.equal(lateSub.type === 'Error' && lateSub.errorCode(), 'CONNECTION_ERROR');
  t.match(lateSub.toString(), /connection is closed/, 'a subscribe too: at once, not after its timeout');
});

t.test('reconnect - onConnectionLost fires once per outage, not once per failed attempt', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, transport: 'websocket', connectTimeoutMs: 150 });
  const got = itemCollector();
  let lost = 0;
  await sdk.topics.subscribe('chat', 'outage', { ...got.callbacks, onConnectionLost: () => { lost++; } });
  proxy.blackhole(); // every reconnect attempt hangs until connectTimeoutMs
  proxy.reset();
  await statusReached(sdk.connection, 'reconnecting', (s) => s.attempt >= 3, 10_000);
  proxy.heal();
  await statusReached(sdk.connection, 'open', () => true, 10_000);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'outage', 'after');
  await got.items.until(1);
  t.equal(lost, 1, 'once for an outage of three failed attempts and more');

  // A second outage is reported too; a subscribe that gave up during it hears nothing afterwards.
  proxy.blackhole();
  proxy.reset();
  await statusReached(sdk.connection, 'reconnecting', () => true, 10_000);
  const gaveUp = itemCollector();
  const failed = await sdk.topics.subscribe('chat', 'gave-up', { ...gaveUp.callbacks, timeoutMs: 200 });
  t.equal(failed.type === 'Error' && failed.errorCode(), 'CONNECTION_ERROR', 'not established while the link is down');
  proxy.heal();
  await statusReached(sdk.connection, 'open', () => true, 10_000);
  const later = itemCollector();
  await sdk.topics.subscribe('chat', 'gave-up', later.callbacks);
  await publisher.topics.publish('chat', 'gave-up', 'later');
  await publisher.topics.publish('chat', 'outage', 'again');
  await later.items.until(1);
  await got.items.until(2);
  t.equal(lost, 2, 'once more for the second outage');
  t.same(gaveUp.values(), [], 'the subscribe that gave up got none of the items');
});

t.test('reconnect - a 4501 close without a token provider closes for good; subscriptions get onError', async (t) => {
  // The server's clock is moved by hand once the subscription is on: on the real one the 2 s token
  // (1-2 s: exp is whole seconds) could run out before a loaded machine subscribed.
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { expiryNoticeMs: 100, clockToleranceSec: 0 } } });
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 2, tokenId: 'short' })).token;
  const sdk = await sdkFor(t, server, { token });
  const errors = collector<string>();
  const ended = collector<true>();
  await sdk.topics.subscribe('chat', 'room', { onError: (e) => errors.push(e.errorCode()), onSubscriptionEnd: () => ended.push(true) });
  clock.advance(2000);
  const closed = await statusReached(sdk.connection, 'closed', () => true, 5000);
  t.equal(closed.error?.code, 'AUTHENTICATION_ERROR');
  t.match(closed.reason, /4501/);
  t.same(await errors.until(1), ['AUTHENTICATION_ERROR']);
  await ended.until(1);
});

t.test('reconnect - a hole in the live stream (items dropped by the transport) is refilled from the window', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'holes', got.callbacks);
  for (const v of ['1', '2', '3']) await sdk.topics.publish('chat', 'holes', v);
  await got.items.until(3);
  // Fault injection: items 4–6 are recorded in the window but never reach the socket, as when uWS
  // drops frames for a connection whose send buffer overflowed.
  const engine = server.broker['deps'].engine as import('../../src/index.js').MemoryEngine;
  const fanout = engine.topics['fanout'];
  engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
  for (const v of ['4', '5', '6']) engine.topics.publish('chat', 'holes', v, 'sdk-user');
  engine.topics['fanout'] = fanout;
  // Every resubscription the SDK makes reaches engine.topics.subscribe with `after`: counted.
  const topics: import('../../src/index.js').TopicEngine = engine.topics;
  const subscribe = topics.subscribe.bind(topics);
  let resumes = 0;
  topics.subscribe = (cache, topic, who, after) => { if (after) resumes++; return subscribe(cache, topic, who, after); };
  // 7–9 in one turn: all three reach the SDK past the hole before the reply to its resubscription.
  for (const v of ['7', '8', '9']) engine.topics.publish('chat', 'holes', v, 'sdk-user');
  await got.items.until(9);
  t.same(got.values(), ['1', '2', '3', '4', '5', '6', '7', '8', '9'], 'the hole is refilled, in order, nothing twice');
  t.same(got.gaps.events, [], 'and it was not a discontinuity: nothing was lost');
  t.equal(resumes, 1, 'one resubscription for the hole, not one per item arriving past it');
  await sdk.topics.publish('chat', 'holes', '10');
  await got.items.until(10);
  t.equal(got.values().at(-1), '10', 'the subscription stays live afterwards');
});

t.test('reconnect - a newer page without the disc that announces it is a hole too: the SDK resumes and reports the discontinuity', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'reset', got.callbacks);
  for (const v of ['1', '2', '3']) await sdk.topics.publish('chat', 'reset', v);
  const first = (await got.items.until(3))[0]!.sequencePage();
  // Fault injection: the topic restarts under a new page (as a dropped topic does) and its disc and
  // first two items never reach the socket, as when uWS drops frames for an overflowing connection.
  const engine = server.broker['deps'].engine as import('../../src/index.js').MemoryEngine;
  const fanout = engine.topics['fanout'];
  engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
  engine.topics.registry.drop('chat', 'reset');
  engine.topics.registry.getOrCreate('chat', 'reset').attach(Date.now()); // its subscriber, as on the old page
  for (const v of ['a', 'b']) engine.topics.publish('chat', 'reset', v, 'sdk-user');
  engine.topics['fanout'] = fanout;
  await sdk.topics.publish('chat', 'reset', 'c');
  await waitFor('item c', () => got.values().includes('c'));
  t.same(got.values(), ['1', '2', '3', 'a', 'b', 'c'], 'the new page from its start, in order, nothing twice');
  t.same(got.gaps.events.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber(), d.newSequencePage() > first]), [[3, 1, true]],
    'one discontinuity, from seq 3 of the old page to seq 1 of the new one');
});

t.test('reconnect - a link that drops right after hello does not reset the backoff; one that lived a heartbeat does', async (t) => {
  const server = await startServer(t, { config: { server: { heartbeatMs: 500 } } });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 60 })).token;
  const connection = new Connection({ url: `ws://127.0.0.1:${proxy.port}/v1/ws`, token, webSocket: WS, transport: 'websocket', reconnectBaseMs: 5, reconnectMaxMs: 40 });
  t.teardown(() => connection.close());
  await statusReached(connection, 'open');
  // A flapping link (a proxy or server that drops each connection once hello is done): without
  // growing delays the SDK would reconnect every reconnectBaseMs for ever.
  const attempts = collector<number>();
  let flaps = 0;
  const off = connection.onStatus((s) => {
    if (s.state === 'reconnecting') attempts.push(s.attempt);
    if (s.state === 'open' && flaps < 4) { flaps++; proxy.reset(); }
  });
  flaps++;
  proxy.reset();
  await attempts.until(4);
  off();
  t.same(attempts.events, [1, 2, 3, 4], 'each drop right after hello is one more failure in a row');
  await statusReached(connection, 'open');
  // Open for a heartbeat interval (two heartbeats arrived): a good link; the next drop starts over.
  let heartbeats = 0;
  connection.onPush((frame) => { if (frame['t'] === 'hb') heartbeats++; });
  await waitFor('two heartbeats on the link', () => heartbeats >= 2);
  const again = statusReached(connection, 'reconnecting');
  proxy.reset();
  t.equal((await again).attempt, 1, 'the backoff starts over after a good link');
});
