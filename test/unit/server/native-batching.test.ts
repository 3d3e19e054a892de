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

tap.test('an idle key sends at once, before any turn or timer', async (t) => {
  const { batching, sent, got, clock } = rig({ batchDelayMs: 5 });
  batching.send('k', frame(1));
  t.equal(sent.length, 2, 'published synchronously (plain and batch key)');
  t.same(got('k'), [[1]]);
  t.same(got(batchKey('k')), [[1]]);
  t.equal(clock.pending, 0, 'no timer involved');
});

tap.test('a burst waits for the end of the iteration and goes out as one batch', async (t) => {
  const { batching, got, endTurn, turns } = rig();
  batching.send('k', frame(1));
  batching.send('k', frame(2));
  batching.send('k', frame(3));
  t.same(got(batchKey('k')), [[1]], 'held until the iteration ends');
  endTurn();
  t.same(got(batchKey('k')), [[1], [2, 3]], 'one batch message with both');
  t.same(got('k'), [[1], [2], [3]], 'older clients: one frame per message');
  endTurn();
  t.equal(turns.length, 0, 'an iteration with nothing held closes the window');
  batching.send('k', frame(4));
  t.same(got(batchKey('k')).at(-1), [4], 'idle again: at once');
});

tap.test('batchMaxItems and batchMaxBytes bound a batch', async (t) => {
  const { batching, got } = rig({ batchMaxItems: 3 });
  for (let i = 1; i <= 4; i++) batching.send('k', frame(i));
  t.same(got(batchKey('k')), [[1], [2, 3, 4]], 'sent as soon as 3 are held');
  const bytes = rig({ batchMaxBytes: 1 });
  bytes.batching.send('k', frame(1));
  bytes.batching.send('k', frame(2));
  t.same(bytes.got('k'), [[1], [2]], 'past the byte bound: sent at once');
  const off = rig({ batchMaxItems: 1 });
  off.batching.send('k', frame(1));
  off.batching.send('k', frame(2));
  t.same(off.got(batchKey('k')), [[1], [2]], 'batchMaxItems 1: never held');
});

tap.test('flush sends what is held for one key only', async (t) => {
  const { batching, got } = rig();
  for (const k of ['a', 'b']) { batching.send(k, frame(1)); batching.send(k, frame(2)); }
  batching.flush('a');
  t.same(got(batchKey('a')), [[1], [2]]);
  t.same(got(batchKey('b')), [[1]], 'b still held');
});

tap.test('with batchDelayMs, a key under load holds until the deadline', async (t) => {
  const { batching, got, endTurn, clock } = rig({ batchDelayMs: 2 });
  batching.send('k', frame(1));
  batching.send('k', frame(2));
  endTurn();
  t.same(got(batchKey('k')), [[1]], 'still held after the iteration');
  batching.send('k', frame(3));
  clock.advance(1);
  t.same(got(batchKey('k')), [[1]], 'not before the deadline');
  clock.advance(1);
  t.same(got(batchKey('k')), [[1], [2, 3]], 'at the deadline, together');
  endTurn();
  endTurn();
  batching.send('k', frame(4));
  t.same(got(batchKey('k')).at(-1), [4], 'idle again: at once');
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
