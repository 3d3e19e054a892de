/** Conformance: the official Momento SDKs (Node over gRPC, web over grpc-web-text under Node)
 * against a real Tidings server, topics: publish/subscribe, sequence numbers and pages,
 * heartbeat-first subscribe, resume after a dropped stream, discontinuity, permission errors, a
 * token expiring mid-subscription, and interop with a tidings/client subscriber and publisher on the
 * WebSocket path. Every case runs once per SDK (test/helpers/momento-sdks.ts); the cases about
 * items, pages, resume and retracts once per engine too. */
import t from 'tap';
import { MomentoErrorCode, NoopMomentoLoggerFactory, TopicClient, TopicConfigurations, type TopicDiscontinuity, type TopicItem, type TopicSubscribe } from '@gomomento/sdk';
import { CloseCode, ManualClock, PermissionScopes, type MemoryEngine, type Position, type TidingsServer } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import type { Session } from '../../src/engine/session.js';
import { collector, itemCollector, sdkFor } from '../helpers/sdk.js';
import { apiKeyFor, credentialFor, errorCode, startMomentoServer } from '../helpers/momento.js';
import { testEachEngine } from '../helpers/server.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';

function subscriber() {
  const items = collector<TopicItem>();
  const gaps = collector<TopicDiscontinuity>();
  const errors = collector<TopicSubscribe.Error>();
  const lost = collector<true>();
  return {
    items, gaps, errors, lost,
    options: { onItem: items.push, onDiscontinuity: gaps.push, onError: (e: TopicSubscribe.Error) => errors.push(e), onConnectionLost: () => lost.push(true) },
  };
}

/** Ends every live gRPC Subscribe stream from the server side as a restart would (UNAVAILABLE). */
function dropStreams(server: TidingsServer): number {
  let n = 0;
  for (const session of [...server.broker.sessions.values()]) {
    if (session.subscriptions.size > 0) { server.broker.bye(session, CloseCode.SHUTDOWN, 'test drops the stream'); n++; }
  }
  return n;
}

/** Publishes to chat/r synchronously, as the backend would, with nothing in between. */
function publishNow(server: TidingsServer, values: string[]): void {
  for (const v of values) void server.engine.topics.publish('chat', 'r', v, 'backend');
}

/** The live Subscribe streams' sessions on the server. */
function streamSessions(server: TidingsServer): Session[] {
  return [...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0);
}

t.test('node-sdk - the first stream ends OK before the SDK’s deadline: no onConnectionLost, an immediate resubscribe, nothing lost', async (t) => {
  const server = await startMomentoServer(t);
  // The SDK's request timeout is the first stream's deadline (5 s by default); 2 s keeps this short.
  const topics = new TopicClient({
    configuration: TopicConfigurations.Default.latest(new NoopMomentoLoggerFactory()).withClientTimeoutMillis(2000),
    credentialProvider: credentialFor(server, await apiKeyFor(server)),
  });
  const s = subscriber();
  const heartbeats = collector<true>();
  const sub = await topics.subscribe('chat', 'r', { ...s.options, onHeartbeat: () => heartbeats.push(true) }) as TopicSubscribe.Subscription;
  t.teardown(() => sub.unsubscribe());
  const [first] = streamSessions(server);
  // Nothing was published, so the SDK resubscribes live-only: had it waited its 500 ms after a
  // DEADLINE_EXCEEDED, an item published meanwhile would never reach it. Every stream starts with
  // a heartbeat, sent once the subscription is in place.
  await heartbeats.until(2, 5000);
  t.ok(streamSessions(server).every((x) => x !== first), 'a new stream');
  t.equal(s.lost.events.length, 0, 'the SDK saw no lost connection');
  t.equal(s.errors.events.length, 0);
  publishNow(server, ['after']);
  t.same((await s.items.until(1)).map((i) => i.valueString()), ['after']);
});

