/** Unsubscribe, then at once subscribe to the same topic: items the server sent the old
 * subscription before it took the `unsub` arrive while the new one is pending, and the new one
 * delivers them (older items: they came before its `sub`). Checked here: that stays within the
 * contract, each item once, in order, nothing lost after the new subscription's start, also when an
 * item published between the server's unsub and sub leaves a hole behind those in-flight items; and
 * a `disc` or `end` the server sent the old subscription is not the new one's. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, collector, chatScope } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, TopicPublish, TopicSubscribe, type Scope, type TopicDiscontinuity } from '../../src/client/index.js';

t.test('items in flight for an unsubscribed subscription reach the next one once, in order, without a gap', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, tokenId: 'churn' });
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  const first = collector<number>();
  const old = await sdk.topics.subscribe('chat', 'churn', { onItem: (i) => first.push(i.sequenceNumber()) });
  await publisher.topics.publish('chat', 'churn', 'a');
  await first.until(1);
  // What the server sends from now on is held: items 2 and 3 are in flight to the old subscription.
  proxy.hold(0);
  await publisher.topics.publish('chat', 'churn', 'b');
  await publisher.topics.publish('chat', 'churn', 'c');
  (old as TopicSubscribe.Subscription).unsubscribe();
  const second = collector<number>();
  const gaps: unknown[] = [];
  const pending = sdk.topics.subscribe('chat', 'churn', { onItem: (i) => second.push(i.sequenceNumber()), onDiscontinuity: (d) => gaps.push(d) });
  // (Requests still reach the server; whether it took the unsub and sub before or after the next
  // publish, the checks below must hold.)
  const session = () => [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'churn');
  await waitFor('the server holds a subscription', () => session()?.subscriptions.size === 1);
  // Published between the server's unsub and sub, or after: the new subscription starts after them or gets them.
  await publisher.topics.publish('chat', 'churn', 'd');
  proxy.release(0);
  t.ok(await pending instanceof TopicSubscribe.Subscription);
  await publisher.topics.publish('chat', 'churn', 'e');
  await waitFor('item 5', () => second.events.includes(5));
  t.same(first.events, [1], 'the old subscription got nothing after unsubscribe()');
  const seqs = second.events;
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'in order');
  t.equal(new Set(seqs).size, seqs.length, 'once');
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i), 'no gap');
  t.same(gaps, [], 'no discontinuity');
  t.comment(`the new subscription delivered seqs ${seqs.join(',')}`);
});

t.test('an item published between the unsub and the new sub leaves a hole behind the in-flight items: it is refilled', async (t) => {
  // Memory engine on purpose: its publish fans out before it is acknowledged, so item 2 is surely in
  // flight to the old subscription (engine redis fans out when the node reads the channel message).
  const server = await startServer(t, { engine: 'memory' });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, tokenId: 'churn' });
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  const first = collector<number>();
  const old = await sdk.topics.subscribe('chat', 'churn2', { onItem: (i) => first.push(i.sequenceNumber()) });
  await publisher.topics.publish('chat', 'churn2', 'a');
  await first.until(1);
  // Held from here: item 2 is in flight to the old subscription, and reaches the new one first.
  proxy.hold(0);
  await publisher.topics.publish('chat', 'churn2', 'b');
  (old as TopicSubscribe.Subscription).unsubscribe();
  // Seq 3, taken by the server between the unsub and the sub: the new subscription starts after it.
  const between = sdk.topics.publish('chat', 'churn2', 'x');
  const second = collector<number>();
  const gaps: unknown[] = [];
  const pending = sdk.topics.subscribe('chat', 'churn2', { onItem: (i) => second.push(i.sequenceNumber()), onDiscontinuity: (d) => gaps.push(d) });
  const session = () => [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'churn');
  await waitFor('the server took the unsub, the publish and the sub', () => session()?.subscriptions.size === 1 && server.engine.topics.position('chat', 'churn2')?.seq === 3);
  // Seq 4, after the new subscription started: it must be delivered. Its item reaches the SDK with
  // the sub's reply, after item 2: a hole (3) seen before the confirmation.
  await publisher.topics.publish('chat', 'churn2', 'd');
  proxy.release(0);
  t.ok(await pending instanceof TopicSubscribe.Subscription);
  t.equal((await between).type, 'Success');
  await waitFor('item 4', () => second.events.includes(4));
  t.same(second.events, [2, 3, 4], 'each once, in order, the hole refilled');
  t.same(gaps, [], 'no discontinuity: the window held item 3');
});

t.test('a subscribe() cancelled while its sub is in flight leaves the server no subscription: the next one is taken', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server, { tokenId: 'cancelling' });
  await sdk.connection.ready();
  const abort = new AbortController();
  const cancelled = sdk.topics.subscribe('chat', 'cancelled', { signal: abort.signal });
  abort.abort();
  t.equal((await cancelled).type, 'Error', 'cancelled');
  const items = collector<string>();
  const again = await sdk.topics.subscribe('chat', 'cancelled', { onItem: (i) => items.push(i.valueString()) });
  t.equal(again.type, 'Subscription', `subscribed again (${again})`);
  await sdk.topics.publish('chat', 'cancelled', 'x');
  t.same(await items.until(1), ['x']);
});

t.test('an `end` the server sent the old subscription, read once the new one is pending, leaves the new one live', async (t) => {
  const server = await startServer(t);
  const mint = async (scope: Scope) => (await server.auth.mintDisposableToken({ scope, expiresInSec: 300, tokenId: 'rotating' })).token;
  const sdk = await sdkFor(t, server, { token: await mint(chatScope) });
  const narrow = await mint(PermissionScopes.topicPublishSubscribe('chat', 'elsewhere'));
  const wide = await mint(chatScope);
  const old = await sdk.topics.subscribe('chat', 'rotated');
  // On the one connection, in this order: a token that no longer allows the topic (the server ends
  // the old subscription with an `end`), the unsub, the wide token again, the new sub. The `end`
  // is read while the new subscription is pending.
  const narrowed = sdk.connection.request({ t: 'auth', token: narrow });
  (old as TopicSubscribe.Subscription).unsubscribe();
  const widened = sdk.connection.request({ t: 'auth', token: wide });
  const items = collector<string>();
  const errors: unknown[] = [];
  const pending = sdk.topics.subscribe('chat', 'rotated', { onItem: (i) => items.push(i.valueString()), onError: (e) => errors.push(e) });
  t.same((await narrowed).ended, [{ cache: 'chat', topic: 'rotated' }], 'the server ended the old subscription');
  await widened;
  const sub = await pending;
  t.equal(sub.type, 'Subscription', `the new one is taken (${sub})`);
  await sdk.topics.publish('chat', 'rotated', 'x');
  t.same(await items.until(1), ['x'], 'and gets the next item');
  t.ok((sub as TopicSubscribe.Subscription).isSubscribed, 'still subscribed');
  t.same(errors, [], 'no onError');
});

t.test('a `disc` the server sent the old subscription, read once the new one is pending, is no discontinuity of the new one', async (t) => {
  // Memory engine on purpose: its subscribe answers at once, so the server takes the first `sub`
  // whole (reply, disc) before the unsub behind it (engine redis takes the unsub first: no disc).
  const server = await startServer(t, { engine: 'memory' });
  const sdk = await sdkFor(t, server, { tokenId: 'resuming' });
  const { page } = await sdk.topics.publish('chat', 'resumed', '1') as TopicPublish.Success;
  // Resumed from an older page, the first `sub` gets a disc onto the current one; it is cancelled
  // at once, and the next subscribe() sent after its unsub.
  const abort = new AbortController();
  const cancelled = sdk.topics.subscribe('chat', 'resumed', { resumeFrom: { page: page - 1, seq: 5 }, signal: abort.signal });
  abort.abort();
  t.equal((await cancelled).type, 'Error', 'cancelled');
  const items = collector<string>();
  const gaps: TopicDiscontinuity[] = [];
  const sub = await sdk.topics.subscribe('chat', 'resumed', { onItem: (i) => items.push(i.valueString()), onDiscontinuity: (d) => gaps.push(d) });
  t.equal(sub.type, 'Subscription');
  await sdk.topics.publish('chat', 'resumed', '2');
  await waitFor('item 2', () => items.events.includes('2'));
  t.same(gaps.map((d) => [d.lastSequenceNumber(), d.newSequenceNumber()]), [], 'no discontinuity');
});
