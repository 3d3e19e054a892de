import t from 'tap';
import { getEventListeners } from 'node:events';
import { startServer, testEachEngine } from '../helpers/server.js';
import { sdkFor, itemCollector, collector, chatScope, WS } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { decodeFrame } from '../../src/protocol/index.js';
import {
  TopicClient, TopicPublish, TopicPublishResponse, TopicSubscribe, TopicSubscribeResponse, TopicSubscription, TidingsClientError, PermissionScopes,
  type TopicItem,
} from '../../src/client/index.js';

testEachEngine('topics - many subscriptions share one connection; each gets only its own items', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  const rooms = Array.from({ length: 20 }, (_, i) => `room-${i}`);
  const got = new Map(rooms.map((r) => [r, itemCollector()]));
  const subs = await Promise.all(rooms.map((r) => sdk.topics.subscribe('chat', r, got.get(r)!.callbacks)));
  t.ok(subs.every((s) => s.type === TopicSubscribeResponse.Subscription));
  for (const room of rooms) {
    const res = await sdk.topics.publish('chat', room, `hello ${room}`);
    t.equal(res.type, TopicPublishResponse.Success);
  }
  await sdk.topics.publish('chat', rooms[3]!, new Uint8Array([0, 255, 7]));
  await Promise.all(rooms.map((r) => got.get(r)!.items.until(r === rooms[3] ? 2 : 1)));
  for (const room of rooms) t.equal(got.get(room)!.values()[0], `hello ${room}`);
  const binary = got.get(rooms[3]!)!.items.events[1]!;
  t.ok(binary.value() instanceof Uint8Array, 'binary stays binary');
  t.same([...binary.valueUint8Array()], [0, 255, 7]);
  t.equal(binary.sequenceNumber(), 2);
  t.equal(binary.tokenId(), 'sdk-user');
  t.equal(server.broker.sessions.size, 1, 'one connection');
  t.equal([...server.broker.sessions.values()][0]!.subscriptions.size, rooms.length, 'one server subscription per topic');
});

testEachEngine('topics - local subscribers of one topic share one server subscription, even when they subscribe at once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  const a = itemCollector();
  const b = itemCollector();
  const ends = collector<string>();
  // Both before the server confirms: no ALREADY_EXISTS_ERROR reaches the application.
  const [subA, subB] = await Promise.all([
    sdk.topics.subscribe('chat', 'shared', { ...a.callbacks, onSubscriptionEnd: () => ends.push('a') }),
    sdk.topics.subscribe('chat', 'shared', b.callbacks),
  ]);
  t.ok(subA instanceof TopicSubscribe.Subscription && subB instanceof TopicSubscribe.Subscription);
  const session = [...server.broker.sessions.values()][0]!;
  t.equal(session.subscriptions.size, 1);
  await sdk.topics.publish('chat', 'shared', 'x');
  await Promise.all([a.items.until(1), b.items.until(1)]);
  (subA as TopicSubscribe.Subscription).unsubscribe();
  t.same(ends.events, ['a'], 'onSubscriptionEnd after unsubscribe');
  t.equal((subA as TopicSubscribe.Subscription).isSubscribed, false);
  t.equal((subB as TopicSubscribe.Subscription).isSubscribed, true);
  await sdk.topics.publish('chat', 'shared', 'y');
  await b.items.until(2);
  t.same(a.values(), ['x'], 'the unsubscribed listener gets nothing more');
  t.same((subB as TopicSubscribe.Subscription).lastPosition(), { page: b.items.events[1]!.sequencePage(), seq: 2 });
  (subB as TopicSubscribe.Subscription).unsubscribe();
  await sdk.connection.ready(); // requests are handled in order: the unsub is done
  t.equal(session.subscriptions.size, 0, 'the last one out ends the server subscription');
});

testEachEngine('topics - resumeFrom replays only what came after the saved position', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  const published = [];
  for (const v of ['a', 'b', 'c', 'd']) published.push((await sdk.topics.publish('chat', 'saved', v)) as TopicPublish.Success);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'saved', { ...got.callbacks, resumeFrom: { page: published[1]!.page, seq: published[1]!.seq } });
  await got.items.until(2);
  await sdk.topics.publish('chat', 'saved', 'e');
  await got.items.until(3);
  t.same(got.values(), ['c', 'd', 'e']);
  t.same(got.gaps.events, []);
});

