import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

t.test('slow consumer - a subscriber that stops reading is cut off, never silently skipped, and resumes without a gap', async (t) => {
  const server = await startServer(t, { config: { server: { maxBackpressureBytes: 64 * 1024 }, topics: { windowItems: 20_000, windowBytes: 32 * 1024 * 1024 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const slow = await RawClient.open(server, token);
  await slow.ok({ t: 'sub', cache: 'chat', topic: 'firehose' });
  const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  socket.pause();
  const pub = await RawClient.open(server, token);
  const payload = 'p'.repeat(1024);
  const total = 20_000;
  for (let i = 1; i <= total; i++) pub.send({ t: 'pub', cache: 'chat', topic: 'firehose', value: `${i}:${payload}` });
  await pub.ok({ t: 'ping' });
  socket.resume();
  const closed = await slow.waitClosed(10_000);
  const received = slow.frames.filter((f) => f['t'] === 'item');
  t.ok(received.length < total, `the slow subscriber was cut off after ${received.length} of ${total} items (close ${closed.code})`);
  const seqs = received.map((f) => f['seq'] as number);
  t.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!), 'what it received is in order');
  // uWS may drop frames for a socket past its buffer limit before it closes it; a client sees the
  // hole (a seq jump without a disc) and resumes after the last item it holds in sequence.
  let contiguous = 0;
  while (contiguous < seqs.length && seqs[contiguous] === contiguous + 1) contiguous++;
  const back = await RawClient.open(server, token);
  await back.ok({ t: 'sub', cache: 'chat', topic: 'firehose', after: { page: received[0]!['page'], seq: contiguous } });
  const rest = await back.items(total - contiguous, () => true, 10_000);
  t.same(rest.map((f) => f['seq']), Array.from({ length: total - contiguous }, (_, i) => contiguous + i + 1), 'resuming after the last contiguous item delivers exactly the rest');
});

t.test('slow consumer - a replay far larger than the send buffer is paced, not dropped', async (t) => {
  const server = await startServer(t, { config: { server: { maxBackpressureBytes: 32 * 1024 }, topics: { windowItems: 10_000, windowBytes: 32 * 1024 * 1024 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const pub = await RawClient.open(server, token);
  const first = await pub.ok({ t: 'pub', cache: 'chat', topic: 'backlog', value: 'first' });
  for (let i = 2; i <= 5000; i++) pub.send({ t: 'pub', cache: 'chat', topic: 'backlog', value: `${i}:${'b'.repeat(500)}` });
  await pub.ok({ t: 'ping' });
  const reader = await RawClient.open(server, token);
  await reader.ok({ t: 'sub', cache: 'chat', topic: 'backlog', after: { page: first['page'], seq: 1 } });
  // Live items published during the replay are delivered after it, in order.
  for (let i = 5001; i <= 5100; i++) pub.send({ t: 'pub', cache: 'chat', topic: 'backlog', value: `${i}` });
  const items = await reader.items(5099, () => true, 20_000);
  t.same(items.map((f) => f['seq']), Array.from({ length: 5099 }, (_, i) => i + 2), '2..5100, no gap, no duplicate');
  t.equal(reader.closed, undefined, 'the connection survived a 2.5 MB replay through a 32 KiB buffer');
});
