/** The SDK resubscribes an active subscription on an open connection (a second local subscriber
 * asking for presence, a gap in the live stream, a `sub` that timed out) with `after` = the last
 * position it had delivered when it sent the `sub`. Items already on their way to it arrive before
 * the server takes the `sub`, so the replay may start with a `disc` about items the client has in
 * fact delivered meanwhile. That disc must not take the position back: nothing is delivered twice,
 * and no loss is reported where nothing was lost. Cases 1-3 run on both engines (testEachEngine). */
import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { collector, sdkFor } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import type { MemoryEngine } from '../../src/index.js';
import WebSocket from 'ws';
import { PermissionScopes, type TopicDiscontinuity, type TopicPublish, type WebSocketLike } from '../../src/client/index.js';

const roomScope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.topicPresence('chat', { namePrefix: 'room' }));

testEachEngine('sdk resubscribe - a replay disc about items delivered in flight neither repeats them nor reports a loss', async (t, engine) => {
  // A window of 2: three items published between the client's `after` and the server's `sub` are
  // enough for the replay to open with a disc.
  const server = await startServer(t, { engine, config: { topics: { windowItems: 2 } } });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'carol' })).token;
  const carol = await sdkFor(t, server, { token, url: `ws://127.0.0.1:${proxy.port}/v1/ws` });
  const publisher = await sdkFor(t, server, { token: (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'pat' })).token });
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  const sub = await carol.topics.subscribe('chat', 'room1', { onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  t.equal(sub.type, 'Subscription');
  await publishAll(publisher, 'room1', ['1', '2']);
  await items.until(2);
  // Held from here: items 3–5 are sent to carol (the node's window reached them: with engine redis
  // they come back from Redis after the publishes' replies) but not yet delivered when the
  // presence upgrade's unsub and sub after seq 2 are taken.
  proxy.hold(0);
  await publishAll(publisher, 'room1', ['3', '4', '5']);
  await waitFor('items 3-5 sent to carol', () => server.engine.topics.position('chat', 'room1')?.seq === 5);
  const upgraded = carol.topics.subscribe('chat', 'room1', { presence: true });
  const session = () => [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'carol');
  await waitFor('the resubscription taken', () => [...(session()?.subscriptions.values() ?? [])].some((r) => r.presence));
  proxy.release(0);
  t.equal((await upgraded).type, 'Subscription');
  // The last item comes after everything the server sent for the upgrade.
  await publisher.topics.publish('chat', 'room1', '6');
  await waitFor('item 6', () => items.events.includes('6'));
  t.same(items.events, ['1', '2', '3', '4', '5', '6'], 'every item once, in order');
  t.same(gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber()]), [], 'no discontinuity: nothing was lost');
});

testEachEngine('sdk resubscribe - a disc counted from the position itself still takes it back (a resumeFrom the topic never reached)', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'dan' })).token;
  const dan = await sdkFor(t, server, { token });
  const { page } = await publishAll(dan, 'room2', ['1', '2', '3']);
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  // Seq 9 of the current page does not exist yet: the server says so (a disc from 9 to the window's
  // start) and replays what it holds.
  await dan.topics.subscribe('chat', 'room2', { resumeFrom: { page, seq: 9 }, onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  await items.until(3);
  t.same(items.events, ['1', '2', '3'], 'the window, in order');
  t.same(gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber(), d.newSequencePage()]), [[9, 1, page]], 'after a disc from the position given');
});