testEachEngine('topics - refusals are typed Error responses (or thrown with throwOnErrors)', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = (await server.auth.mintDisposableToken({ scope: PermissionScopes.topicSubscribeOnly('chat', 'news'), expiresInSec: 60 })).token;
  const sdk = await sdkFor(t, server, { token });
  const pub = await sdk.topics.publish('chat', 'news', 'nope');
  t.ok(pub instanceof TopicPublish.Error);
  t.equal(pub.type, TopicPublishResponse.Error);
  t.equal((pub as TopicPublish.Error).errorCode(), 'PERMISSION_ERROR');
  t.match((pub as TopicPublish.Error).message(), /may not publish/);
  const sub = await sdk.topics.subscribe('chat', 'sports');
  t.ok(sub instanceof TopicSubscribe.Error);
  t.equal((sub as TopicSubscribe.Error).errorCode(), 'PERMISSION_ERROR');
  t.match((sub as TopicSubscribe.Error).toString(), /^PERMISSION_ERROR: /);
  t.equal([...server.broker.sessions.values()][0]!.subscriptions.size, 0);
  const cancelled = await sdk.topics.subscribe('chat', 'news', { signal: AbortSignal.abort() });
  t.equal(cancelled.type === 'Error' && cancelled.errorCode(), 'CANCELLED_ERROR', 'a signal that fired already: not subscribed');
  const untimed = await sdk.topics.subscribe('chat', 'news', { timeoutMs: 0 });
  t.equal(untimed.type === 'Error' && untimed.errorCode(), 'INVALID_ARGUMENT_ERROR', 'a timeoutMs no timer can hold');
  const controller = new AbortController();
  t.equal((await sdk.topics.subscribe('chat', 'news', { signal: controller.signal })).type, 'Subscription');
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'a settled subscribe lets go of its signal (an app may reuse one for many)');

  const strict = new TopicClient({ connection: sdk.connection, throwOnErrors: true });
  t.teardown(() => strict.close());
  await t.rejects(strict.publish('chat', 'news', 'nope'), { code: 'PERMISSION_ERROR', name: 'TidingsClientError' });
  const thrown = await strict.subscribe('chat', 'sports').then(() => undefined, (e: unknown) => e);
  t.ok(thrown instanceof TidingsClientError);
  t.equal((thrown as TidingsClientError).errorCode(), 'PERMISSION_ERROR');
  t.equal((await strict.subscribe('chat', 'news')).type, 'Subscription', 'successes are returned as usual');
});

testEachEngine('topics - a refreshed token that no longer allows a subscription ends it with onError', async (t, engine) => {
  const server = await startServer(t, { engine });
  let narrow = false;
  const tokenProvider = async () => (await server.auth.mintDisposableToken({
    scope: narrow ? PermissionScopes.topicPublishSubscribe('chat', 'kept') : chatScope, expiresInSec: 300, tokenId: 'same',
  })).token;
  const sdk = await sdkFor(t, server, { tokenProvider });
  const errors = collector<string>();
  const ends = collector<string>();
  const lost = await sdk.topics.subscribe('chat', 'lost', {
    onError: (e, s) => { errors.push(`${e.errorCode()} ${String(s.isSubscribed)}`); },
    onSubscriptionEnd: () => ends.push('lost'),
  });
  const kept = itemCollector();
  await sdk.topics.subscribe('chat', 'kept', kept.callbacks);
  narrow = true;
  await sdk.connection.refreshToken();
  t.same(await errors.until(1), ['AUTHENTICATION_ERROR false'], 'ended, already unsubscribed when onError runs');
  await ends.until(1);
  t.equal((lost as TopicSubscribe.Subscription).isSubscribed, false);
  await sdk.topics.publish('chat', 'kept', 'still here');
  await kept.items.until(1);
});

testEachEngine('topics - a TopicClient built from connection options owns its connection', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 60 })).token;
  const topics = new TopicClient({ url: server.httpUrl, token, webSocket: WS });
  const items = collector<TopicItem>();
  await topics.subscribe('chat', 'own', { onItem: items.push });
  await topics.publish('chat', 'own', 'mine');
  await items.until(1);
  topics.close();
  t.equal(topics.connection.status.state, 'closed');
  t.equal(((await topics.publish('chat', 'own', 'late')) as TopicPublish.Error).errorCode(), 'CONNECTION_ERROR');
});

testEachEngine('topics - closing the connection ends subscriptions with onSubscriptionEnd, not onError', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  const events = collector<string>();
  const sub = await sdk.topics.subscribe('chat', 'x', { onError: (e) => events.push(`error ${e.errorCode()}`), onSubscriptionEnd: () => events.push('end') });
  sdk.close();
  t.same(events.events, ['end']);
  t.equal((sub as TopicSubscribe.Subscription).isSubscribed, false);
  const late = await sdk.topics.subscribe('chat', 'y');
  t.equal(late.type === 'Error' && late.errorCode(), 'CONNECTION_ERROR');
});

