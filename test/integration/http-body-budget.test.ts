/** What HTTP request bodies may make the server hold is bounded server-wide: a route that takes a
 * credential answers a missing or invalid one (401) without reading the body; all bodies in flight
 * together stay within server.maxInFlightBodyBytes (past it: 503 SERVER_UNAVAILABLE); one client
 * address's bodies within server.maxInFlightBodyBytesPerIp, so one address (even unauthenticated,
 * through gRPC-web's GenerateDisposableToken, whose credential is in the body) cannot take the room
 * of others; and a request's share is given back however it ends (answered, aborted, 413, invalid JSON, refused by
 * its handler). */
import t, { type Test } from 'tap';
import net from 'node:net';
import { PermissionScopes } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/index.js';
import type { TidingsServer } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { eventually } from '../helpers/wait.js';

const CACHE = 'bb';
const MiB = 1024 * 1024;

interface RawRequest { socket: net.Socket; answer: Promise<string> }

/** Sends a request's head and `body` (typically part of what Content-Length announces) on a raw
 * socket, leaving it open; `answer` is what came back before the first pause or close. */
function rawRequest(t: Test, server: TidingsServer, head: string, body = ''): RawRequest {
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => { socket.destroy(); });
  let got = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d) => { got += d.toString(); if (got.includes('\r\n\r\n')) resolve(got); });
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
  });
  socket.write(`${head}\r\n\r\n${body}`);
  return { socket, answer };
}

/** The answer, or a marker once a generous bound has passed (a stalled upload the server waits on
 * never gets one: this turns that hang into a failed assertion). */
function answerOrNone(request: RawRequest): Promise<string> {
  return Promise.race([request.answer, new Promise<string>((r) => { setTimeout(() => r('[no answer while the body was outstanding]'), 5000).unref(); })]);
}

const status = (answer: string) => answer.slice(0, answer.indexOf('\r\n'));

t.test('a route that takes a credential answers 401 before reading the body', async (t) => {
  const server = await startServer(t);
  const routes = ['POST /v1/tokens', 'POST /v1/revocations', 'POST /v1/follows', 'DELETE /v1/follows', 'POST /v1/push/subscriptions',
    'DELETE /v1/push/subscriptions', `PUT /v1/webhooks/${CACHE}/hook`, `POST /v1/topics/${CACHE}/t`, `POST /v1/cache/${CACHE}/set`];
  for (const route of routes) {
    for (const authorization of ['', 'Authorization: Bearer not-a-credential\r\n']) {
      // 100 MiB announced, none sent: only a server that does not wait for the body can answer.
      const request = rawRequest(t, server, `${route} HTTP/1.1\r\nHost: x\r\n${authorization}Content-Type: application/json\r\nContent-Length: ${100 * MiB}`);
      const answer = await answerOrNone(request);
      t.equal(status(answer), 'HTTP/1.1 401 Unauthorized', `${route} ${authorization ? 'with an invalid credential' : 'without a credential'}: 401 with the body outstanding`);
      t.match(answer, /"code":"AUTHENTICATION_ERROR"/);
      request.socket.destroy();
    }
  }
  t.equal(server.bodies.inFlight, 0, 'no body bytes were reserved for unauthenticated requests');
});

