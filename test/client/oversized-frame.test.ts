/** A request frame too large for the server fails at once with a typed error and is never sent,
 * and the link stays up: over WebSocket, a frame over the server's maxFrameBytes (named in hello;
 * over twice it uWS would drop the socket); over the fallback transport, one larger than
 * http.maxStreamPostBytes (413). Before, the SDK reconnected and resent it until its timeout. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { TopicPublish } from '../../src/client/index.js';

for (const transport of ['websocket', 'http'] as const) {
  t.test(`a frame too large for the server fails at once over ${transport}; the link stays up`, async (t) => {
    const server = await startServer(t);
    const sdk = await sdkFor(t, server, transport === 'http' ? { transport, webSocket: undefined, requestTimeoutMs: 3000 } : { transport, requestTimeoutMs: 3000 });
    await statusReached(sdk.connection, 'open');
    let reconnects = 0;
    sdk.connection.onStatus((s) => { if (s.state === 'reconnecting') reconnects++; });
    const r = await sdk.topics.publish('chat', 'big', 'x'.repeat(3 * 1024 * 1024));
    t.ok(r instanceof TopicPublish.Error, String(r));
    t.match(String(r), /LIMIT_EXCEEDED/, `a typed limit error, not a timeout: ${String(r)}`);
    t.equal(reconnects, 0, 'the link stays up');
    const ok = await sdk.topics.publish('chat', 'big', 'small');
    t.ok(ok instanceof TopicPublish.Success, 'the connection still works');
  });
}
