/** A resubscription after a reconnect refused with topic_subscriptions_limit_exceeded because the
 * old, half-open connection still holds the subscriptions on the server (it has not noticed the
 * link died): the SDK asks again with the reconnect backoff instead of ending the subscription; a
 * fresh subscribe refused that way still fails at once. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached, collector, chatScope } from '../helpers/sdk.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { LimitCause, PermissionScopes, TopicSubscribe } from '../../src/client/index.js';

/** tokenId `limited` (limit 1) subscribed to chat/room through a proxy, holding item 'one', whose
 * link then dies without a close: the SDK's watchdog reconnects while the server still holds the
 * old, half-open session and its subscription. */
async function halfOpenSubscriber(t: Test) {
  const server = await startServer(t, { config: { server: { heartbeatMs: 100 }, limits: { maxSubscriptionsPerTokenId: 1 } } });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  const scope = PermissionScopes.combine(chatScope, PermissionScopes.topicPresence('chat', { namePrefix: 'room' }));
  const token = (await server.auth.mintDisposableToken({ scope, expiresInSec: 300, tokenId: 'limited' })).token;
  const sdk = await sdkFor(t, server, { url: `ws://127.0.0.1:${proxy.port}/v1/ws`, token, reconnectBaseMs: 20, reconnectMaxMs: 100 });
  const got = itemCollector();
  const errors = collector<string>();
  const sub = await sdk.topics.subscribe('chat', 'room', { ...got.callbacks, onError: (e) => errors.push(`${e.errorCode()} ${e.limitCause() ?? ''}`) });
  t.ok(sub instanceof TopicSubscribe.Subscription);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'room', 'one');
  await got.items.until(1);
  proxy.freeze();
  await statusReached(sdk.connection, 'reconnecting');
  await statusReached(sdk.connection, 'open');
  const limited = () => [...server.broker.sessions.values()].filter((s) => s.grant?.tokenId === 'limited');
  return { server, proxy, sdk, got, errors, sub: sub as TopicSubscribe.Subscription, publisher, limited };
}

t.test('a resubscription refused by the per-tokenId limit while the old link is half-open is retried', async (t) => {
  const { proxy, got, errors, sub, publisher, limited } = await halfOpenSubscriber(t);
  await publisher.topics.publish('chat', 'room', 'two');
  // The resubscription is refused (the old session still counts); give the SDK a few retries.
  await waitFor('the new session', () => limited().length === 2);
  t.equal(limited().filter((s) => s.subscriptions.size > 0).length, 1, 'only the half-open session holds the subscription');
  // The server notices the dead link (both ends closed): the slot is free.
  proxy.heal();
  await waitFor('the new session subscribed', () => limited().length === 1 && limited()[0]!.subscriptions.size === 1);
  await publisher.topics.publish('chat', 'room', 'three');
  await got.items.until(3);
  t.same(got.values(), ['one', 'two', 'three'], 'every item once, in order, resumed from the position');
  t.same(errors.events, [], 'no onError');
  t.ok(sub.isSubscribed);
});

t.test('a presence resubscription on the open link refused by the limit is retried too', async (t) => {
  const { server, proxy, sdk, got, errors, sub, publisher, limited } = await halfOpenSubscriber(t);
  // The resubscription after the reconnect is refused and asked again. Meanwhile a second local
  // subscriber asks for presence: the SDK sends unsub + sub on the open link, refused as well.
  const refusals = () => server.broker.refusals.limitCauses.get(LimitCause.SUBSCRIPTIONS) ?? 0;
  await waitFor('the resubscription refused', () => refusals() >= 1);
  const before = refusals();
  t.equal((await sdk.topics.subscribe('chat', 'room', { presence: true })).type, 'Subscription');
  // Replies come in order on the link: the second refusal counted after the upgrade is its own or a later one.
  await waitFor('the upgrade refused', () => refusals() >= before + 2 || errors.events.length > 0);
  t.same(errors.events, [], 'the refusal did not end the subscription');
  if (errors.events.length > 0) return;
  proxy.heal();
  await waitFor('the new session subscribed with presence', () => limited().length === 1 && limited()[0]!.subscriptions.size === 1
    && [...limited()[0]!.subscriptions.values()][0]!.presence === true);
  await publisher.topics.publish('chat', 'room', 'two');
  await got.items.until(2);
  t.same(got.values(), ['one', 'two'], 'every item once, in order');
  t.same(errors.events, [], 'no onError');
  t.ok(sub.isSubscribed);
});

t.test('a fresh subscribe refused by the per-tokenId limit fails at once', async (t) => {
  const server = await startServer(t, { config: { limits: { maxSubscriptionsPerTokenId: 1 } } });
  const sdk = await sdkFor(t, server, { tokenId: 'limited' });
  t.ok(await sdk.topics.subscribe('chat', 'first') instanceof TopicSubscribe.Subscription);
  const refused = await sdk.topics.subscribe('chat', 'second');
  t.ok(refused instanceof TopicSubscribe.Error);
  t.equal((refused as TopicSubscribe.Error).errorCode(), 'LIMIT_EXCEEDED_ERROR');
  t.equal((refused as TopicSubscribe.Error).limitCause(), 'topic_subscriptions_limit_exceeded');
});