testEachEngine('sdk resubscribe - across a page change, a replay disc whose lastSeq equals the new position is still stale', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'erin' })).token;
  // One message per tick, as browsers deliver them (ws's default hands a whole TCP read over in one
  // tick): the first `sub`'s reply is taken, and the resubscription sent, before its replay is read.
  const erin = await sdkFor(t, server, { token, webSocket: undefined, webSocketFactory: (url, protocols) => new WebSocket(url, protocols, { allowSynchronousEvents: false }) as unknown as WebSocketLike });
  const values = ['1', '2', '3', '4', '5'];
  const { page } = await publishAll(erin, 'room3', values);
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  // Resumed from seq 5 of an older page: the first `sub` (without presence) gets a disc onto the
  // current page and its five items. The second subscriber's presence makes the SDK resubscribe
  // once that `sub` is confirmed, still after (older page, 5), while the replay is on its way: by
  // the time the second replay's disc (lastSeq 5) arrives, the position is (page, 5).
  const first = erin.topics.subscribe('chat', 'room3', { resumeFrom: { page: page - 1, seq: values.length }, onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  const second = erin.topics.subscribe('chat', 'room3', { presence: true });
  t.equal((await first).type, 'Subscription');
  t.equal((await second).type, 'Subscription');
  // Sent after the resubscription's unsub and sub on the one connection: item 6 follows its replay.
  await erin.topics.publish('chat', 'room3', '6');
  await waitFor('item 6', () => items.events.includes('6'));
  t.same(items.events, [...values, '6'], 'every item once, in order');
  t.same(gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber(), d.newSequencePage()]), [[5, 1, page]], 'one discontinuity, onto the new page');
});

t.test('sdk resubscribe - a replay disc from an older `after` reports only what lies past the position, counted from it', async (t) => {
  // Memory engine on purpose: the fault injection replaces its fan-out. A window of 2.
  const server = await startServer(t, { engine: 'memory', config: { topics: { windowItems: 2 } } });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'fay' })).token;
  const fay = await sdkFor(t, server, { token, url: `ws://127.0.0.1:${proxy.port}/v1/ws` });
  const engine = server.broker['deps'].engine as MemoryEngine;
  const rooms = { room4: ['6', '7', '8'], room5: ['6', '7'] };
  const got = new Map(Object.keys(rooms).map((room) => [room, { items: collector<string>(), gaps: [] as TopicDiscontinuity[] }]));
  for (const [room, { items, gaps }] of got) {
    await fay.topics.subscribe('chat', room, { onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
    for (const v of ['1', '2']) engine.topics.publish('chat', room, v, 'fay');
    await items.until(2);
  }
  // Held from here: items 3–5 are on their way when the presence upgrade resubscribes after seq 2.
  proxy.hold(0);
  const fanout = engine.topics['fanout'];
  for (const [room, kept] of Object.entries(rooms)) {
    for (const v of ['3', '4', '5']) engine.topics.publish('chat', room, v, 'fay');
    // Fault injection: published between the server's unsub and sub (never sent to fay), so the
    // replay opens with a disc from seq 2 to the window's start.
    engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
    for (const v of kept) engine.topics.publish('chat', room, v, 'fay');
    engine.topics['fanout'] = fanout;
  }
  const upgraded = Object.keys(rooms).map((room) => fay.topics.subscribe('chat', room, { presence: true }));
  const session = () => [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'fay');
  await waitFor('both resubscriptions taken', () => [...(session()?.subscriptions.values() ?? [])].filter((r) => r.presence).length === 2);
  proxy.release(0);
  for (const u of upgraded) t.equal((await u).type, 'Subscription');
  const [room4, room5] = [got.get('room4')!, got.get('room5')!];
  await room4.items.until(7);
  await room5.items.until(7);
  t.same(room4.items.events, ['1', '2', '3', '4', '5', '7', '8'], 'room4: seq 6 fell out of the window');
  t.same(room4.gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber()]), [[5, 7]], 'room4: counted from seq 5, the last delivered, not the `after` (2)');
  t.same(room5.items.events, ['1', '2', '3', '4', '5', '6', '7'], 'room5: nothing missed');
  t.same(room5.gaps, [], 'room5: the disc (2 to 6) names nothing past seq 5: no discontinuity');
});