for (const sdk of SDKS) {
  testEachEngine(`${sdk.name} - text and binary items with sequence numbers, pages and the publisher tokenId`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'backend'));
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'room1', s.options);
    t.equal(kind(sub), 'Subscription', 'subscribe resolves (the server sent a heartbeat first)');
    t.equal(kind(await topics.publish('chat', 'room1', 'hello')), 'Success');
    t.equal(kind(await topics.publish('chat', 'room1', new Uint8Array([0, 255, 7]))), 'Success');
    const [text, binary] = await s.items.until(2);
    t.equal(text!.valueString(), 'hello');
    t.equal(text!.sequenceNumber(), 1);
    t.equal(text!.tokenId(), 'backend', 'publisher_id is the token id');
    t.same([...binary!.valueUint8Array()], [0, 255, 7]);
    t.equal(binary!.sequenceNumber(), 2);
    (sub as TopicSubscribe.Subscription).unsubscribe();
  });

  testEachEngine(`${sdk.name} - a dropped stream resumes from the window; past the window it reports a discontinuity`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine, config: { topics: { windowItems: 3 } } });
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server));
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'r', s.options) as TopicSubscribe.Subscription;
    await s.gaps.until(1); // the new subscription's position
    await topics.publish('chat', 'r', 'a');
    await s.items.until(1);
    t.equal(dropStreams(server), 1);
    // Published in the same tick, while the SDK waits to resubscribe (500 ms after UNAVAILABLE):
    // replayed on resume. (Through the engine directly, so no resubscribe can land in between.)
    publishNow(server, ['b', 'c']);
    await s.items.until(3);
    t.same(s.items.events.map((i) => i.valueString()), ['a', 'b', 'c'], 'nothing lost, nothing twice');
    t.same(s.items.events.map((i) => i.sequenceNumber()), [1, 2, 3]);
    // The Node SDK sees UNAVAILABLE (onConnectionLost, resubscribe 500 ms later); over grpc-web the
    // server ends the stream OK instead (the web SDK gives up on UNAVAILABLE) and it resubscribes at once.
    if (sdk.name === 'node-sdk') t.ok(s.lost.events.length >= 1, 'onConnectionLost fired');
    else t.equal(s.errors.events.length, 0, 'no error reached the web SDK’s caller');
    t.equal(s.gaps.events.length, 1, 'no discontinuity when the window covers the gap');

    t.equal(dropStreams(server), 1);
    publishNow(server, ['d', 'e', 'f', 'g', 'h']);
    await s.items.until(6);
    const gap = (await s.gaps.until(2))[1];
    t.equal(gap!.lastSequenceNumber(), 3);
    t.equal(gap!.newSequenceNumber(), 5, 'the window kept 3 items: 6, 7, 8, which resume after 5');
    t.same(s.items.events.slice(3).map((i) => i.valueString()), ['f', 'g', 'h']);
    sub.unsubscribe();
  });

  t.test(`${sdk.name} - a new subscription learns the topic's position at once: a stream ending before its first item loses nothing published meanwhile`, async (t) => {
    const server = await startMomentoServer(t);
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server));
    await topics.publish('chat', 'r', 'old');
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'r', s.options) as TopicSubscribe.Subscription;
    // As Momento does for a subscription with no page yet: a discontinuity naming the page and the
    // number after which items follow, which the SDK keeps as its position.
    const [announced] = await s.gaps.until(1);
    t.same([announced!.lastSequenceNumber(), announced!.newSequenceNumber()], [0, 1], 'items follow after 1');
    t.equal(announced!.newSequencePage(), server.engine.topics.position('chat', 'r')!.page);
    // The stream ends before any item (a dropped connection, or the Node SDK's first stream ended
    // before its deadline) and an item is published during the resubscribe: the SDK resumes from
    // the announced position instead of live-only, so the item is replayed.
    t.equal(dropStreams(server), 1);
    publishNow(server, ['during']);
    await waitFor('the resubscribed stream', () => streamSessions(server).length === 1);
    publishNow(server, ['after']);
    await waitFor('item after', () => s.items.events.some((i) => i.valueString() === 'after'));
    t.same(s.items.events.map((i) => i.valueString()), ['during', 'after']);
    t.equal(s.gaps.events.length, 1, 'no other discontinuity');
    sub.unsubscribe();
  });

  t.test(`${sdk.name} - a stream ending right after a discontinuity (a topic reset announced, its first item not yet sent) loses nothing`, async (t) => {
    const clock = new ManualClock(Date.now());
    const server = await startMomentoServer(t, { clock, config: { topics: { idleTopicMs: 1000 } } });
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server));
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'r', s.options) as TopicSubscribe.Subscription;
    await topics.publish('chat', 'r', 'a');
    await s.items.until(1);
    // The stream drops and, with no subscriber left, the idle topic is reset (same tick, so no
    // resubscribe lands in between): the resume from the old page gets a discontinuity announcing
    // the new, still empty page; its first item does not exist yet.
    t.equal(dropStreams(server), 1);
    clock.advance(5000);
    t.equal((server.engine as MemoryEngine).topics.registry.sweep(), 1, 'the idle topic is dropped');
    const reset = (await s.gaps.until(2))[1]; // after the new subscription's position
    const page = reset!.newSequencePage();
    t.not(page, 0);
    // The stream ends before that first item reaches the SDK (a network drop, a stream recycled),
    // and it is published during the resubscribe's round trip.
    await waitFor('the resubscribed stream', () => streamSessions(server).length === 1);
    t.equal(dropStreams(server), 1);
    publishNow(server, ['b']);
    await waitFor('the stream resubscribed again', () => streamSessions(server).length === 1);
    publishNow(server, ['c']);
    await waitFor('item c', () => s.items.events.some((i) => i.valueString() === 'c'));
    t.same(s.items.events.map((i) => i.valueString()), ['a', 'b', 'c'], 'the acknowledged item b is delivered');
    t.same(s.items.events.slice(1).map((i) => i.sequenceNumber()), [1, 2], 'numbered from 1 in the new page');
    // Momento's new_topic_sequence is the number after which items resume: the SDK stores it as
    // its last seen and resumes from the next one.
    t.equal(reset!.lastSequenceNumber(), 1);
    t.equal(reset!.newSequenceNumber(), 0, 'items resume after 0: the new page starts at 1');
    t.equal(s.gaps.events.length, 2, 'one discontinuity for the reset, after the subscription\'s position');
    sub.unsubscribe();
  });

  testEachEngine(`${sdk.name} - a moderator's retract is invisible: the next item skips its seq, with no discontinuity; a resume across a taken-down item delivers it`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server));
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'r', s.options) as TopicSubscribe.Subscription;
    // Targets come from the publishes' own results (what a backend sees), on either engine.
    const publish = async (value: string) => server.engine.topics.publish('chat', 'r', value, 'backend');
    const retract = (at: Position) => server.engine.groups.retract('chat', 'r', at, 'moderator', 'spam');
    const one = await publish('one');
    await s.items.until(1);
    // Live: 'one' was delivered before it was taken down, and stays delivered; the retract takes seq 2.
    t.match(await retract(one), { page: one.page, seq: 2, removed: false }, 'the retract is stamped seq 2');
    await publish('two');
    await s.items.until(2);
    t.same(s.items.events.map((i) => [i.valueString(), i.sequenceNumber()]), [['one', 1], ['two', 3]], 'seq 2 (the retract) is skipped');
    // Resuming from before an item that was taken down meanwhile replays the item, not its retract.
    t.equal(dropStreams(server), 1);
    const bad = await publish('bad');
    t.match(await retract(bad), { page: bad.page, seq: 5 }, 'the retract is stamped seq 5');
    await publish('three');
    await s.items.until(4);
    t.same(s.items.events.slice(2).map((i) => [i.valueString(), i.sequenceNumber()]), [['bad', 4], ['three', 6]]);
    t.equal(s.gaps.events.length, 1, 'the SDK reports no discontinuity for a skipped seq (only the new subscription\'s position)');
    t.equal(s.errors.events.length, 0);
    sub.unsubscribe();
  });

  testEachEngine(`${sdk.name} - a new subscription (resume_at 0) is live-only`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server));
    await topics.publish('chat', 'fresh', 'x');
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'fresh', s.options) as TopicSubscribe.Subscription;
    await topics.publish('chat', 'fresh', 'y');
    const [y] = await s.items.until(1);
    t.equal(y!.valueString(), 'y', 'a new subscription is live-only (resume_at 0)');
    t.equal(y!.sequenceNumber(), 2);
    sub.unsubscribe();
  });

  t.test(`${sdk.name} - scoped tokens: publish-only and subscribe-only, refusals as the SDK reports them`, async (t) => {
    const server = await startMomentoServer(t);
    const token = await server.auth.mintDisposableToken({
      scope: PermissionScopes.combine(PermissionScopes.topicPublishOnly('chat', 'room1-input'), PermissionScopes.topicSubscribeOnly('chat', 'room1')),
      expiresInSec: 60, tokenId: 'user:alice',
    });
    const { topics } = await sdk.clients(t, server, token.token);
    t.equal(kind(await topics.publish('chat', 'room1-input', 'hi')), 'Success');
    t.equal(errorCode(await topics.publish('chat', 'room1', 'skip the moderator')), MomentoErrorCode.PERMISSION_ERROR);
    const refused = await topics.subscribe('chat', 'room1-input', {});
    t.equal(kind(refused), 'Error', 'a refused subscribe resolves to TopicSubscribe.Error');
    t.equal(errorCode(refused), MomentoErrorCode.PERMISSION_ERROR);
    const ok = await topics.subscribe('chat', 'room1', {});
    t.equal(kind(ok), 'Subscription');
    (ok as TopicSubscribe.Subscription).unsubscribe();
  });

  t.test(`${sdk.name} - a token expiring during a subscription ends it with AUTHENTICATION_ERROR (no retry)`, async (t) => {
    // The server's clock is moved by hand once the subscription is on: on the real one the 3 s
    // token (2-3 s: exp is whole seconds) could run out before a loaded machine subscribed.
    const clock = new ManualClock(Date.now());
    const server = await startMomentoServer(t, { clock, config: { auth: { clockToleranceSec: 0 } } });
    const token = await server.auth.mintDisposableToken({ scope: PermissionScopes.topicSubscribeOnly('chat', 'room1'), expiresInSec: 3 });
    const { topics } = await sdk.clients(t, server, token.token);
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'room1', s.options);
    t.equal(kind(sub), 'Subscription', `subscribed (${String(sub)})`);
    clock.advance(3000);
    const [error] = await s.errors.until(1, 8000);
    t.equal(error!.errorCode(), MomentoErrorCode.AUTHENTICATION_ERROR);
    t.equal((sub as TopicSubscribe.Subscription).isSubscribed, false);
    t.equal([...server.broker.sessions.values()].filter((x) => x.subscriptions.size > 0).length, 0, 'the server released the stream');
  });

  testEachEngine(`${sdk.name} - interop: official SDK and tidings/client see the same items at the same (page, seq)`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'momento-user'));
    const ours = await sdkFor(t, server, { tokenId: 'ws-user' });
    const wsItems = itemCollector();
    await ours.topics.subscribe('chat', 'mixed', wsItems.callbacks);
    const s = subscriber();
    const sub = await topics.subscribe('chat', 'mixed', s.options) as TopicSubscribe.Subscription;
    await topics.publish('chat', 'mixed', 'from momento');
    await ours.topics.publish('chat', 'mixed', 'from tidings');
    const [m1, m2] = await s.items.until(2);
    const [w1, w2] = await wsItems.items.until(2);
    t.same([m1!.valueString(), m2!.valueString()], ['from momento', 'from tidings']);
    t.same([w1!.valueString(), w2!.valueString()], ['from momento', 'from tidings']);
    t.same([m1!.sequenceNumber(), m2!.sequenceNumber()], [w1!.sequenceNumber(), w2!.sequenceNumber()]);
    t.ok(w1!.sequencePage() > 0, 'pages are non-zero (the JS SDK has no page accessor; resume uses it internally)');
    t.same([m1!.tokenId(), m2!.tokenId()], ['momento-user', 'ws-user']);
    t.same([w1!.tokenId(), w2!.tokenId()], ['momento-user', 'ws-user']);
    sub.unsubscribe();
  });

  t.test(`${sdk.name} - past momento.maxStreams a subscribe is refused as a subscription limit; a refused stream gives back its slot once`, async (t) => {
    const server = await startMomentoServer(t, { config: { momento: { maxStreams: 1 } } });
    const scope = PermissionScopes.combine(PermissionScopes.topicSubscribeOnly('chat', 'a'), PermissionScopes.topicSubscribeOnly('chat', 'b'));
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server, scope));
    // Ended by its refusal and then by the 'error' it emits: counted off twice, it would leave
    // room for a second stream below.
    t.equal(errorCode(await topics.subscribe('chat', 'secret', {})), MomentoErrorCode.PERMISSION_ERROR);
    const first = await topics.subscribe('chat', 'a', {});
    t.equal(kind(first), 'Subscription');
    const second = await topics.subscribe('chat', 'b', {});
    t.equal(kind(second), 'Error');
    t.equal(errorCode(second), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
    t.match((second as TopicSubscribe.Error).message(), /Topic subscriptions limit exceeded/);
    (first as TopicSubscribe.Subscription).unsubscribe();
  });
}
