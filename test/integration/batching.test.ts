/** Batches (docs/protocol.md, "Batches"), black-box over real WebSockets: a client that asked for
 * them in hello gets a burst's items in order and several per message; an older client keeps one
 * item per message; an item on an idle topic is its own message; a subscriber attaching while
 * items are held gets none of them twice. */
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { sdkFor, itemCollector } from '../helpers/sdk.js';
import { PermissionScopes, encodeFrame } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
const BURST = 200;

/** Sends every frame in one socket write, so the server reads them together (one event-loop
 * iteration): the burst that makes items wait for a flush. */
function oneWrite(c: RawClient, frames: object[]): void {
  const socket = (c.ws as WebSocket & { _socket: Socket })._socket;
  socket.cork();
  for (const f of frames) c.ws.send(encodeFrame(f));
  socket.uncork();
}

const pubs = (topic: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ t: 'pub', id: 10_000 + from + i, cache: 'chat', topic, value: `v${from + i}` }));

testEachEngine('batching - a burst reaches a batch client in order, several items per message; an old client gets one per message', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = await tokenFor(server, scope);
  const modern = await RawClient.open(server, token, { batch: true });
  const old = await RawClient.open(server, token);
  t.equal(modern.hello?.['batch'], true, 'the hello reply grants batches');
  t.notOk('batch' in (old.hello ?? {}), 'no batches for a hello that did not ask');
  await modern.ok({ t: 'sub', cache: 'chat', topic: 'b' });
  await old.ok({ t: 'sub', cache: 'chat', topic: 'b' });
  const pub = await RawClient.open(server, token);
  modern.framesPerMessage.length = 0;
  old.framesPerMessage.length = 0;

  oneWrite(pub, pubs('b', 1, BURST));
  const [a, b] = await Promise.all([modern.items(BURST), old.items(BURST)]);
  const expected = Array.from({ length: BURST }, (_, i) => `v${i + 1}`);
  t.same(a.map((f) => f['value']), expected, 'batch client: every item, in order');
  t.same(a.map((f) => f['seq']), expected.map((_, i) => i + 1), 'batch client: seqs contiguous');
  t.same(b.map((f) => f['value']), expected, 'old client: every item, in order');
  t.ok(Math.max(...modern.framesPerMessage) > 1, `a message carried several items (frames per message: ${modern.framesPerMessage.slice(0, 20).join(',')}…)`);
  t.ok(old.framesPerMessage.every((n) => n === 1), 'the old client got one frame per message');
  t.same(await modern.drain('item'), [], 'no duplicates');

  // Idle again: one publish is a message of its own.
  modern.framesPerMessage.length = 0;
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'b', value: 'alone' });
  const [single] = await modern.items(1);
  t.equal(single!['value'], 'alone');
  t.same(modern.framesPerMessage.filter((n) => n > 0), [1], 'the idle item came as one frame, not a batch');
});

testEachEngine('batching - a subscriber attaching while a burst is held gets each item once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = await tokenFor(server, scope);
  const watcher = await RawClient.open(server, token, { batch: true });
  await watcher.ok({ t: 'sub', cache: 'chat', topic: 'h' });
  const late = await RawClient.open(server, token, { batch: true });
  // The burst and, in the same write, a subscribe resuming from before it: the subscribe replays
  // the window (held items included) and attaches while the rest of the burst still waits.
  const first = await late.ok({ t: 'pub', cache: 'chat', topic: 'h', value: 'v0' });
  await watcher.items(1);
  oneWrite(late, [...pubs('h', 1, BURST), { t: 'sub', id: 99_999, cache: 'chat', topic: 'h', after: { page: first['page'], seq: first['seq'] } }]);
  const [replayed, watched] = await Promise.all([late.items(BURST), watcher.items(BURST)]);
  t.same(replayed.map((f) => f['seq']), Array.from({ length: BURST }, (_, i) => i + 2), 'late subscriber: each item after its position, once, in order');
  t.same(watched.map((f) => f['seq']), Array.from({ length: BURST }, (_, i) => i + 2), 'watcher: the whole burst, in order');
  await late.ok({ t: 'pub', cache: 'chat', topic: 'h', value: 'after' });
  t.same((await late.items(1)).map((f) => f['value']), ['after'], 'then live');
  t.same(await late.drain('item'), [], 'no duplicates');
  t.same(await watcher.drain('item', 0).then((x) => x.length), 1, 'the watcher got the live one too, once');
});

testEachEngine('batching - the SDK asks for batches and hands a burst to onItem one item at a time, in order', async (t, engine) => {
  const server = await startServer(t, { engine });
  const sdk = await sdkFor(t, server);
  const { items, gaps, callbacks } = itemCollector();
  await sdk.topics.subscribe('chat', 's', callbacks);
  const pub = await RawClient.open(server, await tokenFor(server, scope));
  oneWrite(pub, pubs('s', 1, BURST));
  const got = await items.until(BURST);
  t.same(got.map((i) => i.valueString()), Array.from({ length: BURST }, (_, i) => `v${i + 1}`), 'every item, in order');
  t.same(got.map((i) => i.position().seq), Array.from({ length: BURST }, (_, i) => i + 1));
  t.equal(gaps.events.length, 0, 'no discontinuity');
  t.ok(server.batching.stats.batches > 0, 'the server sent batch frames to it');
});
