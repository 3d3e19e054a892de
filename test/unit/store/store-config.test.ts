import t from 'tap';
import { DEFAULTS, resolveConfig } from '../../../src/index.js';

t.test('store config: documented defaults resolve', async (t) => {
  const { store } = resolveConfig({ dev: true });
  t.same(store, DEFAULTS.store);
  t.same(store, {
    maxBytes: 256 * 1024 * 1024, maxItemBytes: 5 * 1024 * 1024, maxElementBytes: 128 * 1024, maxListLength: 100_000, maxDictionaryFields: 100_000, maxSetElements: 100_000, maxSortedSetElements: 100_000,
    maxTtlSec: 86_400, defaultTtlSec: 3600, purgeIntervalMs: 60_000, fetchCacheBytes: 16 * 1024 * 1024, caches: [],
  });
  t.ok(Object.isFrozen(store.caches));
});

t.test('store config: unbounded or inconsistent limits refuse to start, naming the key', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxBytes: Infinity }, /store\.maxBytes: must be a finite integer/],
    [{ maxBytes: 0 }, /store\.maxBytes: must be a finite integer ≥ 1/],
    [{ maxItemBytes: -1 }, /store\.maxItemBytes/],
    [{ maxElementBytes: 1.5 }, /store\.maxElementBytes/],
    [{ maxListLength: Number.POSITIVE_INFINITY }, /store\.maxListLength/],
    [{ maxDictionaryFields: 0 }, /store\.maxDictionaryFields/],
    [{ maxSetElements: 0.5 }, /store\.maxSetElements/],
    [{ maxSortedSetElements: 0 }, /store\.maxSortedSetElements/],
    [{ maxTtlSec: 0 }, /store\.maxTtlSec/],
    [{ defaultTtlSec: NaN }, /store\.defaultTtlSec/],
    [{ purgeIntervalMs: 0 }, /store\.purgeIntervalMs/],
    [{ fetchCacheBytes: -1 }, /store\.fetchCacheBytes/],
    [{ maxBytes: 1000, maxItemBytes: 2000, maxElementBytes: 100 }, /store\.maxItemBytes: must be ≤ store\.maxBytes/],
    [{ maxElementBytes: 10 * 1024 * 1024 }, /store\.maxElementBytes: must be ≤ store\.maxItemBytes/],
    [{ defaultTtlSec: 100, maxTtlSec: 50 }, /store\.defaultTtlSec: must be ≤ store\.maxTtlSec/],
    [{ caches: [''] }, /store\.caches\[0\]/],
    [{ caches: 'chat' }, /store\.caches: must be an array/],
    [{ maxbytes: 1 }, /store\.maxbytes: unknown key/],
  ];
  for (const [store, message] of cases) {
    t.throws(() => resolveConfig({ dev: true, store } as never), { name: 'ConfigError', message }, JSON.stringify(store));
  }
});

t.test('store config: a fixed set of caches is accepted', async (t) => {
  t.same(resolveConfig({ dev: true, store: { caches: ['chat', 'app'] } }).store.caches, ['chat', 'app']);
});
