/** A request that reaches a server draining for a graceful shutdown is refused SERVER_UNAVAILABLE
 * (cause server_shutting_down): not applied, and the link closes right after. The SDK holds it
 * like a request made while disconnected and sends it after the reconnect, instead of handing the
 * app an error a moment before the reconnect it would have waited for anyway. Not its `unsub`: the
 * close ends that subscription, and resent it would end the one made meanwhile. */
import t from 'tap';
import { startServer, startServerOnProxiedRedis } from '../helpers/server.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, TopicPublish, TopicSubscribe } from '../../src/client/index.js';

t.test('a publish refused because the server is draining is sent again after the reconnect, within maxQueuedRequests', async (t) => {
  const started = await startServerOnProxiedRedis(t);
  if (!started) return;
  const { server: first, redis } = started;
  const signingKey = first.config.auth.signingKeys[0]!;
  const sdk = await sdkFor(t, first, { tokenId: 'drained', reconnectBaseMs: 20, reconnectMaxMs: 100, maxQueuedRequests: 1 });
  await sdk.connection.ready();
  // A request the server holds (Redis does not answer) keeps the connection in the drain, open.
  redis.freeze();
  const held = sdk.topics.publish('chat', 'drain', 'held');
  const session = [...first.broker.sessions.values()].find((s) => s.grant?.tokenId === 'drained')!;
  await waitFor('the held request', () => session.pending > 0);
  const closing = first.close();
  await waitFor('the drain', () => (first.broker as unknown as { draining: boolean }).draining);
  const during = sdk.topics.publish('chat', 'drain', 'during the drain');
  // The queue holds one request: a second refusal is the app's to handle, not queued past the bound.
  const beyond = sdk.topics.publish('chat', 'drain', 'beyond the queue bound');
  t.equal((await held).type, 'Error', 'the held one fails (Redis is away: SERVER_UNAVAILABLE, maybe applied)');
  const refused = await beyond;
  t.equal(refused instanceof TopicPublish.Error && refused.errorCode(), 'SERVER_UNAVAILABLE', `no room to wait in: the refusal is the app's (${refused})`);
  await statusReached(sdk.connection, 'reconnecting');
  t.equal(sdk.connection.queued.requests, 1, 'the one refused first waits, within maxQueuedRequests');
  await closing;
  redis.heal();
  const second = await startServer(t, { engine: 'memory', config: { server: { port: first.port }, auth: { signingKeys: [signingKey] } } });
  const result = await during;
  t.ok(result instanceof TopicPublish.Success, `sent again on the restarted server (${result})`);
  t.equal(second.engine.topics.position('chat', 'drain')?.seq, 1, 'applied once, there');
});

t.test('subscriptions changed during the drain: their refused sub and unsub are not sent again on the next link', async (t) => {
  const started = await startServerOnProxiedRedis(t);
  if (!started) return;
  const { server: first, redis } = started;
  const signingKey = first.config.auth.signingKeys[0]!;
  const scope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.topicPresence('chat', { namePrefix: 'drain' }));
  const token = (await first.auth.mintDisposableToken({ scope, expiresInSec: 300, tokenId: 'churned' })).token;
  const sdk = await sdkFor(t, first, { token, reconnectBaseMs: 20, reconnectMaxMs: 100 });
  const errors: unknown[] = [];
  const gone = await sdk.topics.subscribe('chat', 'drain-again', {});
  const upgradedItems: string[] = [];
  t.equal((await sdk.topics.subscribe('chat', 'drain-presence', { onItem: (i) => upgradedItems.push(i.valueString()), onError: (e) => errors.push(e) })).type, 'Subscription');
  redis.freeze();
  const held = sdk.topics.publish('chat', 'drain', 'held');
  const session = [...first.broker.sessions.values()].find((s) => s.grant?.tokenId === 'churned')!;
  await waitFor('the held request', () => session.pending > 0);
  const closing = first.close();
  await waitFor('the drain', () => (first.broker as unknown as { draining: boolean }).draining);
  // Refused by the draining server: the unsub of one topic, the unsub and sub of another's presence
  // upgrade, and the sub of a third, cancelled before the reconnect.
  (gone as TopicSubscribe.Subscription).unsubscribe();
  const upgraded = sdk.topics.subscribe('chat', 'drain-presence', { presence: true });
  const abort = new AbortController();
  const cancelled = sdk.topics.subscribe('chat', 'drain-zombie', { signal: abort.signal });
  await statusReached(sdk.connection, 'reconnecting');
  abort.abort();
  t.equal((await cancelled).type, 'Error');
  // Subscribed again before the reconnect: its `sub` goes out first on the next link.
  const againItems: string[] = [];
  const again = sdk.topics.subscribe('chat', 'drain-again', { onItem: (i) => againItems.push(i.valueString()), onError: (e) => errors.push(e) });
  await held;
  await closing;
  redis.heal();
  await startServer(t, { engine: 'memory', config: { server: { port: first.port }, auth: { signingKeys: [signingKey] } } });
  t.equal((await again).type, 'Subscription');
  t.equal((await upgraded).type, 'Subscription');
  await sdk.topics.publish('chat', 'drain-again', 'after');
  await sdk.topics.publish('chat', 'drain-presence', 'after');
  await waitFor('both items', () => againItems.includes('after') && upgradedItems.includes('after'));
  t.same(errors, [], 'no subscription ended');
  t.equal((await sdk.topics.subscribe('chat', 'drain-zombie', {})).type, 'Subscription', 'the server holds no subscription of the cancelled one');
});
