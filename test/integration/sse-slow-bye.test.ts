/** A stream the server ends as a slow consumer (still behind after server.slowConsumerTimeoutMs) is
 * congested by definition: what it was last sent (the `bye` 4002 event, the fallback stream's
 * `close`) waits behind what the socket has not taken. The server ends such a stream gracefully and
 * gives it up to server.shutdownGraceMs to take that tail, so a reader that reads again in time
 * gets the `bye`; it was dropped with the queue and the socket closed at once. The grace here is
 * far longer than the tests wait: a stream ends as soon as its tail is taken, not when it runs out. */
import t from 'tap';
import { PermissionScopes, encodeFrame } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { SseReader } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

t.test('a slow SSE reader ended past slowConsumerTimeoutMs gets bye 4002 when it reads again, after every item it was sent, with no gap', async (t) => {
  const server = await startServer(t, { config: {
    server: { maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 256 * 1024, slowConsumerTimeoutMs: 500, shutdownGraceMs: 600_000 },
    topics: { windowItems: 20_000, windowBytes: 64 * 1024 * 1024 },
  } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('c', '*'));
  const reader = await SseReader.open(`${server.httpUrl}/v1/sse?cache=c&topic=flood`, { authorization: `Bearer ${token}` });
  t.teardown(() => reader.close());
  await reader.until((r) => r.events.some((e) => e.event === 'ready'));
  reader.pause();
  const streams = () => [...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0).length;
  const pub = await RawClient.open(server, token);
  t.teardown(() => pub.close());
  const payload = 'x'.repeat(4096);
  for (let i = 1; i <= 4000 && streams() > 0; i++) {
    pub.send({ t: 'pub', cache: 'c', topic: 'flood', value: payload });
    if (i % 100 === 0) await pub.ok({ t: 'ping' });
  }
  await waitFor('the server to end the stalled stream', () => streams() === 0);
  t.ok(server.broker.slowConsumers.detaches >= 1, 'it was detached as a slow consumer first');
  reader.resume();
  await reader.until((r) => r.events.some((e) => e.event === 'bye'), 10_000);
  const bye = reader.events.find((e) => e.event === 'bye')!;
  t.match(bye.json, { code: 4002, reconnect: true }, 'bye 4002');
  t.equal(reader.events.at(-1), bye, 'the last event');
  const seqs = reader.items().map((e) => e.json.seq);
  t.same(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `the ${seqs.length} items before it have no gap`);
  await waitFor('the stream to end', () => reader.ended);
});

t.test('the fallback stream (GET /v1/stream) of a slow reader gets its close event with 4002 when it reads again', async (t) => {
  const server = await startServer(t, { config: {
    server: { maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 256 * 1024, slowConsumerTimeoutMs: 500, shutdownGraceMs: 600_000 },
    topics: { windowItems: 20_000, windowBytes: 64 * 1024 * 1024 },
  } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('c', '*'));
  const reader = await SseReader.open(`${server.httpUrl}/v1/stream`);
  t.teardown(() => reader.close());
  await reader.until((r) => r.events.some((e) => e.event === 'open'));
  const id = reader.events.find((e) => e.event === 'open')!.json.stream as string;
  const post = async (frame: Record<string, unknown>) => {
    const bytes = encodeFrame(frame);
    const body = Buffer.alloc(4 + bytes.byteLength);
    body.writeUInt32BE(bytes.byteLength, 0);
    body.set(bytes, 4);
    const res = await fetch(`${server.httpUrl}/v1/stream`, { method: 'POST', headers: { 'x-tidings-stream': id }, body });
    t.equal(res.status, 204, `${frame['t']} posted`);
  };
  await post({ t: 'hello', id: 1, versions: [1], token });
  await post({ t: 'sub', id: 2, cache: 'c', topic: 'flood' });
  await reader.until((r) => r.items().length >= 2); // the two replies
  reader.pause();
  const streams = () => [...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0).length;
  const pub = await RawClient.open(server, token);
  t.teardown(() => pub.close());
  for (let i = 1; i <= 4000 && streams() > 0; i++) {
    pub.send({ t: 'pub', cache: 'c', topic: 'flood', value: 'x'.repeat(4096) });
    if (i % 100 === 0) await pub.ok({ t: 'ping' });
  }
  await waitFor('the server to end the stalled stream', () => streams() === 0);
  reader.resume();
  await reader.until((r) => r.events.some((e) => e.event === 'close'), 10_000);
  t.match(reader.events.find((e) => e.event === 'close')!.json, { code: 4002 }, 'the close event says 4002, as a WebSocket close would');
  await waitFor('the stream to end', () => reader.ended);
});
