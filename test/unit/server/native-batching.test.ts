/** NativeBatching (src/server/native-batching.ts) with the end of the event-loop iteration and the
 * clock stepped by hand: what goes out at once, what waits and for how long, and that every
 * receiver (batch or not) gets every frame once and in order. */
import tap from 'tap';
import fc from 'fast-check';
import { NativeBatching, batchKey } from '../../../src/server/native-batching.js';
import { decodeFrames, encodeFrame } from '../../../src/protocol/index.js';
import { ManualClock } from '../../../src/core/clock.js';
import { DEFAULTS } from '../../../src/core/config.js';

/** A recording app.publish plus a hand-driven "end of iteration". */
function rig(config: Partial<typeof DEFAULTS.server> = {}) {
  const sent: Array<{ key: string; frame: Uint8Array }> = [];
  const turns: Array<() => void> = [];
  const clock = new ManualClock();
  const batching = new NativeBatching((key, frame) => sent.push({ key, frame }), { ...DEFAULTS.server, ...config }, clock, (fn) => turns.push(fn));
  const endTurn = () => { for (const fn of turns.splice(0)) fn(); };
  /** What a receiver attached to `key` (plain or batch variant) got: decoded frames, per message. */
  const got = (key: string) => sent.filter((s) => s.key === key).map((s) => decodeFrames(s.frame).map((f) => f['n']));
  return { sent, turns, clock, batching, endTurn, got };
}
const frame = (n: number) => new Uint8Array(encodeFrame({ t: 'x', n }));

tap.test('a frame on an idle key goes out at the end of the iteration, as itself, with no timer', async (t) => {
  const { batching, sent, got, clock, endTurn } = rig({ batchDelayMs: 5 });
  batching.send('k', frame(1));
  t.equal(sent.length, 0, 'held for the rest of the iteration');
  endTurn();
  t.same(got('k'), [[1]]);
  t.same(got(batchKey('k')), [[1]]);
  t.same(sent.find((s) => s.key === batchKey('k'))?.frame, frame(1), 'one frame alone is not wrapped in a batch');
  t.equal(batching.stats.batches, 0);
  t.equal(clock.pending, 0, 'no timer involved: the delay applies under load only');
});

tap.test('a burst read in one iteration goes out as one batch, first frame included', async (t) => {
  const { batching, got, endTurn, turns } = rig();
  batching.send('k', frame(1));
  batching.send('k', frame(2));
  batching.send('k', frame(3));
  t.same(got(batchKey('k')), [], 'held until the iteration ends');
  endTurn();
  t.same(got(batchKey('k')), [[1, 2, 3]], 'one batch message with all three: one send per subscriber');
  t.same(got('k'), [[1], [2], [3]], 'older clients: one frame per message');
  t.equal(turns.length, 0, 'without a delay the window closes once sent: no second iteration is asked for');
  batching.send('k', frame(4));
  endTurn();
  t.same(got(batchKey('k')).at(-1), [4], 'idle again: at the end of the iteration');
});

tap.test('batchMaxItems and batchMaxBytes bound a batch', async (t) => {
  const { batching, got, endTurn } = rig({ batchMaxItems: 3 });
  for (let i = 1; i <= 4; i++) batching.send('k', frame(i));
  t.same(got(batchKey('k')), [[1, 2, 3]], 'sent as soon as 3 are held');
  endTurn();
  t.same(got(batchKey('k')), [[1, 2, 3], [4]]);
  const bytes = rig({ batchMaxBytes: 2 * frame(1).byteLength });
  bytes.batching.send('k', frame(1));
  t.same(bytes.got(batchKey('k')), [], 'under the byte bound: held');
  bytes.batching.send('k', frame(2));
  t.same(bytes.got(batchKey('k')), [[1, 2]], 'reaching the byte bound: sent at once');
  const off = rig({ batchMaxItems: 1 });
  off.batching.send('k', frame(1));
  off.batching.send('k', frame(2));
  t.same(off.got(batchKey('k')), [[1], [2]], 'batchMaxItems 1: never held');
  t.equal(off.turns.length, 0, 'and no iteration hook');
});

