/** POST /v1/stream holds no body for an unknown stream id (refused before reading it), and at most
 * one body being read per stream: a stream id costs no credential, so what it may make the server
 * hold is bounded per stream. A body whose stream closed while it arrived is not served. */
import t, { type Test } from 'tap';
import net from 'node:net';
import { startServer } from '../helpers/server.js';
import { tokenFor } from '../helpers/raw-client.js';
import { framedBody, openSdkStream } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, encodeFrame, type TidingsServer } from '../../src/index.js';

const UPLOADS = 30;
const SIZE = 2 * 1024 * 1024;

/** Opens UPLOADS POST /v1/stream uploads of SIZE bytes, each sent but for its last byte (left
 * open), to the stream ids `idOf` names; resolves each upload's answer (what came back before it
 * closed). */
function stalledUploads(t: Test, server: TidingsServer, idOf: (i: number) => string): Promise<string>[] {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const sockets: net.Socket[] = [];
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  return Array.from({ length: UPLOADS }, (_, i) => {
    const s = net.connect(server.port, '127.0.0.1');
    sockets.push(s);
    let got = '';
    const answered = new Promise<string>((resolve) => {
      s.on('data', (d) => { got += d.toString(); resolve(got); });
      s.on('error', () => resolve(got));
      s.on('close', () => resolve(got));
    });
    s.write(`POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${idOf(i)}\r\nContent-Length: ${SIZE}\r\n\r\n`);
    for (let sent = 0; sent < SIZE - 1; sent += chunk.length) s.write(chunk.subarray(0, Math.min(chunk.length, SIZE - 1 - sent)));
    return answered;
  });
}

t.test('POST /v1/stream with an unknown stream id is refused before its body is buffered', async (t) => {
  const server = await startServer(t);
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const answered = stalledUploads(t, server, (i) => `not-a-stream-${i}`);
  // The uploads never end, so any answer at all came before the body was read; the bound is only
  // for a failure to show: 2 s was too short for a loaded machine writing 60 MB in this process.
  const first = await Promise.race([answered[0]!, new Promise<string>((r) => setTimeout(() => r('[no answer within 10 s]'), 10_000))]);
  await new Promise((r) => setTimeout(r, 500));
  const held = process.memoryUsage().arrayBuffers - before;
  t.match(first, /^HTTP\/1\.1 404/, `an unknown stream is refused before the upload ends (got ${JSON.stringify(first.slice(0, 40))})`);
  t.ok(held < 10 * 1024 * 1024, `the server holds no bodies for unknown streams: ${(held / 1048576).toFixed(1)} MiB of ArrayBuffers for ${UPLOADS} uploads`);
});

t.test('POST /v1/stream: a stream id (which costs no credential) holds at most one body being read', async (t) => {
  const server = await startServer(t);
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const stream = await fetch(`${server.httpUrl}/v1/stream`, { signal: ctl.signal });
  const reader = stream.body!.getReader();
  const id = /"stream":"([^"]+)"/.exec(new TextDecoder().decode((await reader.read()).value))![1]!;
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  stalledUploads(t, server, () => id);
  await new Promise((r) => setTimeout(r, 1500));
  const held = process.memoryUsage().arrayBuffers - before;
  t.ok(held < 10 * 1024 * 1024, `${UPLOADS} uploads to one anonymous stream: ${(held / 1048576).toFixed(1)} MiB of ArrayBuffers held`);
});

t.test('POST /v1/stream after hello: a second POST while a body is read is refused; a body whose stream closed meanwhile is not served', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('feed', '*'));
  const { stream, id, frames, postFrames } = await openSdkStream(t, server.httpUrl);
  t.equal((await postFrames(encodeFrame({ t: 'hello', id: 1, versions: [1], token }))).status, 204);
  await stream.until(() => frames().some((f) => f['id'] === 1));
  const ping = framedBody(encodeFrame({ t: 'ping', id: 2 }));
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  let answer = '';
  const answered = new Promise<void>((resolve) => { socket.on('data', (d) => { answer += String(d); if (answer.includes('\r\n\r\n')) resolve(); }); });
  socket.write(`POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${id}\r\nContent-Length: ${ping.length}\r\n\r\n`);
  socket.write(ping.subarray(0, 2));
  await waitFor('the first body to be read', () => server.bodies.inFlight === ping.length);
  const second = await postFrames(encodeFrame({ t: 'ping', id: 3 }));
  t.match({ status: second.status, body: await second.json() }, { status: 429, body: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'pending_requests_limit_exceeded' } } }, 'one POST at a time per stream');
  stream.close();
  await waitFor('the stream\'s session to close', () => server.broker.sessions.size === 0);
  socket.write(ping.subarray(2));
  await answered;
  t.match(answer, /^HTTP\/1\.1 404 /, `the rest of the body arrived after its stream closed: ${answer.split('\r\n')[0]}`);
  t.notOk(frames().some((f) => f['id'] === 2 || f['id'] === 3), 'neither ping was served');
});