t.test('bodies in flight stay within server.maxInFlightBodyBytes; an aborted upload gives its share back', async (t) => {
  const server = await startServer(t, { config: { server: { maxInFlightBodyBytes: 4 * MiB } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const publish = (body: string) => fetch(`${server.httpUrl}/v1/topics/${CACHE}/t`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' }, body,
  }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, any> }));

  // Four authenticated publishes announcing 1 MiB (server.maxHttpBodyBytes) each, 10 bytes sent.
  const stalled = Array.from({ length: 4 }, () => rawRequest(t, server,
    `POST /v1/topics/${CACHE}/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: text/plain\r\nContent-Length: ${MiB}`, 'aaaaaaaaaa'));
  t.ok(await eventually(() => server.bodies.inFlight === 4 * MiB), `four stalled uploads reserve their declared lengths: ${server.bodies.inFlight} bytes`);

  const refused = await publish('one more');
  t.equal(refused.status, 503, 'the next body finds no room');
  t.equal(refused.body['error']?.code, 'SERVER_UNAVAILABLE');
  t.match(refused.body['error']?.message, /server\.maxInFlightBodyBytes/);
  const metrics = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${(await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token}` } }).then((r) => r.text());
  t.match(metrics, /^tidings_http_body_bytes 4194304$/m, 'the gauge shows the bytes in flight');
  t.match(metrics, /^tidings_http_body_refused_total 1$/m, 'and the refusal is counted');

  for (const { socket } of stalled) socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), `aborted uploads give their bytes back: ${server.bodies.inFlight} bytes in flight`);
  const after = await publish('room again');
  t.equal(after.status, 200, 'a new request is served once the aborted uploads are gone');
  t.equal(server.bodies.inFlight, 0, 'and its share was given back with its answer');
});

t.test('a body without Content-Length reserves its bytes as they arrive', async (t) => {
  const server = await startServer(t, { config: { server: { maxInFlightBodyBytes: 2 * MiB } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const head = `POST /v1/topics/${CACHE}/t HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked`;
  const chunk = (kib: number) => `${(kib * 1024).toString(16)}\r\n${'b'.repeat(kib * 1024)}\r\n`;
  // Three chunked uploads left open: 40 + 1000 + 1000 KiB of the 2048 KiB budget.
  const small = rawRequest(t, server, head, chunk(40));
  const large = [rawRequest(t, server, head, chunk(1000)), rawRequest(t, server, head, chunk(1000))];
  t.ok(await eventually(() => server.bodies.inFlight === 2040 * 1024), `reserved as received: ${server.bodies.inFlight} bytes`);
  // A fourth grows past the remaining 8 KiB: refused when its bytes arrive.
  const fourth = rawRequest(t, server, head, chunk(20));
  const answer = await answerOrNone(fourth);
  t.equal(status(answer), 'HTTP/1.1 503 Service Unavailable', 'the body that would pass the budget is refused');
  t.match(answer, /"code":"SERVER_UNAVAILABLE"/);
  t.equal(server.bodies.inFlight, 2040 * 1024, 'the refused body holds nothing');
  // The small one completes: answered, and its share given back.
  small.socket.write('0\r\n\r\n');
  t.equal(status(await answerOrNone(small)), 'HTTP/1.1 200 OK', 'a completed upload is published');
  t.equal(server.bodies.inFlight, 2000 * 1024, 'a completed request gives its share back');
  for (const { socket } of large) socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'and aborted ones too');
});

t.test('a request\'s share is given back after 413, invalid JSON and a refusal by its handler', async (t) => {
  const server = await startServer(t, { config: { server: { maxInFlightBodyBytes: 2 * MiB } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const post = (path: string, credential: string, body: string, contentType = 'application/json') => fetch(`${server.httpUrl}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${credential}`, 'content-type': contentType }, body,
  }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, any> }));

  const cases: Array<[string, () => ReturnType<typeof post>, number, string]> = [
    ['a body past server.maxHttpBodyBytes', () => post(`/v1/topics/${CACHE}/t`, key, 'x'.repeat(MiB + 1), 'text/plain'), 413, 'LIMIT_EXCEEDED_ERROR'],
    ['invalid JSON (HTTP API)', () => post(`/v1/cache/${CACHE}/set`, key, '{not json'), 400, 'INVALID_ARGUMENT_ERROR'],
    ['invalid JSON (POST /v1/tokens)', () => post('/v1/tokens', admin, '{not json'), 400, 'INVALID_ARGUMENT_ERROR'],
    ['invalid JSON (POST /v1/follows)', () => post('/v1/follows', key, '{not json'), 400, 'INVALID_ARGUMENT_ERROR'],
    ['a publish its handler refuses', () => post('/v1/topics/elsewhere/t', key, 'x'.repeat(64 * 1024), 'text/plain'), 403, 'PERMISSION_ERROR'],
  ];
  for (const [name, send, code, error] of cases) {
    // Twice the budget in all: a share that leaked would refuse the later requests.
    for (let i = 0; i < 3; i++) {
      const got = await send();
      t.equal(got.status, code, `${name}: ${code}`);
      t.equal(got.body['error']?.code, error);
      t.equal(server.bodies.inFlight, 0, `${name}: its share was given back with the answer`);
    }
  }
  t.equal(server.bodies.refused, 0, 'no request was refused for want of room');
});

t.test('the fallback stream\'s POST and gRPC-web read within the same budget and give their share back', async (t) => {
  const server = await startServer(t, { config: { server: { maxInFlightBodyBytes: 3 * MiB }, momento: { enabled: true, port: 0 } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const stream = await fetch(`${server.httpUrl}/v1/stream`, { signal: ctl.signal });
  const id = /"stream":"([^"]+)"/.exec(new TextDecoder().decode((await stream.body!.getReader().read()).value))![1]!;
  // The stream says hello first: before it, a POST is bounded by server.maxPreHelloFrameBytes.
  const hello = encodeFrame({ t: 'hello', id: 1, versions: [1], token: key });
  const framed = Buffer.alloc(4 + hello.byteLength);
  framed.writeUInt32BE(hello.byteLength, 0);
  framed.set(hello, 4);
  const said = await fetch(`${server.httpUrl}/v1/stream`, { method: 'POST', headers: { 'x-tidings-stream': id }, body: framed });
  t.equal(said.status, 204, 'the stream said hello');
  const streamPost = rawRequest(t, server, `POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${id}\r\nContent-Length: ${2 * MiB}`, 'aaaa');
  const grpcPost = rawRequest(t, server, `POST /cache_client.Scs/Get HTTP/1.1\r\nHost: x\r\nAuthorization: ${key}\r\nContent-Type: application/grpc-web-text\r\nContent-Length: ${MiB}`, 'AAAA');
  t.ok(await eventually(() => server.bodies.inFlight === 3 * MiB), `a stalled stream POST and a stalled gRPC-web call fill the budget: ${server.bodies.inFlight} bytes`);

  const payload = Buffer.from([0x0f, 0x01]); // an invalid protobuf message: answered INVALID_ARGUMENT once read
  const grpcCall = () => fetch(`${server.httpUrl}/cache_client.Scs/Get`, {
    method: 'POST', headers: { 'content-type': 'application/grpc-web-text', authorization: key }, body: Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]).toString('base64'),
  }).then(async (r) => r.headers.get('grpc-status') ?? /grpc-status:\s*(\d+)/.exec(Buffer.from(await r.text(), 'base64').toString('latin1'))?.[1]);
  t.equal(await grpcCall(), '14', 'a gRPC-web call finding no room is UNAVAILABLE');

  streamPost.socket.destroy();
  grpcPost.socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'both aborted uploads gave their bytes back');
  t.equal(await grpcCall(), '3', 'a gRPC-web call is read (and answered) again');
  t.equal(server.bodies.inFlight, 0, 'and its share was given back once its body was read');
});

t.test('one client address holds at most server.maxInFlightBodyBytesPerIp; other addresses still get room, and it gets room back when its uploads end', async (t) => {
  // Two addresses simulated through the trusted proxy header (every socket here is 127.0.0.1).
  const server = await startServer(t, {
    config: { server: { maxInFlightBodyBytes: 8 * MiB, maxInFlightBodyBytesPerIp: 2 * MiB, trustedProxyHeader: 'x-forwarded-for' }, momento: { enabled: true, port: 0 } },
  });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const from = (address: string) => `X-Forwarded-For: ${address}`;
  const publish = (address: string, body: string) => fetch(`${server.httpUrl}/v1/topics/${CACHE}/t`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain', 'x-forwarded-for': address }, body,
  }).then(async (r) => ({ status: r.status, body: await r.json() as Record<string, any> }));

  // Address A: 32 GenerateDisposableToken calls (their credential is in the body: read before
  // any credential) announcing 1 MiB each, 4 bytes sent; each is held to the 64 KiB such a call
  // may take, so together they fill A's 2 MiB share.
  const stalled = Array.from({ length: 32 }, () => rawRequest(t, server,
    `POST /token.Token/GenerateDisposableToken HTTP/1.1\r\nHost: x\r\n${from('198.51.100.1')}\r\nContent-Type: application/grpc-web-text\r\nContent-Length: ${MiB}`, 'AAAA'));
  t.ok(await eventually(() => server.bodies.inFlight === 2 * MiB), `address A's stalled uploads hold its share: ${server.bodies.inFlight} bytes`);

  const refused = await publish('198.51.100.1', 'one more from A');
  t.equal(refused.status, 503, 'A\'s next body finds no room in its share, with room left server-wide');
  t.equal(refused.body['error']?.code, 'SERVER_UNAVAILABLE');
  t.match(refused.body['error']?.message, /server\.maxInFlightBodyBytesPerIp/);
  const payload = Buffer.from([0x0f, 0x01]); // an invalid protobuf message: answered INVALID_ARGUMENT once read
  const grpcCall = (address: string) => fetch(`${server.httpUrl}/cache_client.Scs/Get`, {
    method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-forwarded-for': address, authorization: key },
    body: Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]).toString('base64'),
  }).then(async (r) => r.headers.get('grpc-status') ?? /grpc-status:\s*(\d+)/.exec(Buffer.from(await r.text(), 'base64').toString('latin1'))?.[1]);
  t.equal(await grpcCall('198.51.100.1'), '14', 'and so does a gRPC-web call from A (UNAVAILABLE)');
  t.equal(await grpcCall('203.0.113.7'), '3', 'while one from address B is read (and answered)');

  const other = await publish('203.0.113.7', 'from B');
  t.equal(other.status, 200, 'address B is served meanwhile');
  // B may fill a share of its own: its stalled uploads are held, not refused.
  const fromB = Array.from({ length: 2 }, () => rawRequest(t, server,
    `POST /v1/topics/${CACHE}/t HTTP/1.1\r\nHost: x\r\n${from('203.0.113.7')}\r\nAuthorization: Bearer ${key}\r\nContent-Type: text/plain\r\nContent-Length: ${MiB}`, 'b'));
  t.ok(await eventually(() => server.bodies.inFlight === 4 * MiB), `B holds a share of its own: ${server.bodies.inFlight} bytes`);
  t.equal(server.bodies.inFlightFrom('198.51.100.1'), 2 * MiB, 'A\'s share is counted apart');

  for (const { socket } of stalled) socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlightFrom('198.51.100.1') === 0), 'A\'s aborted uploads gave its share back');
  const again = await publish('198.51.100.1', 'A again');
  t.equal(again.status, 200, 'A is served again once its uploads ended');
  for (const { socket } of fromB) socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'nothing is left reserved');
});
