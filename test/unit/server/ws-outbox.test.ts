/** WsOutbox (src/server/ws-outbox.ts): frames sent outside uWS callbacks wait for the end of the
 * microtask run and leave in one write per socket, in order, as copies; inside a callback they go
 * straight out unless the socket already holds frames; release and drop do what they say. */
import tap from 'tap';
import { HELD_BYTES_MAX, WsOutbox, type HeldSocket } from '../../../src/server/ws-outbox.js';

/** A socket that records each write (one array per writeHeld) and each direct send. */
function socket(outbox: WsOutbox) {
  const writes: string[][] = [];
  const s: HeldSocket & { send(text: string): void; writes: string[][] } = {
    writes,
    writeHeld(frames) { writes.push(frames.map((f) => new TextDecoder().decode(f))); },
    send(text) {
      const frame = new TextEncoder().encode(text);
      if (outbox.sendsNow(s, frame)) writes.push([text]);
    },
  };
  return s;
}

const endOfMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

tap.test('outside a callback, the frames sent before the release runs leave in one write per socket, in order', async (t) => {
  const outbox = new WsOutbox();
  const a = socket(outbox);
  const b = socket(outbox);
  // Settled together, like the publishes of one Redis reply: their continuations run in step, all
  // before the release queued by the first send.
  const settled = [1, 2, 3].map(async (i) => { await null; a.send(`a${i}`); if (i === 2) b.send('b1'); });
  t.same(a.writes, [], 'nothing is written at once');
  await Promise.all(settled);
  await endOfMicrotasks();
  t.same(a.writes, [['a1', 'a2', 'a3']]);
  t.same(b.writes, [['b1']]);
  a.send('a4');
  await endOfMicrotasks();
  t.same(a.writes, [['a1', 'a2', 'a3'], ['a4']], 'a later run is a write of its own');
});

tap.test('inside a callback a frame goes straight out, unless the socket still holds frames', async (t) => {
  const outbox = new WsOutbox();
  const a = socket(outbox);
  outbox.inCallback(() => a.send('direct'));
  t.same(a.writes, [['direct']]);
  a.send('held');
  outbox.inCallback(() => a.send('after held'));
  t.same(a.writes, [['direct']], 'not ahead of what the socket holds');
  await endOfMicrotasks();
  t.same(a.writes, [['direct'], ['held', 'after held']]);
  t.equal(outbox.inCallback(() => 7), 7, 'the callback result passes through');
  t.throws(() => outbox.inCallback(() => { throw new Error('boom'); }), /boom/);
  outbox.inCallback(() => a.send('still direct after a throw'));
  t.same(a.writes.at(-1), ['still direct after a throw']);
});

tap.test('held frames are copies: the caller may reuse its buffer at once', async (t) => {
  const outbox = new WsOutbox();
  const got: Uint8Array[][] = [];
  const s: HeldSocket = { writeHeld(frames) { got.push([...frames]); } };
  const shared = new Uint8Array([1, 2, 3]);
  t.notOk(outbox.sendsNow(s, shared));
  shared.fill(9);
  await endOfMicrotasks();
  t.same([...got[0]![0]!], [1, 2, 3]);
});

tap.test('release writes a socket\'s frames now; drop forgets them', async (t) => {
  const outbox = new WsOutbox();
  const a = socket(outbox);
  const b = socket(outbox);
  a.send('a1'); b.send('b1');
  outbox.release(a);
  t.same(a.writes, [['a1']], 'released at once (before an attach, detach or close)');
  outbox.release(a);
  outbox.drop(b);
  await endOfMicrotasks();
  t.same(a.writes, [['a1']], 'nothing twice');
  t.same(b.writes, [], 'a dropped (closed) socket gets nothing');
});

tap.test('a socket holds at most HELD_BYTES_MAX: past that its frames are written at once, so its send buffer paces replays', async (t) => {
  const outbox = new WsOutbox();
  const a = socket(outbox);
  // Frames that add up to HELD_BYTES_MAX exactly: the one that reaches it is written with them.
  const frame = 'x'.repeat(1024);
  const perWrite = HELD_BYTES_MAX / 1024;
  for (let i = 0; i < 2 * perWrite + 3; i++) a.send(frame);
  t.same(a.writes.map((w) => w.length), [perWrite, perWrite], 'written synchronously, HELD_BYTES_MAX at a time, in order');
  await endOfMicrotasks();
  t.same(a.writes.map((w) => w.length), [perWrite, perWrite, 3], 'the rest at the release');
});
