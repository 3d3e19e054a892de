/** grpc-web's edges: an aborted Subscribe releases its session, an aborted GetBatch ends quietly, a
 * stalled Subscribe is ended at momento.maxStreamBufferBytes; garbage bodies get a status (a
 * message framed wrongly INVALID_ARGUMENT, never decoded); only Subscribe is recycled after
 * momento.webStreamMaxMs (a GetBatch is never cut short with OK). */
import t from 'tap';
import http from 'node:http';
import { cache, pubsub } from '@gomomento/generated-types';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';
import { waitFor } from '../helpers/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function frame(bytes: Uint8Array): string {
  const b = Buffer.alloc(5 + bytes.length); b.writeUInt32BE(bytes.length, 1); Buffer.from(bytes).copy(b, 5); return b.toString('base64');
}
function post(url: string, path: string, headers: Record<string, string>, body: string) {
  const req = http.request(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/grpc-web-text', 'x-grpc-web': '1', ...headers } });
  req.end(body);
  return req;
}

t.test('grpc-web subscribe aborted by the client releases its session', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server);
  for (let i = 0; i < 5; i++) {
    const req = post(server.httpUrl, '/cache_client.pubsub.Pubsub/Subscribe', { authorization: key }, frame(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }).serialize()));
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    await new Promise((resolve) => res.once('data', resolve));
    req.destroy();
  }
  await sleep(300);
  t.equal(server.broker.sessions.size, 0, 'no session left');
});

t.test('grpc-web garbage bodies answer a status, server alive', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server);
  const bodies = ['', '!!!!', 'AAAAAAA=', Buffer.from([0, 0, 0, 0, 3, 0xff, 0xff, 0xff]).toString('base64'), frame(Buffer.from([0xff, 0xff, 0xff])) + frame(Buffer.from([1]))];
  for (const path of ['/cache_client.Scs/Get', '/cache_client.Scs/GetBatch', '/cache_client.pubsub.Pubsub/Subscribe', '/token.Token/GenerateDisposableToken']) {
    for (const body of bodies) {
      const req = post(server.httpUrl, path, { authorization: key, cache: 'chat' }, body);
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject); });
      let text = ''; res.setEncoding('utf8'); res.on('data', (d) => { text += d; });
      await Promise.race([new Promise((r) => res.on('end', r)), sleep(2000)]);
      const decoded = Buffer.from(text, 'base64').toString('latin1');
      t.match(decoded + ' ' + res.statusCode, /grpc-status:\d+/, `${path} ${JSON.stringify(body)} -> ${JSON.stringify(decoded.slice(-80))}`);
    }
  }
  // A well-formed Set framed wrongly: declared longer than the body holds, or flagged compressed
  // (Tidings takes no compression). Decoded anyway, either would be stored.
  const set = Buffer.from(new cache.cache_client._SetRequest({ cache_key: Buffer.from('framed'), cache_body: Buffer.from('v'), ttl_milliseconds: 60_000 }).serializeBinary());
  const longer = Buffer.from(frame(set), 'base64'); longer.writeUInt32BE(set.length + 10, 1);
  const compressed = Buffer.from(frame(set), 'base64'); compressed[0] = 1;
  for (const [name, body] of [['declared longer', longer], ['flagged compressed', compressed]] as const) {
    const req = post(server.httpUrl, '/cache_client.Scs/Set', { authorization: key, cache: 'chat' }, body.toString('base64'));
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => { req.on('response', resolve); req.on('error', reject); });
    let text = ''; res.setEncoding('utf8'); res.on('data', (d) => { text += d; });
    await new Promise((r) => res.on('end', r));
    t.match(Buffer.from(text, 'base64').toString('latin1'), /grpc-status:3\r\ngrpc-message:malformed%20grpc-web%20request/, `${name}: INVALID_ARGUMENT`);
  }
  t.equal(await server.engine.cache.get('chat', 'framed'), undefined, 'nothing stored');
});

t.test('grpc-web GetBatch is never cut short by the Subscribe recycle (momento.webStreamMaxMs)', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { webStreamMaxMs: 50 } } });
  const key = await apiKeyFor(server);
  const { cache } = await import('@gomomento/generated-types');
  const N = 1000;
  await server.engine.cache.set('chat', 'big', Buffer.alloc(64 * 1024, 1), 60_000);
  const items = Array.from({ length: N }, () => new cache.cache_client._GetRequest({ cache_key: Buffer.from('big') }));
  const req = post(server.httpUrl, '/cache_client.Scs/GetBatch', { authorization: key, cache: 'chat' }, frame(new cache.cache_client._GetBatchRequest({ items }).serialize()));
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  const chunks: Buffer[] = [];
  let text = '';
  res.setEncoding('latin1');
  res.on('data', (d: string) => { text += d; });
  await new Promise((r) => res.on('end', r));
  // Each frame is base64 on its own (padding mid-stream): decode frame by frame.
  let answers = 0; let trailer = '';
  let rest = Buffer.alloc(0);
  for (const part of text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []) {
    rest = Buffer.concat([rest, Buffer.from(part, 'base64')]);
    while (rest.length >= 5 && rest.length >= 5 + rest.readUInt32BE(1)) {
      const len = rest.readUInt32BE(1);
      if (rest[0] === 0x80) trailer = rest.subarray(5, 5 + len).toString(); else answers++;
      rest = rest.subarray(5 + len);
    }
  }
  void chunks;
  t.comment(`answers: ${answers}, trailer: ${JSON.stringify(trailer)}`);
  t.ok(answers === N || !/grpc-status:0\r/.test(trailer), `a batch ends OK only with every answer (${answers}/${N}, ${JSON.stringify(trailer.slice(0, 30))})`);
});

