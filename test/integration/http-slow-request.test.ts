/** A plain HTTP request cannot be held open by trickling it: a request head that never completes,
 * and a body (with Content-Length or chunked) arriving far below the HTTP server's minimum upload
 * rate (uWebSockets.js: 16 KiB/s over its 10 s window), are dropped by the server although bytes
 * keep arriving; a dropped request's share of server.maxInFlightBodyBytes is given back, and the
 * server serves new requests. What server.maxInFlightBodyBytes and the per-route body limits
 * assume: a slow upload's hold on a socket and its lease is bounded in time without a timer of
 * ours. */
import t, { type Test } from 'tap';
import net from 'node:net';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { eventually } from '../helpers/wait.js';

const CACHE = 'slow';

interface Trickled { received: () => string; closedByServer: () => boolean }

/** Sends `head`, then `drip` every 250 ms until the server closes the socket: data keeps
 * arriving, so only a rule on the rate (not on silence) can end the request. */
function trickle(t: Test, port: number, head: string, drip: string): Trickled {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  let stopped = false;
  socket.on('data', (d) => { received += d.toString(); });
  socket.on('error', () => {});
  socket.on('close', () => { if (!stopped) closed = true; clearInterval(timer); });
  socket.write(head);
  const timer = setInterval(() => { if (!socket.destroyed) socket.write(drip); }, 250);
  t.teardown(() => { stopped = true; clearInterval(timer); socket.destroy(); });
  return { received: () => received, closedByServer: () => closed };
}

t.test('trickled request heads and bodies are dropped while bytes keep arriving; their leases are given back', async (t) => {
  const server = await startServer(t);
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const route = `POST /v1/topics/${CACHE}/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: text/plain\r\n`;
  const declared = Array.from({ length: 20 }, () => trickle(t, server.port, `${route}Content-Length: 1000\r\n\r\n`, 'a'));
  const chunked = Array.from({ length: 20 }, () => trickle(t, server.port, `${route}Transfer-Encoding: chunked\r\n\r\n`, '1\r\na\r\n'));
  const heads = Array.from({ length: 20 }, () => trickle(t, server.port, `POST /v1/topics/${CACHE}/t HTTP/1.1\r\nHost: x\r\n`, 'X-Pad: a\r\n'));
  const all = [...declared, ...chunked, ...heads];

  // The bodies are being read: declared lengths reserved, chunked bytes as they arrive.
  t.ok(await eventually(() => server.bodies.inFlight >= 20 * 1000 + 20), `the trickled bodies hold leases: ${server.bodies.inFlight} bytes`);

  // uWS's window is 10 s on a 4 s timer tick; 60 s is a generous bound, not a measurement.
  t.ok(await eventually(() => all.every((r) => r.closedByServer()), 60_000),
    `the server closed every trickled request: ${all.filter((r) => r.closedByServer()).length} of ${all.length}`);
  t.ok(all.every((r) => r.received() === ''), 'without an answer (the upload was cut, nothing was processed)');
  t.ok(await eventually(() => server.bodies.inFlight === 0), `their leases were given back: ${server.bodies.inFlight} bytes in flight`);

  const after = await fetch(`${server.httpUrl}/v1/topics/${CACHE}/t`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' }, body: 'served' });
  t.equal(after.status, 200, 'a request sent at once is served');
  t.equal(server.bodies.inFlight, 0);
});
