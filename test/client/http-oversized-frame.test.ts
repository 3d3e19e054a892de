/** Over the SDK's fallback transport, a request frame larger than http.maxStreamPostBytes fails at
 * once with a typed error and the link stays up (it was sent, refused with 413, the link dropped,
 * and it was sent again after reconnecting until its timeout). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { TopicPublish } from '../../src/client/index.js';

t.test('a frame larger than the POST limit fails at once, without dropping the link', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server, { transport: 'http', webSocket: undefined, requestTimeoutMs: 3000 });
  await statusReached(sdk.connection, 'open');
  let reconnects = 0;
  sdk.connection.onStatus((s) => { if (s.state === 'reconnecting') reconnects++; });
  const started = Date.now();
  const r = await sdk.topics.publish('chat', 'big', 'x'.repeat(3 * 1024 * 1024));
  const ms = Date.now() - started;
  t.ok(r instanceof TopicPublish.Error, String(r));
  t.notMatch(String(r), /TIMEOUT/, `a typed error, not a timeout: ${String(r)}`);
  t.ok(ms < 1000, `answered in ${ms} ms`);
  t.equal(reconnects, 0, 'the link stays up');
  const ok = await sdk.topics.publish('chat', 'big', 'small');
  t.ok(ok instanceof TopicPublish.Success, 'the connection still works');
});
