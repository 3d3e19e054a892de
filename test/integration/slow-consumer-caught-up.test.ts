/** A detached (slow) connection whose catch-ups ended by unsubscribing (or a narrowed refresh),
 * not by draining, is attached again: not closed with 4002 at the deadline while it keeps up. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

type Paused = { _socket: { pause(): void; resume(): void } };
const pausable = (c: RawClient) => (c.ws as unknown as Paused)._socket;

t.test('a connection that caught up (it left the busy topic) is not closed as a slow consumer', async (t) => {
  const server = await startServer(t, { config: {
    server: { maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 256 * 1024, slowConsumerTimeoutMs: 1500 },
    topics: { windowItems: 20_000, windowBytes: 32 * 1024 * 1024 },
  } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const slow = await RawClient.open(server, token);
  await slow.ok({ t: 'sub', cache: 'chat', topic: 'firehose' });
  pausable(slow).pause();
  const pub = await RawClient.open(server, token);
  const payload = 'p'.repeat(1024);
  for (let i = 1; i <= 20_000; i++) pub.send({ t: 'pub', cache: 'chat', topic: 'firehose', value: `${i}:${payload}` });
  await pub.ok({ t: 'ping' });
  t.equal(server.broker.slowConsumers.detached, 1, 'the stalled subscriber was detached');
  // It leaves the busy topic (its catch-up ends with the subscription) and reads again.
  const unsub = slow.send({ t: 'unsub', cache: 'chat', topic: 'firehose' });
  pausable(slow).resume();
  await slow.next((f) => f['t'] === 'ok' && f['id'] === unsub, 10_000);
  // Healthy now: it subscribes to a quiet topic and keeps up with it.
  await slow.ok({ t: 'sub', cache: 'chat', topic: 'quiet' });
  for (let i = 0; i < 6; i++) {
    await pub.ok({ t: 'pub', cache: 'chat', topic: 'quiet', value: `q${i}` });
    await slow.items(1, (f) => f['topic'] === 'quiet', 2000).catch(() => []);
    await new Promise((r) => setTimeout(r, 400));
  }
  t.equal(server.broker.slowConsumers.detached, 0, 'no longer counted as detached');
  t.equal(slow.closed, undefined, `the connection stays open (closed: ${JSON.stringify(slow.closed)})`);
  slow.close(); pub.close();
});
