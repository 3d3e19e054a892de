/** A request frame over the server's maxFrameBytes (named in hello) fails at once with a typed
 * error and is never sent: over twice the limit uWS would drop the socket, and the SDK would
 * reconnect and resend it until its timeout. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { TopicPublish } from '../../src/client/index.js';

t.test('a frame over 2 x maxFrameBytes over WebSocket fails at once; the link stays up', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server, { transport: 'websocket', requestTimeoutMs: 3000 });
  await statusReached(sdk.connection, 'open');
  let reconnects = 0;
  sdk.connection.onStatus((s) => { if (s.state === 'reconnecting') reconnects++; });
  const started = Date.now();
  const r = await sdk.topics.publish('chat', 'big', 'x'.repeat(3 * 1024 * 1024));
  const ms = Date.now() - started;
  t.ok(r instanceof TopicPublish.Error, String(r));
  t.match(String(r), /LIMIT_EXCEEDED/, `a typed limit error: ${String(r)}`);
  t.ok(ms < 1000, `answered in ${ms} ms`);
  t.equal(reconnects, 0, 'the link stays up');
  const ok = await sdk.topics.publish('chat', 'big', 'small');
  t.ok(ok instanceof TopicPublish.Success, 'the connection still works');
});
