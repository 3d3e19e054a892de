import t from 'tap';
import fc from 'fast-check';
import { SmallMap } from '../../../src/lib/small-map.js';

t.test('small map - behaves as a Map under any sequence of set / delete (model check)', async (t) => {
  const op = fc.oneof(
    fc.record({ op: fc.constant('set' as const), key: fc.integer({ min: 0, max: 4 }), value: fc.integer() }),
    fc.record({ op: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 4 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
    const small = new SmallMap<number, number>();
    const model = new Map<number, number>();
    for (const o of ops) {
      if (o.op === 'set') { small.set(o.key, o.value); model.set(o.key, o.value); } else if (small.delete(o.key) !== model.delete(o.key)) return false;
      if (small.size !== model.size) return false;
      for (let k = 0; k <= 4; k++) if (small.get(k) !== model.get(k) || small.has(k) !== model.has(k)) return false;
      if (JSON.stringify([...small]) !== JSON.stringify([...model])) return false;
      if (JSON.stringify([...small.keys()]) !== JSON.stringify([...model.keys()]) || JSON.stringify([...small.values()]) !== JSON.stringify([...model.values()])) return false;
    }
    return true;
  }), { numRuns: 300, seed: 16 });
  t.pass('matches Map');
});

t.test('small map - deleting every entry while iterating visits each once', async (t) => {
  for (const n of [1, 3]) {
    const m = new SmallMap<string, number>();
    for (let i = 0; i < n; i++) m.set(`k${i}`, i);
    const seen: string[] = [];
    for (const [key] of m) { seen.push(key); m.delete(key); }
    t.same(seen, Array.from({ length: n }, (_, i) => `k${i}`), `${n} entries`);
    t.equal(m.size, 0);
  }
});