t.test('sdk resubscribe - a hole read right after the reply of the resubscription refilling another is refilled at once', async (t) => {
  // Memory engine on purpose: the fault injection replaces its fan-out.
  const server = await startServer(t, { engine: 'memory' });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'gil' })).token;
  const gil = await sdkFor(t, server, { token, url: `ws://127.0.0.1:${proxy.port}/v1/ws` });
  const engine = server.broker['deps'].engine as MemoryEngine;
  const fanout = engine.topics['fanout'];
  const publish = (v: string) => engine.topics.publish('chat', 'room6', v, 'gil');
  // Fault injection: an item the live stream never carries (a hole), which the window holds.
  const lost = (v: string) => {
    engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
    publish(v);
    engine.topics['fanout'] = fanout;
  };
  let started = 0;
  server.broker['subscriptions'].observe({ started: () => started++ });
  const session = () => [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'gil');
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  await gil.topics.subscribe('chat', 'room6', { onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  publish('one');
  await items.until(1);
  // The first hole: 'two' lost, 'three' on its way, held until the server sent it.
  proxy.hold(0);
  lost('two');
  publish('three');
  await waitFor('three held', () => proxy.held(0).includes('three'));
  proxy.release(0);
  // Reading 'three', the SDK resubscribes after 'one'. What the server sends from here (the reply,
  // the replay of 'two' and 'three', then a second hole: 'four' lost, 'five' live) it reads at once.
  proxy.hold(0);
  await waitFor('the resubscription taken and replayed', () => started === 2 && session()?.catchUps === undefined);
  lost('four');
  publish('five');
  await waitFor('five held', () => proxy.held(0).includes('five'));
  proxy.release(0);
  await waitFor('five', () => items.events.includes('five'));
  t.same(items.events, ['one', 'two', 'three', 'four', 'five'], 'both holes refilled, without waiting for another item');
  t.same(gaps, [], 'no discontinuity');
});

t.test('sdk resubscribe - a hole\'s refill not answered in time is asked again, and the hole fills without another item', async (t) => {
  // Memory engine on purpose: the fault injection replaces its fan-out and holds a subscribe.
  const server = await startServer(t, { engine: 'memory' });
  const token = (await server.auth.mintDisposableToken({ scope: roomScope, expiresInSec: 300, tokenId: 'hal' })).token;
  const hal = await sdkFor(t, server, { token, requestTimeoutMs: 1000, reconnectBaseMs: 20, reconnectMaxMs: 100 });
  const engine = server.broker['deps'].engine as MemoryEngine;
  const fanout = engine.topics['fanout'];
  const publish = (v: string) => engine.topics.publish('chat', 'room7', v, 'hal');
  const subscribe = engine.topics.subscribe.bind(engine.topics);
  // The refill's `sub` (the second) is set up only once let go: answered past the client's
  // timeout. The ones after it go through.
  let subscribes = 0;
  let letGo: (() => void) | undefined;
  engine.topics.subscribe = (cache, topic, who) => {
    if (++subscribes !== 2) return subscribe(cache, topic, who);
    return new Promise((resolve, reject) => { letGo = () => { subscribe(cache, topic, who).then(resolve, reject); }; });
  };
  t.teardown(() => letGo?.());
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  await hal.topics.subscribe('chat', 'room7', { onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  publish('one');
  await items.until(1);
  // Fault injection: 'two' never carried live (a hole), 'three' is, and starts the refill.
  engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
  publish('two');
  engine.topics['fanout'] = fanout;
  publish('three');
  await waitFor('two, refilled', () => items.events.includes('two'));
  t.ok(letGo, 'the first refill was held');
  await items.until(2);
  t.same(items.events, ['one', 'two', 'three'], 'every item once, in order, nothing published after the hole');
  t.same(gaps, [], 'no discontinuity');
});

/** Publishes in order; the last one's reply (a node of engine redis holds no position of a topic
 * it has no subscribers of, so the page comes from here). */
async function publishAll(client: Awaited<ReturnType<typeof sdkFor>>, topic: string, values: string[]): Promise<TopicPublish.Success> {
  let last: TopicPublish.Success | undefined;
  for (const v of values) last = (await client.topics.publish('chat', topic, v)) as TopicPublish.Success;
  return last!;
}
