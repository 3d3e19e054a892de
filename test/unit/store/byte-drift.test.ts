/** The memory store's accounted bytes equal a recount after random sequences of list, scalar and
 * sorted-set writes, TTL and clock operations, and never exceed store.maxBytes. */
import t from 'tap';
import fc from 'fast-check';
import { ManualClock } from '../../../src/core/clock.js';
import { DEFAULTS } from '../../../src/core/config.js';
import { MemoryCacheStore } from '../../../src/store/memory-store.js';
import { ENTRY_OVERHEAD, SLOT_BYTES, measureText } from '../../../src/store/sizes.js';
import { rankedFootprint } from '../../../src/store/sorted-set-state.js';

type AnyLru = { entries(): Iterable<[string, any]>; calculatedSize: number; purgeStale(): void; size: number };

function recompute(lru: AnyLru): number {
  let total = 0;
  for (const [k, e] of lru.entries()) {
    const base = ENTRY_OVERHEAD + measureText(k).heap;
    if (e.kind === 'scalar') { total += base + e.footprint; continue; }
    let f = 0;
    if (e.kind === 'sortedSet') {
      for (const el of e.state.all()) f += rankedFootprint(el.m);
      total += base + f;
      continue;
    }
    for (const el of e.state.items) f += el.f;
    total += base + f + e.state.items.capacity * SLOT_BYTES;
  }
  return total;
}

const key = fc.constantFrom('a', 'b', 'c', 'longer-key-name-xyz');
const val = fc.oneof(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), fc.constantFrom('x', 'y'));
const ttl = fc.record({ ttlMs: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }), refresh: fc.boolean() });
const op = fc.oneof(
  fc.record({ k: fc.constant('pushBack' as const), key, vals: fc.array(val, { minLength: 1, maxLength: 8 }), trunc: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }), ttl }),
  fc.record({ k: fc.constant('pushFront' as const), key, vals: fc.array(val, { minLength: 1, maxLength: 8 }), trunc: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }), ttl }),
  fc.record({ k: fc.constant('retain' as const), key, s: fc.option(fc.integer({ min: -10, max: 10 }), { nil: undefined }), e: fc.option(fc.integer({ min: -10, max: 10 }), { nil: undefined }), ttl }),
  fc.record({ k: fc.constant('remove' as const), key, v: val }),
  fc.record({ k: fc.constant('pop' as const), key, back: fc.boolean() }),
  fc.record({ k: fc.constant('set' as const), key, v: val, ttl: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }) }),
  fc.record({ k: fc.constant('delete' as const), key }),
  fc.record({ k: fc.constant('updateTtl' as const), key, ttl: fc.integer({ min: 1, max: 5000 }) }),
  // Sorted sets on the same keys: puts and removes of many elements (re-sorted or filtered at once)
  // and of few, increments that may pass the largest double, unions.
  fc.record({ k: fc.constant('zPut' as const), key, es: fc.array(fc.record({ value: val, score: fc.constantFrom(0, 1, -1, 1e308) }), { minLength: 1, maxLength: 24, size: 'max' }), ttl }),
  fc.record({ k: fc.constant('zIncrement' as const), key, v: val, by: fc.constantFrom(1, 1e308), ttl }),
  fc.record({ k: fc.constant('zRemove' as const), key, vs: fc.option(fc.array(val, { minLength: 1, maxLength: 24, size: 'max' }), { nil: undefined }) }),
  fc.record({ k: fc.constant('zUnion' as const), key, sources: fc.array(key, { minLength: 1, maxLength: 3 }) }),
  fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({ k: fc.constant('purge' as const) }),
);

t.test('store accounting never drifts and stays within maxBytes', async (t) => {
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 2000, max: 20000 }), (ops, maxBytes) => {
    const clock = new ManualClock();
    const store = new MemoryCacheStore({ ...DEFAULTS.store, maxBytes, maxItemBytes: Math.min(maxBytes, DEFAULTS.store.maxItemBytes), maxElementBytes: 1000 }, clock);
    const lru = (store as unknown as { lru: AnyLru }).lru;
    for (const o of ops) {
      try {
        switch (o.k) {
          case 'pushBack': store.listPushBack('c', o.key, o.vals, { ttl: o.ttl, truncateToSize: o.trunc }); break;
          case 'pushFront': store.listPushFront('c', o.key, o.vals, { ttl: o.ttl, truncateToSize: o.trunc }); break;
          case 'retain': store.listRetain('c', o.key, { startIndex: o.s, endIndex: o.e }, o.ttl); break;
          case 'remove': store.listRemoveValue('c', o.key, o.v); break;
          case 'pop': store.listPop('c', o.key, o.back ? 'back' : 'front'); break;
          case 'set': store.set('c', o.key, o.v, o.ttl); break;
          case 'delete': store.delete('c', o.key); break;
          case 'updateTtl': store.updateTtl('c', o.key, o.ttl); break;
          case 'zPut': store.sortedSetPutElements('c', o.key, o.es, o.ttl); break;
          case 'zIncrement': store.sortedSetIncrementScore('c', o.key, o.v, o.by, o.ttl); break;
          case 'zRemove': store.sortedSetRemoveElements('c', o.key, o.vs); break;
          case 'zUnion': store.sortedSetUnionStore('c', o.key, o.sources.map((sortedSet) => ({ sortedSet, weight: 1 })), 'sum', undefined); break;
          case 'advance': clock.advance(o.ms); break;
          case 'purge': store.purgeStale(); break;
        }
      } catch (err) {
        const m = (err as Error).message;
        if (!/holds a|would|at most|more than/.test(m)) throw err;
      }
      if (lru.calculatedSize > maxBytes) throw new Error(`over bound ${lru.calculatedSize} > ${maxBytes}`);
      lru.purgeStale();
      const r = recompute(lru);
      if (r !== lru.calculatedSize) throw new Error(`drift after ${o.k}: accounted ${lru.calculatedSize}, recomputed ${r}`);
    }
  }), { numRuns: 500 });
  t.pass();
});