tap.test('a batch decodes whole on both sides of the fixarray limit (15 entries with the tag, 16 without room)', async (t) => {
  const { batching, got, endTurn } = rig();
  for (const count of [14, 15, 16]) {
    const numbers = Array.from({ length: count }, (_, i) => i + 1);
    for (const n of numbers) batching.send(`k${count}`, frame(n));
    endTurn();
    t.same(got(batchKey(`k${count}`)), [numbers], `${count} frames`);
  }
});

tap.test('flush sends what is held for one key only', async (t) => {
  const { batching, got, turns } = rig();
  for (const k of ['a', 'b']) { batching.send(k, frame(1)); batching.send(k, frame(2)); }
  t.equal(turns.length, 1, 'one end-of-iteration hook for every key held');
  batching.flush('a');
  t.same(got(batchKey('a')), [[1, 2]]);
  t.same(got(batchKey('b')), [], 'b still held');
  batching.flush('a');
  t.same(got(batchKey('a')), [[1, 2]], 'a flush with nothing held sends nothing (no empty batch)');
});

tap.test('keys under load at once share one deadline timer', async (t) => {
  const { batching, got, endTurn, clock } = rig({ batchDelayMs: 2 });
  for (const k of ['a', 'b']) batching.send(k, frame(1));
  endTurn();
  for (const k of ['a', 'b']) batching.send(k, frame(2));
  endTurn();
  t.equal(clock.pending, 1, 'one timer');
  clock.advance(2);
  t.same([got(batchKey('a')), got(batchKey('b'))], [[[1], [2]], [[1], [2]]], 'both sent at it');
});

tap.test('with batchDelayMs, a key under load holds until the deadline', async (t) => {
  const { batching, got, endTurn, clock } = rig({ batchDelayMs: 2 });
  batching.send('k', frame(1));
  batching.send('k', frame(2));
  endTurn();
  t.same(got(batchKey('k')), [[1, 2]], 'the first iteration of a burst is not delayed');
  batching.send('k', frame(3));
  endTurn();
  t.same(got(batchKey('k')), [[1, 2]], 'the key is under load: held past the iteration');
  batching.send('k', frame(4));
  clock.advance(1);
  t.same(got(batchKey('k')), [[1, 2]], 'not before the deadline');
  clock.advance(1);
  t.same(got(batchKey('k')), [[1, 2], [3, 4]], 'at the deadline, together');
  endTurn();
  endTurn();
  batching.send('k', frame(5));
  endTurn();
  t.same(got(batchKey('k')).at(-1), [5], 'idle again: no deadline');
});

tap.test('property: every receiver gets every frame once, in order, whatever the timing', async () => {
  type Op = { kind: 'send'; key: number } | { kind: 'turn' } | { kind: 'tick' } | { kind: 'flush'; key: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), key: fc.integer({ min: 0, max: 2 }) }),
    fc.constant({ kind: 'turn' as const }),
    fc.constant({ kind: 'tick' as const }),
    fc.record({ kind: fc.constant('flush' as const), key: fc.integer({ min: 0, max: 2 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 5 }), (ops, delay, maxItems) => {
    const r = rig({ batchDelayMs: delay, batchMaxItems: maxItems });
    const expected: number[][] = [[], [], []];
    let n = 0;
    for (const o of ops) {
      if (o.kind === 'send') { r.batching.send(`k${o.key}`, frame(n)); expected[o.key]!.push(n++); }
      else if (o.kind === 'turn') r.endTurn();
      else if (o.kind === 'tick') r.clock.advance(1);
      else r.batching.flush(`k${o.key}`);
    }
    r.batching.flushAll();
    for (let k = 0; k < 3; k++) {
      if (JSON.stringify(r.got(`k${k}`).flat()) !== JSON.stringify(expected[k])) return false;
      if (JSON.stringify(r.got(batchKey(`k${k}`)).flat()) !== JSON.stringify(expected[k])) return false;
      if (r.got(batchKey(`k${k}`)).some((m) => m.length > maxItems)) return false;
    }
    return true;
  }), { numRuns: 300 });
});