testEachEngine('topics - a sub whose reply came after requestTimeoutMs is asked again without being refused as already subscribed', async (t, engine) => {
  const server = await startServer(t, { engine });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  // The frames the SDK sends, read off a real socket.
  const sent: string[] = [];
  const webSocketFactory = (url: string, protocols: string[]) => {
    const ws = new WS(url, protocols);
    const send = ws.send.bind(ws);
    ws.send = (data: Uint8Array) => { sent.push(String(decodeFrame(data)['t'])); send(data); };
    return ws;
  };
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'slow-sub' })).token;
  const sdk = await sdkFor(t, server, { url: `http://127.0.0.1:${proxy.port}`, token, webSocket: undefined, webSocketFactory, requestTimeoutMs: 200 });
  await sdk.connection.ready(10_000); // connecting may take longer than 200 ms on a loaded machine
  // The server takes the first sub, but its reply is late: the SDK's sub request times out.
  proxy.hold(0);
  const got = itemCollector();
  const pending = sdk.topics.subscribe('chat', 'late', { ...got.callbacks, timeoutMs: 10_000 });
  await waitFor('the sub to be sent again', () => sent.filter((f) => f === 'sub').length >= 2);
  proxy.release(0);
  const sub = await pending;
  t.ok(sub instanceof TopicSubscribe.Subscription, `subscribed (${sub})`);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'late', 'one');
  await publisher.topics.publish('chat', 'late', 'two');
  await got.items.until(2);
  t.same(got.values(), ['one', 'two'], 'items flow to the subscriber, once each');
});

testEachEngine('topics - a closed TopicClient on a shared connection refuses to subscribe (it no longer hears the items)', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  await sdk.connection.ready();
  const topics = new TopicClient({ connection: sdk.connection });
  topics.close();
  const sub = await topics.subscribe('chat', 'after-close', { onItem: () => {} });
  t.equal(sub.type === 'Error' && sub.errorCode(), 'CONNECTION_ERROR', `refused (${sub})`);
  t.match(sub.toString(), /closed/);
  t.equal(sdk.connection.status.state, 'open', 'the shared connection stays open');
});

testEachEngine('topics - TopicClients sharing a connection share a topic\'s server subscription; closing one ends only its own', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  const other = new TopicClient({ connection: sdk.connection });
  const mine = itemCollector();
  const theirs = itemCollector();
  t.equal((await sdk.topics.subscribe('chat', 'shared', mine.callbacks)).type, 'Subscription');
  const second = await other.subscribe('chat', 'shared', theirs.callbacks);
  t.equal(second.type, 'Subscription', `the second client's subscribe is not refused as already subscribed (${second})`);
  other.close();
  other.close(); // a second close() must not count as another client gone
  t.equal((second as TopicSubscription).isSubscribed, false, 'close() ended the closing client\'s subscription');
  await sdk.topics.publish('chat', 'shared', 'after');
  await mine.items.until(1);
  t.same(mine.values(), ['after'], 'the other client\'s subscription still hears the topic');
  t.same(theirs.values(), [], 'the closed client\'s does not');
});

t.test('topics - options are checked up front', async (t) => {
  t.throws(() => new TopicClient({ url: 'ws://127.0.0.1:1', webSocket: WS }), /token or options.tokenProvider/);
  t.throws(() => new TopicClient({ url: 'ws://127.0.0.1:1', token: 'x', webSocket: WS, webSocketFactory: (u) => new WS(u) }), /not both/);
  t.throws(() => new TopicClient({ url: 'ws://127.0.0.1:1', token: 'x', webSocket: WS, requestTimeoutMs: 0 }), /requestTimeoutMs/);
});

testEachEngine('topics - webSocketFactory opens the socket', async (t, engine) => {
  const server = await startServer(t, { engine });
  const opened: string[] = [];
  const token = (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 60 })).token;
  const sdk = await sdkFor(t, server, { token, webSocket: undefined, webSocketFactory: (url, protocols) => { opened.push(`${url} ${protocols.join()}`); return new WS(url, protocols); } });
  t.equal((await sdk.topics.publish('chat', 'f', 'v')).type, 'Success');
  t.same(opened, [`${server.wsUrl} tidings.v1`], 'http URL completed to the WebSocket endpoint; subprotocol offered');
});
