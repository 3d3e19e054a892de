/** An SSE stream the server ends while its socket is congested (a stalled reader: slow consumer,
 * hard limit) releases its socket: ended gracefully, uWS would keep the response and the socket for
 * as long as the peer stays connected without reading, outside every connection limit. A slow
 * consumer's stream gets server.shutdownGraceMs to take its last events (its `bye`), keeping its
 * connection slot meanwhile; then its socket is closed. */
import t from 'tap';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { eventually } from '../helpers/wait.js';

/** Sockets on 127.0.0.1:port in state ESTABLISHED (01), from the kernel's own table. */
function established(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] === local && f[3] === '01').length;
}

t.test('stalled SSE streams ended by the server do not keep their sockets', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 2, maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 256 * 1024, slowConsumerTimeoutMs: 300, shutdownGraceMs: 300 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('c', '*'));
  const pub = await RawClient.open(server, token);
  const streams = () => [...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0).length;
  const sockets: net.Socket[] = [];
  t.teardown(() => { pub.close(); for (const s of sockets) s.destroy(); });
  const payload = 'x'.repeat(16 * 1024);
  const N = 5;
  for (let k = 0; k < N; k++) {
    const socket = net.connect({ port: server.port, host: '127.0.0.1' });
    sockets.push(socket);
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /v1/sse?cache=c&topic=flood HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    const head = await new Promise<string>((r) => socket.once('data', (d) => r(d.toString())));
    t.match(head, /^HTTP\/1\.1 200/, `stalled stream ${k + 1} admitted`);
    socket.pause(); // and never read again
    for (let i = 0; i < 5000 && streams() > 0; i++) {
      pub.send({ t: 'pub', cache: 'c', topic: 'flood', value: payload });
      if (i % 50 === 0) await pub.ok({ t: 'ping' });
    }
    const deadline = Date.now() + 5000;
    while (streams() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.equal(streams(), 0, `stalled stream ${k + 1} ended by the server`);
    // Its slot is held while it may still take its bye, then given back with the socket: the next
    // stream is admitted (maxConnections 2: the publisher and one stream).
    t.ok(await eventually(() => established(server.port) <= 1, 5000), `stalled stream ${k + 1}'s socket closed after the grace`);
  }
  const open = established(server.port);
  t.ok(open <= 1, `server-side sockets still ESTABLISHED: ${open} (the publisher's WebSocket, and none of the ${N} ended streams)`);
});
