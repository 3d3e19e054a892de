/** However a storm of mixed requests ends — answered, invalid JSON, refused by a handler, 413,
 * refused for want of budget (503), a wrong credential, gRPC-web, aborted mid-upload with or
 * without Content-Length — every request gives its share of the body budget back exactly once:
 * afterwards no byte is in flight (server.bodies.inFlight and tidings_http_body_bytes are 0) and
 * no client address keeps an entry in the per-address map. */
import t, { type Test } from 'tap';
import net from 'node:net';
import { PermissionScopes } from '../../src/index.js';
import type { TidingsServer } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { eventually } from '../helpers/wait.js';

const CACHE = 'storm';
const KiB = 1024;
const REQUESTS = 320;

interface Sent { socket: net.Socket; status: Promise<string> }

/** A raw request: `head`, then `body`; `cut` destroys the socket that many ms after the body went
 * (an upload aborted midway). `status` is the answer's status line, or '' when none came. */
let sentCount = 0;
function send(t: Test, server: TidingsServer, head: string, body: string, cut?: number): Sent {
  // Five client addresses (the server trusts X-Forwarded-For here): entries per address come and go.
  head = head.replace('Host: x', `Host: x\r\nX-Forwarded-For: 10.0.0.${sentCount++ % 5}`);
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => { socket.destroy(); });
  let got = '';
  const status = new Promise<string>((resolve) => {
    socket.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\r\n')) resolve(got.slice(0, got.indexOf('\r\n'))); });
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(''));
  });
  socket.write(`${head}\r\n\r\n${body}`, () => { if (cut !== undefined) setTimeout(() => socket.destroy(), cut); });
  return { socket, status };
}

t.test('after a storm of mixed requests no body byte and no per-address entry is left', async (t) => {
  const server = await startServer(t, {
    config: { momento: { enabled: true, port: 0 }, http: { maxStreamPostBytes: 1024 * KiB + 4 }, server: { maxHttpBodyBytes: 16 * KiB, maxInFlightBodyBytes: 1024 * KiB + 4, maxInFlightBodyBytesPerIp: 1024 * KiB + 4, trustedProxyHeader: 'x-forwarded-for' } },
  });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  /** A POST announcing `declared` bytes (all of `body` by default) and sending `body`. */
  const post = (path: string, headers: string, body: string, declared = Buffer.byteLength(body), cut?: number) =>
    send(t, server, `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${declared}`, body, cut);
  const kinds: Array<(i: number) => Sent> = [
    // Valid publishes.
    () => post(`/v1/topics/${CACHE}/t`, `Authorization: Bearer ${key}\r\nContent-Type: text/plain\r\n`, 'x'.repeat(4 * KiB)),
    // Invalid JSON (admin route) and a JSON body its handler refuses.
    () => post('/v1/revocations', `Authorization: Bearer ${admin}\r\nContent-Type: application/json\r\n`, '{not json'),
    () => post('/v1/follows', `Authorization: Bearer ${admin}\r\nContent-Type: application/json\r\n`, '{"nope":1}'),
    // Past server.maxHttpBodyBytes: 413 (read on, then the answer).
    () => post(`/v1/topics/${CACHE}/t`, `Authorization: Bearer ${key}\r\nContent-Type: text/plain\r\n`, 'o'.repeat(17 * KiB)),
    // Aborted mid-upload, with a Content-Length and chunked.
    (i) => post(`/v1/topics/${CACHE}/t`, `Authorization: Bearer ${key}\r\nContent-Type: text/plain\r\n`, 'a'.repeat(KiB), 12 * KiB, i % 7),
    (i) => send(t, server, `POST /v1/topics/${CACHE}/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked`,
      `${(2 * KiB).toString(16)}\r\n${'c'.repeat(2 * KiB)}\r\n`, i % 5),
    // A wrong credential with a body outstanding.
    () => post(`/v1/topics/${CACHE}/t`, 'Authorization: Bearer not-a-credential\r\nContent-Type: text/plain\r\n', 'w'.repeat(100), 8 * KiB),
    // gRPC-web: GenerateDisposableToken (read before any credential) with a body that is no request.
    () => post('/token.Token/GenerateDisposableToken', 'Content-Type: application/grpc-web-text\r\nX-Grpc-Web: 1\r\n', 'AAAAAAVoZWxsbw=='),
    // An aborted gRPC-web upload.
    (i) => post('/token.Token/GenerateDisposableToken', 'Content-Type: application/grpc-web-text\r\nX-Grpc-Web: 1\r\n', 'AAAA'.repeat(256), 32 * KiB, i % 3),
  ];
  const sent = Array.from({ length: REQUESTS }, (_, i) => kinds[i % kinds.length]!(i));
  // Every request is answered or cut: none is left waiting on the server.
  const statuses = await Promise.all(sent.map((s) => Promise.race([s.status, new Promise<string>((r) => { setTimeout(() => r('[none]'), 10_000).unref(); })])));
  for (const s of sent) s.socket.destroy();
  const count = (prefix: string) => statuses.filter((s) => s.startsWith(prefix)).length;
  t.ok(count('HTTP/1.1 200') > 0, `some publishes went through (${count('HTTP/1.1 200')})`);
  t.ok(count('HTTP/1.1 413') > 0, `some bodies were too large (${count('HTTP/1.1 413')})`);
  t.ok(count('HTTP/1.1 400') > 0, `some bodies were invalid (${count('HTTP/1.1 400')})`);
  t.ok(count('HTTP/1.1 401') > 0, `some credentials were wrong (${count('HTTP/1.1 401')})`);
  t.ok(server.bodies.refused > 0, `the storm hit the budget: ${server.bodies.refused} bodies refused`);

  t.ok(await eventually(() => server.bodies.inFlight === 0), `no body bytes left in flight: ${server.bodies.inFlight}`);
  t.equal(server.bodies.addresses, 0, 'no client address keeps an entry');
  const metrics = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
  t.match(metrics, /^tidings_http_body_bytes 0$/m, 'the gauge is back at 0');
});
