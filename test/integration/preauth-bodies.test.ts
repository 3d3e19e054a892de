/** What an unauthenticated client can make the server read is bounded before any body: a gRPC-web
 * call whose credential travels in its headers is answered UNAUTHENTICATED without its body being
 * read or reserved (only GenerateDisposableToken, whose credential is in the body, is read first);
 * a fallback stream that has not said hello takes a POST of at most server.maxPreHelloFrameBytes + 4
 * (the hello frame), a larger one is refused with a typed 413 and the stream closed as a WebSocket
 * would be (4503); after hello the stream takes http.maxStreamPostBytes, and the SDK's fallback
 * transport works end to end. */
import t, { type Test } from 'tap';
import net from 'node:net';
import { PermissionScopes } from '../../src/index.js';
import type { TidingsServer } from '../../src/index.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { startServer } from '../helpers/server.js';
import { eventually } from '../helpers/wait.js';
import { sdkFor, itemCollector, statusReached } from '../helpers/sdk.js';

const MiB = 1024 * 1024;

interface RawRequest { socket: net.Socket; answer: Promise<string> }

/** Sends a request's head and `body` (part of what it announces) on a raw socket, left open;
 * `answer` is the whole response (head and a Content-Length body), or what came before a close. */
function rawRequest(t: Test, server: TidingsServer, head: string, body: string | Buffer = ''): RawRequest {
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => { socket.destroy(); });
  let got = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(got.slice(0, end));
      if (!length || got.length - end - 4 >= Number(length[1])) resolve(got);
    });
    socket.on('error', () => resolve(got));
    socket.on('close', () => resolve(got));
  });
  socket.write(`${head}\r\n\r\n`);
  if (body.length > 0) socket.write(body);
  return { socket, answer };
}

/** The answer, or a marker once a generous bound has passed (a server that waits for the stalled
 * upload never answers: this turns that hang into a failed assertion). */
function answerOrNone(request: RawRequest): Promise<string> {
  return Promise.race([request.answer, new Promise<string>((r) => { setTimeout(() => r('[no answer while the body was outstanding]'), 5000).unref(); })]);
}

const statusLine = (answer: string) => answer.slice(0, answer.indexOf('\r\n'));
const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);
/** The grpc-status in a grpc-web-text answer's trailer frame. */
const grpcStatus = (answer: string) => /grpc-status:(\d+)/.exec(Buffer.from(bodyOf(answer), 'base64').toString('latin1'))?.[1];

t.test('gRPC-web: a call with a missing or invalid header credential is UNAUTHENTICATED before its body is read', async (t) => {
  const server = await startServer(t, { config: { momento: { enabled: true, port: 0 } } });
  const paths = ['/cache_client.Scs/Get', '/cache_client.Scs/GetBatch', '/cache_client.pubsub.Pubsub/Publish', '/cache_client.pubsub.Pubsub/Subscribe', '/control_client.ScsControl/ListCaches'];
  for (const path of paths) {
    for (const authorization of ['', 'Authorization: not-a-credential\r\n']) {
      // 100 MiB announced, 4 bytes sent: only a server that does not wait for the body answers.
      const request = rawRequest(t, server, `POST ${path} HTTP/1.1\r\nHost: x\r\n${authorization}Cache: c\r\nContent-Type: application/grpc-web-text\r\nX-Grpc-Web: 1\r\nContent-Length: ${100 * MiB}`, 'AAAA');
      const answer = await answerOrNone(request);
      const what = `${path} ${authorization ? 'with an invalid credential' : 'without a credential'}`;
      t.equal(statusLine(answer), 'HTTP/1.1 200 OK', `${what}: answered with the body outstanding`);
      t.equal(grpcStatus(answer), '16', `${what}: grpc-status 16 (UNAUTHENTICATED)`);
      t.equal(server.bodies.inFlight, 0, `${what}: no body bytes reserved`);
      request.socket.destroy();
    }
  }
});

t.test('gRPC-web: with a valid credential the body is read; GenerateDisposableToken (credential in the body) is read first', async (t) => {
  const server = await startServer(t, { config: { momento: { enabled: true, port: 0 } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const authorized = rawRequest(t, server, `POST /cache_client.Scs/Get HTTP/1.1\r\nHost: x\r\nAuthorization: ${key}\r\nCache: c\r\nContent-Type: application/grpc-web-text\r\nContent-Length: ${MiB}`, 'AAAA');
  t.ok(await eventually(() => server.bodies.inFlight === MiB), `an authenticated call's stalled upload is read (and reserved): ${server.bodies.inFlight} bytes`);
  authorized.socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'and given back when aborted');

  const token = rawRequest(t, server, `POST /token.Token/GenerateDisposableToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web-text\r\nContent-Length: ${MiB}`, 'AAAA');
  t.ok(await eventually(() => server.bodies.inFlight === 64 * 1024), `GenerateDisposableToken carries its credential in the body: read first, but held to 64 KiB, not the cache writes' bound (${server.bodies.inFlight} bytes)`);
  token.socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'and given back when aborted');
  const oversized = await fetch(`${server.httpUrl}/token.Token/GenerateDisposableToken`, {
    method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1' }, body: 'A'.repeat(65 * 1024),
  });
  t.equal(oversized.headers.get('grpc-status') ?? grpcStatus(`\r\n\r\n${await oversized.text()}`), '8', 'a larger anonymous body is RESOURCE_EXHAUSTED');
});

/** Opens a fallback stream; returns its id and the text it has received so far (kept growing). */
async function openStream(t: Test, server: TidingsServer): Promise<{ id: string; received: () => string }> {
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const res = await fetch(`${server.httpUrl}/v1/stream`, { signal: ctl.signal });
  const reader = res.body!.getReader();
  let text = '';
  const decoder = new TextDecoder();
  text += decoder.decode((await reader.read()).value, { stream: true });
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    } catch { /* aborted at teardown */ }
  })();
  return { id: /"stream":"([^"]+)"/.exec(text)![1]!, received: () => text };
}

