/** A request that reaches a server draining for a graceful shutdown is refused SERVER_UNAVAILABLE
 * (cause server_shutting_down): not applied, and the link closes right after. The SDK holds it
 * like a request made while disconnected and sends it after the reconnect, instead of handing the
 * app an error a moment before the reconnect it would have waited for anyway. */
import t from 'tap';
import { startServer, startServerOnProxiedRedis } from '../helpers/server.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait.js';
import { TopicPublish } from '../../src/client/index.js';

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
