/** The ceiling for our stack: uWebSockets.js pub/sub with no auth, no history, no framing of its
 * own. Binary messages: `s<topic>` subscribes (answered with a text "s"), `p<len8><topic><payload>`
 * publishes the payload bytes as they are. Same socket options as Tidings' ws-handlers.ts. */
import uWS, { type TemplatedApp } from 'uWebSockets.js';
import { announce, portArg } from './lifecycle.js';

const S = 0x73;
const P = 0x70;
// Experiment switch (not used by the suite): each socket also joins a shared topic and a topic of
// its own, as a Tidings connection does (heartbeat key + per-connection key), to price them.
const extraTopics = process.env['BENCH_BARE_EXTRA_TOPICS'] === '1';
let socketSeq = 0;
const app = uWS.App();
app.ws('/ws', {
  compression: uWS.DISABLED,
  maxPayloadLength: 1024 * 1024,
  maxBackpressure: 1024 * 1024,
  closeOnBackpressureLimit: 1,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  open(ws) {
    if (extraTopics) { ws.subscribe('\u0001hb'); ws.subscribe(`\u0001c${socketSeq++}`); }
  },
  message(ws, message) {
    const bytes = new Uint8Array(message);
    if (bytes[0] === S) {
      ws.subscribe(Buffer.from(message, 1).toString('latin1'));
      ws.send('s', false);
    } else if (bytes[0] === P) {
      const topicEnd = 2 + bytes[1]!;
      app.publish(Buffer.from(message, 2, bytes[1]!).toString('latin1'), bytes.subarray(topicEnd), true);
    }
  },
});
app.listen('127.0.0.1', portArg(), (socket) => {
  if (!socket) throw new Error('listen failed');
  announce(uWS.us_socket_local_port(socket), () => {
    uWS.us_listen_socket_close(socket);
    (app as TemplatedApp & { close(): void }).close();
  });
});
