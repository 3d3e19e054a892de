/** POST /v1/stream holds no body for an unknown stream id (refused before reading it), and at most
 * one body being read per stream: a stream id costs no credential, so what it may make the server
 * hold is bounded per stream. */
import t from 'tap';
import net from 'node:net';
import { startServer } from '../helpers/server.js';

t.test('POST /v1/stream with an unknown stream id is refused before its body is buffered', async (t) => {
  const server = await startServer(t);
  const N = 30;
  const size = 2 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const sockets: net.Socket[] = [];
  const answered: Promise<string>[] = [];
  for (let i = 0; i < N; i++) {
    const s = net.connect(server.port, '127.0.0.1');
    sockets.push(s);
    let got = '';
    answered.push(new Promise((resolve) => {
      s.on('data', (d) => { got += d.toString(); resolve(got); });
      s.on('error', () => resolve(got));
      s.on('close', () => resolve(got));
    }));
    s.write(`POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: not-a-stream-${i}\r\nContent-Length: ${size}\r\n\r\n`);
    // All but the last byte: the upload stays open.
    for (let sent = 0; sent < size - 1; sent += chunk.length) s.write(chunk.subarray(0, Math.min(chunk.length, size - 1 - sent)));
  }
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  const first = await Promise.race([answered[0]!, new Promise<string>((r) => setTimeout(() => r('[no answer within 2 s]'), 2000))]);
  await new Promise((r) => setTimeout(r, 500));
  const held = process.memoryUsage().arrayBuffers - before;
  t.match(first, /^HTTP\/1\.1 404/, `an unknown stream is refused before the upload ends (got ${JSON.stringify(first.slice(0, 40))})`);
  t.ok(held < 10 * 1024 * 1024, `the server holds no bodies for unknown streams: ${(held / 1048576).toFixed(1)} MiB of ArrayBuffers for ${N} uploads`);
});

t.test('POST /v1/stream: a stream id (which costs no credential) holds at most one body being read', async (t) => {
  const server = await startServer(t);
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const stream = await fetch(`${server.httpUrl}/v1/stream`, { signal: ctl.signal });
  const reader = stream.body!.getReader();
  const id = /"stream":"([^"]+)"/.exec(new TextDecoder().decode((await reader.read()).value))![1]!;
  const N = 30;
  const size = 2 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  global.gc?.();
  const before = process.memoryUsage().arrayBuffers;
  const sockets: net.Socket[] = [];
  for (let i = 0; i < N; i++) {
    const s = net.connect(server.port, '127.0.0.1');
    s.on('error', () => {});
    sockets.push(s);
    s.write(`POST /v1/stream HTTP/1.1\r\nHost: x\r\nX-Tidings-Stream: ${id}\r\nContent-Length: ${size}\r\n\r\n`);
    for (let sent = 0; sent < size - 1; sent += chunk.length) s.write(chunk.subarray(0, Math.min(chunk.length, size - 1 - sent)));
  }
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  await new Promise((r) => setTimeout(r, 1500));
  const held = process.memoryUsage().arrayBuffers - before;
  t.ok(held < 10 * 1024 * 1024, `${N} uploads to one anonymous stream: ${(held / 1048576).toFixed(1)} MiB of ArrayBuffers held`);
});
