/** A server restart: the SDK learns each topic's final position from the shutdown `bye` and, when
 * it resumes on a restarted memory engine (a new page), reports how many items of the old page it
 * missed, then carries on live. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached } from '../helpers/sdk.js';
import { generateSigningKey, type MemoryEngine } from '../../src/index.js';

t.test('restart - after a graceful restart the discontinuity says how many items of the old page were missed', async (t) => {
  const signingKeys = [generateSigningKey()];
  // Memory engine on purpose: the fault injection replaces its fan-out, and its restart starts a new page.
  const first = await startServer(t, { engine: 'memory', config: { auth: { signingKeys } } });
  const sdk = await sdkFor(t, first);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'restart', got.callbacks);
  for (const v of ['1', '2']) await sdk.topics.publish('chat', 'restart', v);
  await got.items.until(2);
  // Fault injection: items 3–5 are recorded but never reach the socket (as if they were still
  // queued when the old server went away), so the client holds seq 2 of a page that ended at 5.
  const engine = first.broker['deps'].engine as MemoryEngine;
  const fanout = engine.topics['fanout'];
  engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
  for (const v of ['3', '4', '5']) engine.topics.publish('chat', 'restart', v, 'sdk-user');
  engine.topics['fanout'] = fanout;

  const reconnecting = statusReached(sdk.connection, 'reconnecting', () => true, 10_000);
  await first.close();
  await reconnecting;
  const second = await startServer(t, { engine: 'memory', config: { server: { port: first.port }, auth: { signingKeys } } });
  const [gap] = await got.gaps.until(1, 10_000);
  t.equal(gap!.missedFromPreviousPage(), 3, 'items 3, 4 and 5 of the old page were missed, and the client is told');
  t.equal(gap!.lastSequenceNumber(), 2, 'it held seq 2');
  t.ok(gap!.newSequencePage() > got.items.events[0]!.sequencePage(), 'the restarted topic is on a new page');
  await sdk.topics.publish('chat', 'restart', 'after');
  await got.items.until(3);
  t.equal(got.values().at(-1), 'after', 'live again on the new server');
  t.equal(second.port, first.port, "the same address");
});
