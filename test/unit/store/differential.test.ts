/** The two stores agree: the same random operations (lists, dictionaries, sets, sorted sets, scalars, TTLs, the clock,
 * lone surrogates, limits) on the memory store and the Redis store give the same results and errors. */
import t, * as Tap from 'tap';
import fc from 'fast-check';
import { ManualClock } from '../../../src/core/clock.js';
import { storeWith } from '../../helpers/stores.js';
import { requireRedis } from '../../helpers/redis.js';
import type { CacheEngine } from '../../../src/store/cache-store.js';
import { valueHash } from '../../../src/store/scalar-ops.js';
import type { StoreConfig } from '../../../src/core/config.js';

const keys = ['a', 'b', 'é'];
const valueArb = fc.oneof(
  fc.constantFrom('x', 'yy', '', 'zzz', 'é', 'x', '\uD800é', '\uD800', '\uDC00\uD800'),
  fc.constantFrom(new Uint8Array([0x78]), new Uint8Array(0), new Uint8Array([1, 2]), new Uint8Array([0xef, 0xbf, 0xbd]), new Uint8Array([0xed, 0xa0, 0x80])),
);
const fieldArb = fc.constantFrom('f', 'g', 'é', '');
const ttlArb = fc.record({ ttlMs: fc.option(fc.constantFrom(1000, 5000, 100000), { nil: undefined }), refresh: fc.boolean() });
const idx = fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined });
const scoreArb = fc.constantFrom(0, 1, -1, 2.5, 0.1, 1e300, -1e300, -0);
const orderArb = fc.constantFrom('ascending' as const, 'descending' as const);
const boundArb = fc.option(fc.record({ score: fc.constantFrom(-1, 0, 1, 2.5, 1e300), exclusive: fc.boolean() }), { nil: undefined });
const rangeArb = fc.record({ min: boundArb, max: boundArb });
// Sorted sets: ties (broken by bytes), fractions and huge scores (increments may pass the largest
// double: both refuse), ranks and score bounds of either sign and kind, unions across the keys.
const sortedSetOps = [
  fc.record({ op: fc.constant('zPut'), k: fc.constantFrom(...keys), es: fc.array(fc.record({ value: valueArb, score: scoreArb }), { minLength: 1, maxLength: 4 }), ttl: ttlArb }),
  fc.record({ op: fc.constant('zByRank'), k: fc.constantFrom(...keys), s: idx, e: idx, order: orderArb }),
  fc.record({ op: fc.constant('zByScore'), k: fc.constantFrom(...keys), range: rangeArb, order: orderArb, offset: fc.integer({ min: 0, max: 3 }), count: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }),
  fc.record({ op: fc.constant('zScores'), k: fc.constantFrom(...keys), vs: fc.array(valueArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('zRank'), k: fc.constantFrom(...keys), v: valueArb, order: orderArb }),
  fc.record({ op: fc.constant('zIncrement'), k: fc.constantFrom(...keys), v: valueArb, by: fc.constantFrom(0.2, -1, 1e300, -3), ttl: ttlArb }),
  fc.record({ op: fc.constant('zRemove'), k: fc.constantFrom(...keys), vs: fc.option(fc.array(valueArb, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 5 }) }),
  fc.record({ op: fc.constant('zLength'), k: fc.constantFrom(...keys), range: fc.option(rangeArb, { nil: undefined }) }),
  fc.record({
    op: fc.constant('zUnion'), k: fc.constantFrom(...keys), aggregate: fc.constantFrom('sum', 'min', 'max'), ttl: fc.option(fc.constantFrom(1000, 5000), { nil: undefined }),
    sources: fc.array(fc.record({ sortedSet: fc.constantFrom(...keys), weight: fc.constantFrom(1, 0, -2, 0.5, 1e300) }), { minLength: 1, maxLength: 3 }),
  }),
] as const;
const opArb = fc.oneof(
  fc.record({ op: fc.constant('pushBack'), k: fc.constantFrom(...keys), vs: fc.array(valueArb, { minLength: 1, maxLength: 4 }), ttl: ttlArb, trunc: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }) }),
  fc.record({ op: fc.constant('pushFront'), k: fc.constantFrom(...keys), vs: fc.array(valueArb, { minLength: 1, maxLength: 4 }), ttl: ttlArb, trunc: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }) }),
  fc.record({ op: fc.constant('fetch'), k: fc.constantFrom(...keys), s: idx, e: idx }),
  fc.record({ op: fc.constant('retain'), k: fc.constantFrom(...keys), s: idx, e: idx, ttl: fc.option(ttlArb, { nil: undefined }) }),
  fc.record({ op: fc.constant('removeValue'), k: fc.constantFrom(...keys), v: valueArb }),
  fc.record({ op: fc.constant('pop'), k: fc.constantFrom(...keys), end: fc.constantFrom('back', 'front') }),
  fc.record({ op: fc.constant('length'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('get'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('set'), k: fc.constantFrom(...keys), v: valueArb, ttl: fc.option(fc.constantFrom(1000, 5000, 100000), { nil: undefined }) }),
  fc.record({ op: fc.constant('delete'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('ttl'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('updateTtl'), k: fc.constantFrom(...keys), ms: fc.constantFrom(1000, 5000, 100000) }),
  fc.record({ op: fc.constant('advance'), ms: fc.constantFrom(1, 500, 999, 1000, 1001, 4000) }),
  // Counters: integers (text or bytes, signs, leading zeros, the 64-bit edges) and not-integers.
  fc.record({ op: fc.constant('setCounter'), k: fc.constantFrom(...keys), v: fc.constantFrom('7', '-3', '+07', '-0', '9223372036854775807', '-9223372036854775808', '1.5', ' 1', 'x'), bin: fc.boolean() }),
  fc.record({ op: fc.constant('increment'), k: fc.constantFrom(...keys), by: fc.constantFrom(0, 1, -1, 5, -9, 2 ** 53 - 1), ttl: fc.option(fc.constantFrom(1000, 5000), { nil: undefined }) }),
  fc.record({
    op: fc.constant('setIf'), k: fc.constantFrom(...keys), v: valueArb, ttl: fc.option(fc.constantFrom(1000, 5000), { nil: undefined }),
    kind: fc.constantFrom('absent', 'present', 'equal', 'notEqual', 'presentAndNotEqual', 'absentOrEqual'), compare: valueArb,
  }),
  // SetIfHash: the hash (text or the bytes of its hex) of some value, or of what the key holds (as
  // get reads it on each store), compared to the stored value's.
  fc.record({
    op: fc.constant('setIfHash'), k: fc.constantFrom(...keys), v: valueArb, ttl: fc.option(fc.constantFrom(1000, 5000), { nil: undefined }),
    kind: fc.constantFrom('equal', 'notEqual', 'presentAndNotEqual', 'absentOrEqual'), of: fc.option(valueArb, { nil: undefined }), bin: fc.boolean(),
  }),
  // No TTL under 1000 ms: Redis's PEXPIRE runs on the real clock, so a 1 ms TTL really removes the
  // key while the ManualClocks stand still (a false divergence); decrease-to-1000 then advance 999
  // reaches the same almost-expired state.
  fc.record({ op: fc.constant('changeTtl'), k: fc.constantFrom(...keys), ms: fc.constantFrom(1000, 4000, 5000, 100000), only: fc.constantFrom('increase', 'decrease') }),
  fc.record({ op: fc.constant('erase'), k: fc.constantFrom(...keys), ranges: fc.option(fc.array(fc.record({ beginIndex: fc.integer({ min: 0, max: 7 }), count: fc.integer({ min: 0, max: 4 }) }), { maxLength: 3 }), { nil: undefined }) }),
  // Dictionaries: fields set (counters among the values), read, incremented, removed, on the same keys.
  fc.record({ op: fc.constant('dictSet'), k: fc.constantFrom(...keys), items: fc.array(fc.record({ field: fieldArb, value: fc.oneof(valueArb, fc.constantFrom('7', '+07', '9223372036854775807', 'x')) }), { minLength: 1, maxLength: 3 }), ttl: ttlArb }),
  fc.record({ op: fc.constant('dictGet'), k: fc.constantFrom(...keys), fields: fc.array(fieldArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('dictFetch'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('dictIncrement'), k: fc.constantFrom(...keys), field: fieldArb, by: fc.constantFrom(0, 1, -1, 5), ttl: ttlArb }),
  fc.record({ op: fc.constant('dictRemove'), k: fc.constantFrom(...keys), fields: fc.option(fc.array(fieldArb, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 5 }) }),
  fc.record({ op: fc.constant('dictLength'), k: fc.constantFrom(...keys) }),
  // Sets: text and bytes of the same UTF-8 are one element. Pops and samples choose at random, so
  // a pop takes more than a set can hold (all of them) and a sample is compared by its size.
  fc.record({ op: fc.constant('setAdd'), k: fc.constantFrom(...keys), vs: fc.array(valueArb, { minLength: 1, maxLength: 4 }), ttl: ttlArb }),
  fc.record({ op: fc.constant('setRemove'), k: fc.constantFrom(...keys), vs: fc.option(fc.array(valueArb, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 5 }) }),
  fc.record({ op: fc.constant('setFetch'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('setContains'), k: fc.constantFrom(...keys), vs: fc.array(valueArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('setLength'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('setPopAll'), k: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('setSample'), k: fc.constantFrom(...keys), n: fc.integer({ min: 0, max: 4 }) }),
  ...sortedSetOps,
  fc.record({ op: fc.constant('type'), k: fc.constantFrom(...keys) }),
);
const sortedHex = (elements: Uint8Array[] | undefined) => elements?.map((e) => Buffer.from(e).toString('hex')).sort();
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

async function apply(s: CacheEngine, clock: ManualClock, o: Op): Promise<unknown> {
  try {
    const norm = (v: unknown): unknown => v instanceof Uint8Array ? { bin: [...v] } : Array.isArray(v) ? v.map(norm) : (v && typeof v === 'object') ? Object.fromEntries(Object.entries(v).map(([a, b]) => [a, norm(b)])) : v;
    switch (o.op) {
      case 'pushBack': return await s.listPushBack('c', o.k, o.vs, { ttl: o.ttl, truncateToSize: o.trunc });
      case 'pushFront': return await s.listPushFront('c', o.k, o.vs, { ttl: o.ttl, truncateToSize: o.trunc });
      case 'fetch': return norm(await s.listFetch('c', o.k, { startIndex: o.s, endIndex: o.e }));
      case 'retain': return await s.listRetain('c', o.k, { startIndex: o.s, endIndex: o.e }, o.ttl);
      case 'removeValue': return await s.listRemoveValue('c', o.k, o.v);
      case 'pop': return norm(await s.listPop('c', o.k, o.end));
      case 'length': return await s.listLength('c', o.k);
      case 'get': return norm(await s.get('c', o.k));
      case 'set': return await s.set('c', o.k, o.v, o.ttl);
      case 'delete': return await s.delete('c', o.k);
      case 'ttl': return await s.itemGetTtl('c', o.k);
      case 'updateTtl': return await s.updateTtl('c', o.k, o.ms);
      case 'advance': clock.advance(o.ms); return null;
      case 'setCounter': return await s.set('c', o.k, o.bin ? new TextEncoder().encode(o.v) : o.v, undefined);
      case 'increment': return String(await s.increment('c', o.k, o.by, o.ttl)); // a bigint: JSON has none
      case 'setIf': return await s.setIf('c', o.k, o.v, o.kind === 'absent' || o.kind === 'present' ? { kind: o.kind } : { kind: o.kind, compare: o.compare }, o.ttl);
      case 'setIfHash': {
        const hash = valueHash(o.of ?? (await s.get('c', o.k)) ?? '');
        return await s.setIf('c', o.k, o.v, { kind: o.kind, compare: o.bin ? new TextEncoder().encode(hash) : hash, hashed: true }, o.ttl);
      }
      case 'changeTtl': return await s.changeTtl('c', o.k, o.ms, o.only);
      case 'erase': return await s.listErase('c', o.k, o.ranges);
      case 'dictSet': return await s.dictionarySetFields('c', o.k, o.items, o.ttl);
      case 'dictGet': return norm(await s.dictionaryGetFields('c', o.k, o.fields));
      case 'dictFetch': return norm((await s.dictionaryFetch('c', o.k))?.sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0)));
      case 'dictIncrement': return String(await s.dictionaryIncrement('c', o.k, o.field, o.by, o.ttl)); // a bigint, as increment's
      case 'dictRemove': return await s.dictionaryRemoveFields('c', o.k, o.fields);
      case 'dictLength': return await s.dictionaryLength('c', o.k);
      case 'setAdd': return await s.setAddElements('c', o.k, o.vs, o.ttl);
      case 'setRemove': return await s.setRemoveElements('c', o.k, o.vs);
      case 'setFetch': return sortedHex(await s.setFetch('c', o.k));
      case 'setContains': return await s.setContainsElements('c', o.k, o.vs);
      case 'setLength': return await s.setLength('c', o.k);
      case 'setPopAll': return sortedHex(await s.setPop('c', o.k, 100));
      case 'setSample': return (await s.setSample('c', o.k, o.n))?.length;
      case 'zPut': return await s.sortedSetPutElements('c', o.k, o.es, o.ttl);
      case 'zByRank': return norm(await s.sortedSetFetchByRank('c', o.k, { startIndex: o.s, endIndex: o.e }, o.order));
      case 'zByScore': return norm(await s.sortedSetFetchByScore('c', o.k, o.range, o.order, o.offset, o.count));
      case 'zScores': return await s.sortedSetGetScores('c', o.k, o.vs);
      case 'zRank': return await s.sortedSetGetRank('c', o.k, o.v, o.order);
      case 'zIncrement': return await s.sortedSetIncrementScore('c', o.k, o.v, o.by, o.ttl);
      case 'zRemove': return await s.sortedSetRemoveElements('c', o.k, o.vs);
      case 'zLength': return await s.sortedSetLength('c', o.k, o.range);
      case 'zUnion': return await s.sortedSetUnionStore('c', o.k, o.sources, o.aggregate, o.ttl);
      case 'type': return await s.itemGetType('c', o.k);
    }
  } catch (e) { return { err: (e as { code?: string }).code, cause: (e as { cause_?: string }).cause_ }; }
  return 'unknown';
}

/** 200 random sequences of up to 30 operations on both stores under `config`: the same results. */
async function agree(t: Tap.Test, opsArb: fc.Arbitrary<Op>, config: Partial<StoreConfig>): Promise<void> {
  const mc = new ManualClock(); const rc = new ManualClock();
  const m = await storeWith(t, 'memory', config, mc);
  const r = await storeWith(t, 'redis', config, rc);
  let n = 0;
  await fc.assert(fc.asyncProperty(fc.array(opsArb, { maxLength: 30 }), async (ops) => {
    n++;
    const tag = `r${n}`;
    const mm = m.store; const rr = r.store;
    const sc = (o: Op): Op => {
      if (!('k' in o)) return o;
      const sources = 'sources' in o ? { sources: o.sources.map((x) => ({ ...x, sortedSet: `${tag}${x.sortedSet}` })) } : {};
      return { ...o, k: `${tag}${o.k}`, ...sources };
    };
    const out: unknown[] = [];
    for (const o0 of ops) {
      const o = sc(o0);
      const a = await apply(mm, mc, o);
      const b = await apply(rr, rc, o);
      out.push([o, a, b]);
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        throw new Error(`diverged at ${JSON.stringify(o)}: memory=${JSON.stringify(a)} redis=${JSON.stringify(b)}\n${out.map((x) => JSON.stringify(x)).join('\n')}`);
      }
    }
  }), { numRuns: 200 });
  t.pass('no divergence in 200 random sequences of up to 30 operations');
}

t.test('memory and redis agree', async (t) => {
  if (!requireRedis(t)) return;
  await agree(t, opArb, { maxListLength: 6, maxDictionaryFields: 2, maxSetElements: 3, maxSortedSetElements: 3, maxItemBytes: 14, maxElementBytes: 14 });
});

// Each sorted-set element counts 8 bytes for its score, so under the limits above a sorted set holds
// one element: here sorted sets get room for several (ties, ranks, unions of many), with the kinds
// they meet on the same keys.
t.test('memory and redis agree on sorted sets of several elements', async (t) => {
  if (!requireRedis(t)) return;
  const others = ['set', 'delete', 'advance', 'type', 'setAdd', 'updateTtl'];
  await agree(t, fc.oneof(...sortedSetOps, ...sortedSetOps, opArb.filter((o) => others.includes(o.op))), { maxSortedSetElements: 5, maxItemBytes: 60, maxElementBytes: 14 });
});