const lengthPrefixed = (frame: Uint8Array) => {
  const out = Buffer.alloc(4 + frame.byteLength);
  out.writeUInt32BE(frame.byteLength, 0);
  out.set(frame, 4);
  return out;
};

t.test('POST /v1/stream before hello: at most server.maxPreHelloFrameBytes + 4, refused unread past it', async (t) => {
  const server = await startServer(t);
  const bound = server.config.server.maxPreHelloFrameBytes + 4;

  // Content-Length past the bound, none of it sent: refused with the upload outstanding.
  const declared = await openStream(t, server);
  const stalled = rawRequest(t, server, `POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${declared.id}\r\nContent-Length: ${2 * MiB}`, 'aaaa');
  const answer = await answerOrNone(stalled);
  t.equal(statusLine(answer), 'HTTP/1.1 413 Content Too Large', 'a pre-hello POST announcing 2 MiB is refused at once');
  t.match(bodyOf(answer), /"code":"LIMIT_EXCEEDED_ERROR"/);
  t.match(bodyOf(answer), /"cause":"request_size_limit_exceeded"/);
  t.match(bodyOf(answer), /server\.maxPreHelloFrameBytes/);
  t.equal(server.bodies.inFlight, 0, 'nothing was reserved for it');
  t.ok(await eventually(() => /event: close\ndata: \{"code":4503/.test(declared.received())), 'the stream is closed as a WebSocket would be (4503)');

  // No Content-Length (chunked): refused once more than the bound has arrived.
  const chunkedStream = await openStream(t, server);
  const chunk = 'a'.repeat(bound + 1);
  const chunked = rawRequest(t, server, `POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${chunkedStream.id}\r\nTransfer-Encoding: chunked`, `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  // Sent until the server answers: it reads at most a few times the bound before cutting it off.
  const more = `${(16 * 1024).toString(16)}\r\n${'a'.repeat(16 * 1024)}\r\n`;
  const pump = setInterval(() => { if (!chunked.socket.destroyed) chunked.socket.write(more); }, 20);
  t.teardown(() => clearInterval(pump));
  const chunkedAnswer = await answerOrNone(chunked);
  clearInterval(pump);
  t.equal(statusLine(chunkedAnswer), 'HTTP/1.1 413 Content Too Large', 'a chunked pre-hello POST past the bound is refused');
  t.match(bodyOf(chunkedAnswer), /server\.maxPreHelloFrameBytes/);
  t.ok(await eventually(() => /event: close\ndata: \{"code":4503/.test(chunkedStream.received())), 'and its stream closed (4503)');
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'nothing is left reserved');
});

t.test('POST /v1/stream after hello takes http.maxStreamPostBytes', async (t) => {
  const server = await startServer(t);
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const stream = await openStream(t, server);
  const hello = lengthPrefixed(encodeFrame({ t: 'hello', id: 1, versions: [1], token: key }));
  const said = await fetch(`${server.httpUrl}/v1/stream`, { method: 'POST', headers: { 'x-tidings-stream': stream.id, 'content-type': 'application/octet-stream' }, body: hello });
  t.equal(said.status, 204, 'the hello POST (within the pre-hello bound) is taken');
  t.ok(await eventually(() => [...server.broker.sessions.values()].some((s) => s.state === 'open')), 'hello succeeded');
  const stalled = rawRequest(t, server, `POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${stream.id}\r\nContent-Length: ${MiB}`, 'aaaa');
  t.ok(await eventually(() => server.bodies.inFlight === MiB), `an authenticated stream's 1 MiB POST is read: ${server.bodies.inFlight} bytes reserved`);
  stalled.socket.destroy();
  t.ok(await eventually(() => server.bodies.inFlight === 0), 'and given back when aborted');
});

t.test('the SDK over its fallback transport: hello in its first POST, then batches of any size', async (t) => {
  const server = await startServer(t);
  const sdk = await sdkFor(t, server, { transport: 'http', webSocket: undefined });
  const opened = await statusReached(sdk.connection, 'open');
  t.equal(opened.transport, 'http');
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'room', got.callbacks);
  // A burst queued behind one POST: batched into POSTs far above the pre-hello bound.
  const big = 'x'.repeat(4 * 1024);
  await Promise.all(Array.from({ length: 10 }, (_, i) => sdk.topics.publish('chat', 'room', `${i}${big}`)));
  await got.items.until(10);
  t.same(got.values().map((v) => String(v)[0]), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'every publish delivered, in order');
});