t.test('grpc-web Subscribe is still recycled with OK after momento.webStreamMaxMs', async (t) => {
  const server = await startMomentoServer(t, { config: { momento: { webStreamMaxMs: 200 } } });
  const key = await apiKeyFor(server);
  const req = post(server.httpUrl, '/cache_client.pubsub.Pubsub/Subscribe', { authorization: key }, frame(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'r' }).serialize()));
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  let text = ''; res.setEncoding('latin1'); res.on('data', (d: string) => { text += d; });
  const ended = await Promise.race([new Promise((r) => res.on('end', () => r(true))), sleep(3000).then(() => false)]);
  t.ok(ended, 'ended');
  t.match((text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []).map((p) => Buffer.from(p, 'base64').toString('latin1')).join(''), /grpc-status:0/);
  await sleep(100);
  t.equal(server.broker.sessions.size, 0);
});

t.test('grpc-web GetBatch aborted by the client mid-answer: the server ends the batch quietly and keeps serving', async (t) => {
  const server = await startMomentoServer(t);
  const key = await apiKeyFor(server);
  await server.engine.cache.set('chat', 'big', Buffer.alloc(64 * 1024, 1), 60_000);
  // 300 answers of 64 KiB: the batch waits for the client to read (momento.maxStreamBufferBytes).
  const items = Array.from({ length: 300 }, () => new cache.cache_client._GetRequest({ cache_key: Buffer.from('big') }));
  const req = post(server.httpUrl, '/cache_client.Scs/GetBatch', { authorization: key, cache: 'chat' }, frame(new cache.cache_client._GetBatchRequest({ items }).serialize()));
  req.on('error', () => {});
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  await new Promise((resolve) => res.once('data', resolve));
  req.destroy();
  await waitFor('the batch to release its session', () => server.broker.sessions.size === 0);
  const again = post(server.httpUrl, '/cache_client.Scs/Get', { authorization: key, cache: 'chat' }, frame(new cache.cache_client._GetRequest({ cache_key: Buffer.from('big') }).serialize()));
  const answer = await new Promise<http.IncomingMessage>((resolve, reject) => { again.on('response', resolve); again.on('error', reject); });
  let text = ''; answer.setEncoding('latin1'); answer.on('data', (d: string) => { text += d; });
  await new Promise((r) => answer.on('end', r));
  t.match((text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []).map((p) => Buffer.from(p, 'base64').toString('latin1')).join(''), /grpc-status:0/, 'the next call is answered');
});

t.test('a grpc-web Subscribe whose client stops reading is ended (OK, to resume) past momento.maxStreamBufferBytes', async (t) => {
  // Only the socket's backpressure can hold the server's writes here: the broker's own
  // slow-consumer rule (server.maxBackpressureBytes) is set far above what is published.
  const server = await startMomentoServer(t, { config: { momento: { maxStreamBufferBytes: 256 * 1024 }, server: { maxBackpressureBytes: 64 * 1024 * 1024, sendBufferHardLimitBytes: 128 * 1024 * 1024 } } });
  const key = await apiKeyFor(server);
  const req = post(server.httpUrl, '/cache_client.pubsub.Pubsub/Subscribe', { authorization: key }, frame(new pubsub.cache_client.pubsub._SubscriptionRequest({ cache_name: 'chat', topic: 'stalled' }).serialize()));
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  await new Promise((resolve) => res.once('data', resolve));
  res.pause();
  // 24 MiB of items: more than the loopback socket's buffers hold, so uWS reports backpressure.
  const N = 384;
  for (let i = 0; i < N; i++) await server.engine.topics.publish('chat', 'stalled', 'x'.repeat(64 * 1024), 'backend');
  // Every item's text, base64: what arrives if the server held them all for the stalled stream.
  const everything = (N * 64 * 1024 * 4) / 3;
  let text = '';
  res.setEncoding('latin1');
  const outcome = await new Promise<string>((resolve) => {
    res.on('data', (d: string) => { text += d; if (text.length >= everything) resolve('every item held for it'); });
    res.on('end', () => resolve('ended'));
    res.resume();
  });
  t.equal(outcome, 'ended', `the stream was ended, after ${Math.round(text.length / 1024)} KiB of ${Math.round(everything / 1024)}`);
  const decoded = (text.match(/[A-Za-z0-9+/]+={0,2}/g) ?? []).map((p) => Buffer.from(p, 'base64').toString('latin1')).join('');
  t.match(decoded.slice(-100), /grpc-status:0/, 'OK: the web SDK resubscribes from its last item');
  await waitFor('the stream to release its session', () => server.broker.sessions.size === 0);
});
