/** The SDK's fallback transport keeps each POST within http.maxStreamPostBytes (the stream's open
 * event names it): a burst of publishes queued while a POST is in flight goes out in several. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { TopicPublish } from '../../src/client/index.js';

t.test('a burst of publishes larger than maxStreamPostBytes over the http transport', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server, { transport: 'http', webSocket: undefined, requestTimeoutMs: 8000 });
  await statusReached(sdk.connection, 'open');
  let reconnects = 0;
  sdk.connection.onStatus((s) => { if (s.state === 'reconnecting') reconnects++; });
  const value = 'x'.repeat(60 * 1024);
  // 50 × 60 KiB = 3 MiB queued behind the first POST; the default limit is 2 MiB.
  const results = await Promise.all(Array.from({ length: 50 }, () => sdk.topics.publish('chat', 'burst', value)));
  const failed = results.filter((r) => !(r instanceof TopicPublish.Success));
  t.equal(failed.length, 0, `every publish succeeds (failed: ${failed.length}, first: ${String(failed[0])})`);
  t.equal(reconnects, 0, 'no reconnect');
});
