/** Momento's sorted sets on both stores (`[memory]` / `[redis]`), through the CacheEngine interface
 * with a ManualClock: elements as bytes with scores, ordered by score and then by bytes, fetches by
 * rank and by score, ranks, scores, increments, removes, lengths, the union, the collection TTL,
 * the item type, the one-kind-per-key rule and the limits. */
import { ErrorCode, LimitCause, type ScoredElement } from '../../../src/protocol/index.js';
import { storeWith, testEachStore } from '../../helpers/stores.js';

const refresh = { refresh: true };
const failure = (code: string, cause?: string) => (cause === undefined ? { code } : { code, cause_: cause });
/** Fetched elements as [text, score] pairs, in the order answered. */
const pairs = (elements: ScoredElement[] | undefined) => elements && elements.map(({ value, score }) => [Buffer.from(value).toString('latin1'), score]);

testEachStore('sorted sets: put, fetch by rank both ways, ties by bytes, misses; text is its UTF-8 bytes', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  t.equal(await store.sortedSetFetchByRank('c', 'z', {}, 'ascending'), undefined, 'no sorted set: fetch by rank is a Miss');
  t.equal(await store.sortedSetFetchByScore('c', 'z', {}, 'ascending', 0, undefined), undefined, 'fetch by score too');
  t.equal(await store.sortedSetGetScores('c', 'z', ['a']), undefined, 'scores too');
  t.equal(await store.sortedSetGetRank('c', 'z', 'a', 'ascending'), undefined, 'rank too');
  t.equal(await store.sortedSetLength('c', 'z'), undefined, 'length too');
  t.equal(await store.sortedSetLength('c', 'z', { min: { score: 0, exclusive: false } }), undefined, 'length by score too');

  // b and ab tie at 2: bytes order puts "ab" before "b"; "a" as text and as bytes is one element.
  await store.sortedSetPutElements('c', 'z', [
    { value: 'b', score: 2 }, { value: 'c', score: -1.5 }, { value: new Uint8Array([0x61]), score: 9 }, { value: 'ab', score: 2 }, { value: 'a', score: 1e300 },
  ], refresh);
  const ascending = [['c', -1.5], ['ab', 2], ['b', 2], ['a', 1e300]];
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', {}, 'ascending')), ascending, 'ascending: by score, ties by bytes; a later put of the same element wins');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', {}, 'descending')), [...ascending].reverse(), 'descending: the exact reverse');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', { startIndex: 1, endIndex: 3 }, 'ascending')), ascending.slice(1, 3), 'ranks [1, 3): end exclusive');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', { startIndex: -2 }, 'descending')), [['ab', 2], ['c', -1.5]], 'negative ranks count from the end of the order asked');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', { startIndex: 2, endIndex: -3 }, 'ascending')), [], 'an empty range: no elements, still a Hit');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', { startIndex: 10 }, 'ascending')), [], 'past the end: none');
  t.equal(await store.itemGetType('c', 'z'), 'sortedSet');
  t.equal(await store.sortedSetLength('c', 'z'), 4);

  t.same(await store.sortedSetGetScores('c', 'z', ['ab', 'nope', new Uint8Array([0x63])]), [2, undefined, -1.5], 'scores: per value, in order');
  t.equal(await store.sortedSetGetRank('c', 'z', 'ab', 'ascending'), 1);
  t.equal(await store.sortedSetGetRank('c', 'z', 'ab', 'descending'), 2);
  t.equal(await store.sortedSetGetRank('c', 'z', 'nope', 'ascending'), null, 'not an element: null (the set is there)');

  await store.sortedSetRemoveElements('c', 'z', ['ab', 'nope', 'a']);
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', {}, 'ascending')), [['c', -1.5], ['b', 2]], 'removed elements are gone; others kept');
  await store.sortedSetRemoveElements('c', 'nothing-here', ['a']);
  t.equal(await store.itemGetType('c', 'nothing-here'), undefined, 'removing from no sorted set creates none');
  await store.sortedSetRemoveElements('c', 'z', ['b', 'c']);
  t.equal(await store.sortedSetLength('c', 'z'), undefined, 'emptied by removes: gone');
  await store.sortedSetPutElements('c', 'all', [{ value: 'x', score: 1 }], refresh);
  await store.sortedSetRemoveElements('c', 'all', undefined);
  t.equal(await store.sortedSetLength('c', 'all'), undefined, 'removing every element removes the sorted set');
  await store.sortedSetPutElements('c', 'gone', [{ value: 'x', score: 1 }], refresh);
  await store.delete('c', 'gone');
  t.equal(await store.sortedSetLength('c', 'gone'), undefined, 'delete removes a sorted set');
});

testEachStore('sorted sets by score: inclusive and exclusive bounds, order, offset, count; lengths by score', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  // Twenty elements, e00..e19 scored 0..9.5.
  const elements = Array.from({ length: 20 }, (_, i) => ({ value: `e${String(i).padStart(2, '0')}`, score: i / 2 }));
  await store.sortedSetPutElements('c', 'z', [...elements].reverse(), refresh);
  const names = (found: ScoredElement[] | undefined) => found?.map((e) => Buffer.from(e.value).toString());
  const range = (min: number, minEx: boolean, max: number, maxEx: boolean) => ({ min: { score: min, exclusive: minEx }, max: { score: max, exclusive: maxEx } });
  t.same(names(await store.sortedSetFetchByScore('c', 'z', range(1, false, 2, false), 'ascending', 0, undefined)), ['e02', 'e03', 'e04'], '[1, 2]');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', range(1, true, 2, true), 'ascending', 0, undefined)), ['e03'], '(1, 2)');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', range(1, true, 2, false), 'descending', 0, undefined)), ['e04', 'e03'], '(1, 2] descending');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', { max: { score: 1.2, exclusive: false } }, 'ascending', 1, 2)), ['e01', 'e02'], 'unbounded below, offset 1, count 2');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', { min: { score: 8, exclusive: false } }, 'descending', 2, undefined)), ['e17', 'e16'], 'descending skips from the top');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', {}, 'descending', 0, 3)), ['e19', 'e18', 'e17'], 'unbounded both ways, count 3');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', {}, 'ascending', 25, undefined)), [], 'an offset past the end: none');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', range(3, false, 2, false), 'ascending', 0, undefined)), [], 'min above max: none');
  t.same(names(await store.sortedSetFetchByScore('c', 'z', {}, 'ascending', 0, 0)), [], 'count 0: none');

  t.equal(await store.sortedSetLength('c', 'z', range(1, false, 2, false)), 3, 'length by score, inclusive');
  t.equal(await store.sortedSetLength('c', 'z', range(1, true, 2, true)), 1, 'exclusive');
  t.equal(await store.sortedSetLength('c', 'z', { min: { score: 9, exclusive: true } }), 1, 'one bound');
  t.equal(await store.sortedSetLength('c', 'z', range(5, true, 5, true)), 0, 'an empty range: 0, still a Hit');
  t.equal(await store.sortedSetGetRank('c', 'z', 'e05', 'descending'), 14, 'rank among twenty');
  // Seventeen values at once, one not held.
  await store.sortedSetRemoveElements('c', 'z', [...elements.slice(3).map((e) => e.value), 'never']);
  t.same(names(await store.sortedSetFetchByRank('c', 'z', {}, 'descending')), ['e02', 'e01', 'e00'], 'a remove of many: the rest, in order');
  t.equal(await store.sortedSetGetRank('c', 'z', 'e00', 'descending'), 2);
});

testEachStore('puts and removes of hundreds at once (the memory store merges or filters in one pass) keep the order', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  const name = (i: number) => `m${String(i).padStart(3, '0')}`;
  const expected = new Map<string, number>();
  const put = async (from: number, to: number, score: (i: number) => number) => {
    const batch = Array.from({ length: to - from }, (_, k) => ({ value: name(from + k), score: score(from + k) }));
    await store.sortedSetPutElements('c', 'big', batch, refresh);
    for (const e of batch) expected.set(e.value, e.score);
  };
  const ordered = () => [...expected].sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0));
  const held = async () => (await store.sortedSetFetchByRank('c', 'big', {}, 'ascending'))?.map((e) => [Buffer.from(e.value).toString(), e.score]);
  await put(0, 300, (i) => (i * 7) % 50);
  // 200 more: 100 replace held elements' scores (ties with held ones included), 100 are new.
  await put(200, 400, (i) => (i * 13) % 60 - 5);
  t.same(await held(), ordered(), 'after a put of 200 into 300, 100 of them replacing');
  const gone = Array.from({ length: 150 }, (_, k) => name(k * 2 + 1));
  await store.sortedSetRemoveElements('c', 'big', [...gone, ...gone.slice(0, 10), 'never']);
  for (const m of gone) expected.delete(m);
  t.same(await held(), ordered(), 'after a remove of 150 (ten named twice, one not held)');
  t.equal(await store.sortedSetLength('c', 'big'), expected.size);
});

testEachStore('sortedSetIncrementScore: creates, adds, refuses a score that is not finite; sortedSetUnionStore', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  t.equal(await store.sortedSetIncrementScore('c', 'z', 'a', 1.5, refresh), 1.5, 'creates the sorted set and the element from 0');
  t.equal(await store.sortedSetIncrementScore('c', 'z', 'a', -4, refresh), -2.5);
  t.equal(await store.sortedSetIncrementScore('c', 'z', 'b', 0.1, refresh), 0.1);
  t.equal(await store.sortedSetIncrementScore('c', 'z', 'b', 0.2, refresh), 0.1 + 0.2, 'doubles, added exactly as in JS');
  await store.sortedSetPutElements('c', 'z', [{ value: 'big', score: Number.MAX_VALUE }], refresh);
  await t.rejects(async () => store.sortedSetIncrementScore('c', 'z', 'big', Number.MAX_VALUE, refresh),
    { code: ErrorCode.INVALID_ARGUMENT_ERROR, message: 'sorted set "z": the score would be Infinity; scores must be finite numbers' });
  t.same(await store.sortedSetGetScores('c', 'z', ['big']), [Number.MAX_VALUE], 'unchanged after the refusal');

  await store.sortedSetPutElements('c', 's1', [{ value: 'x', score: 1 }, { value: 'y', score: 2 }], refresh);
  await store.sortedSetPutElements('c', 's2', [{ value: 'y', score: 10 }, { value: 'w', score: -3 }], refresh);
  const union = async (aggregate: 'sum' | 'min' | 'max', w1 = 1, w2 = 1) => {
    const length = await store.sortedSetUnionStore('c', 'u', [{ sortedSet: 's1', weight: w1 }, { sortedSet: 's2', weight: w2 }, { sortedSet: 'none', weight: 5 }], aggregate, 1000);
    return { length, elements: pairs(await store.sortedSetFetchByRank('c', 'u', {}, 'ascending')) };
  };
  t.same(await union('sum'), { length: 3, elements: [['w', -3], ['x', 1], ['y', 12]] }, 'sum; a missing source is empty');
  t.same(await union('min', 2, 1), { length: 3, elements: [['w', -3], ['x', 2], ['y', 4]] }, 'min of weighted scores');
  t.same(await union('max', 1, -1), { length: 3, elements: [['y', 2], ['x', 1], ['w', 3]].sort((a, b) => (a[1] as number) - (b[1] as number)) }, 'max, a negative weight');
  t.equal(await store.itemGetTtl('c', 'u'), 1000, 'the union gets its TTL');
  t.equal(await store.sortedSetUnionStore('c', 'u', [{ sortedSet: 'u', weight: 2 }, { sortedSet: 's1', weight: 0 }], 'sum', undefined), 3, 'the destination may be a source');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'u', {}, 'ascending')), [['x', 2], ['y', 4], ['w', 6]]);
  // Many sources (the same one, which counts each time, and missing ones): more than Lua can
  // unpack into one Redis call.
  const many = Array.from({ length: 9000 }, (_, i) => ({ sortedSet: i % 2 ? 's1' : `none-${i}`, weight: 1 }));
  t.equal(await store.sortedSetUnionStore('c', 'u', many, 'sum', undefined), 2, 'a union of 9000 sources');
  t.same(await store.sortedSetGetScores('c', 'u', ['x', 'y']), [4500, 9000]);
  t.equal(await store.sortedSetUnionStore('c', 'u', [{ sortedSet: 'none', weight: 1 }], 'sum', undefined), 0, 'an empty union: 0');
  t.equal(await store.itemGetType('c', 'u'), undefined, '...and the destination is deleted');
});

testEachStore('sorted-set TTL: refresh or keep on put and increment, untouched by removes; a collection for the TTL operations', async (t, engine) => {
  const { store, clock } = await storeWith(t, engine);
  await store.sortedSetPutElements('c', 'r', [{ value: 'a', score: 1 }], { ttlMs: 1000, refresh: true });
  clock.advance(800);
  await store.sortedSetIncrementScore('c', 'r', 'b', 1, { ttlMs: 1000, refresh: true });
  t.equal(await store.itemGetTtl('c', 'r'), 1000, 'refresh: a write resets the expiry');

  await store.sortedSetPutElements('c', 'k', [{ value: 'a', score: 1 }, { value: 'b', score: 2 }], { ttlMs: 1000, refresh: false });
  clock.advance(800);
  await store.sortedSetPutElements('c', 'k', [{ value: 'd', score: 1 }], { ttlMs: 9000, refresh: false });
  await store.sortedSetIncrementScore('c', 'k', 'd', 1, { ttlMs: 9000, refresh: false });
  await store.sortedSetRemoveElements('c', 'k', ['a']);
  t.equal(await store.itemGetTtl('c', 'k'), 200, 'refresh false: an existing sorted set keeps its expiry; removes leave it');
  t.equal(await store.updateTtl('c', 'k', 5000), true, 'updateTtl applies to a sorted set');
  clock.advance(5001);
  t.equal(await store.sortedSetLength('c', 'k'), undefined, 'expired: a Miss');
  await store.sortedSetPutElements('c', 'k', [{ value: 'z', score: 0 }], { ttlMs: 9000, refresh: false });
  t.equal(await store.itemGetTtl('c', 'k'), 9000, 'a put after expiry starts a new sorted set with its TTL');
  t.same(pairs(await store.sortedSetFetchByRank('c', 'k', {}, 'ascending')), [['z', 0]], '...holding none of the old elements');
});

testEachStore('a key holds one kind: sorted sets and the other kinds refuse each other, naming both', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  await store.set('c', 'scalar', '1', undefined);
  await store.listPushBack('c', 'list', ['x'], { ttl: refresh });
  await store.dictionarySetFields('c', 'dictionary', [{ field: 'f', value: '1' }], refresh);
  await store.setAddElements('c', 'set', ['x'], refresh);
  await store.sortedSetPutElements('c', 'zset', [{ value: 'x', score: 1 }], refresh);
  for (const held of ['scalar', 'list', 'dictionary', 'set']) {
    const refused = { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: `key "${held}" in cache "c" holds a ${held}, not a sorted set` };
    await t.rejects(async () => store.sortedSetPutElements('c', held, [{ value: 'x', score: 1 }], refresh), refused, `put on a ${held}`);
    await t.rejects(async () => store.sortedSetFetchByRank('c', held, {}, 'ascending'), refused);
    await t.rejects(async () => store.sortedSetFetchByScore('c', held, {}, 'ascending', 0, undefined), refused);
    await t.rejects(async () => store.sortedSetGetScores('c', held, ['x']), refused);
    await t.rejects(async () => store.sortedSetGetRank('c', held, 'x', 'ascending'), refused);
    await t.rejects(async () => store.sortedSetIncrementScore('c', held, 'x', 1, refresh), refused);
    await t.rejects(async () => store.sortedSetRemoveElements('c', held, ['x']), refused);
    await t.rejects(async () => store.sortedSetRemoveElements('c', held, undefined), refused);
    await t.rejects(async () => store.sortedSetLength('c', held), refused);
    await t.rejects(async () => store.sortedSetLength('c', held, {}), refused);
    await t.rejects(async () => store.sortedSetUnionStore('c', held, [{ sortedSet: 'zset', weight: 1 }], 'sum', undefined), refused, 'a union into it');
    await t.rejects(async () => store.sortedSetUnionStore('c', 'u', [{ sortedSet: 'zset', weight: 1 }, { sortedSet: held, weight: 1 }], 'sum', undefined), refused, 'a union from it');
  }
  t.equal(await store.itemGetType('c', 'u'), undefined, 'a refused union stores nothing');
  await t.rejects(async () => store.get('c', 'zset'), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "zset" in cache "c" holds a sorted set, not a scalar' });
  await t.rejects(async () => store.setFetch('c', 'zset'), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "zset" in cache "c" holds a sorted set, not a set' });
  await t.rejects(async () => store.listLength('c', 'zset'), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.dictionaryLength('c', 'zset'), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.increment('c', 'zset', 1, undefined), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  t.equal(await store.setIf('c', 'zset', 'v', { kind: 'absent' }, undefined), false, 'presence counts a sorted set');
  await store.set('c', 'zset', 'now a scalar', undefined);
  t.equal(await store.get('c', 'zset'), 'now a scalar', 'set() replaces a sorted set');
});

testEachStore('sorted-set limits: elements, item bytes (element + 8 per score); a refused write changes nothing', async (t, engine) => {
  const { store } = await storeWith(t, engine, { maxSortedSetElements: 3, maxItemBytes: 60, maxElementBytes: 30 });
  await store.sortedSetPutElements('c', 'z', [{ value: 'a', score: 1 }, { value: 'b', score: 2 }], refresh);
  await t.rejects(async () => store.sortedSetPutElements('c', 'z', [{ value: 'c', score: 3 }, { value: 'd', score: 4 }, { value: 'c', score: 5 }], refresh),
    { code: ErrorCode.LIMIT_EXCEEDED_ERROR, cause_: LimitCause.SORTED_SET_ELEMENTS, message: 'sorted set "z" would hold 4 elements; at most 3 are allowed' });
  t.equal(await store.sortedSetLength('c', 'z'), 2, 'unchanged after the refusal');
  await store.sortedSetPutElements('c', 'z', [{ value: 'a', score: 7 }, { value: 'c', score: 3 }, { value: 'c', score: 4 }], refresh);
  t.same(pairs(await store.sortedSetFetchByRank('c', 'z', {}, 'ascending')), [['b', 2], ['c', 4], ['a', 7]], 'held elements and repeats add none: 3 fits, scores updated');
  await t.rejects(async () => store.sortedSetIncrementScore('c', 'z', 'd', 1, refresh), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.SORTED_SET_ELEMENTS));
  t.equal(await store.sortedSetIncrementScore('c', 'z', 'a', 1, refresh), 8, 'an increment of a held element adds none');

  // Item bytes = key + (element + 8) each: 'big' (3) + 2 × (16 + 8) = 51 fits, a third (1 + 8) is 60, one byte more is not.
  const v16 = (c: string) => c.repeat(16);
  await store.sortedSetPutElements('c', 'big', [{ value: v16('p'), score: 1 }, { value: v16('q'), score: 2 }], refresh);
  await t.rejects(async () => store.sortedSetPutElements('c', 'big', [{ value: 'rr', score: 3 }], refresh), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), '51 + 10 > 60');
  t.same(await store.sortedSetGetScores('c', 'big', ['rr']), [undefined], 'unchanged after the refusal');
  await store.sortedSetPutElements('c', 'big', [{ value: 'r', score: 3 }], refresh);
  await store.sortedSetRemoveElements('c', 'big', [v16('q')]);
  await store.sortedSetPutElements('c', 'big', [{ value: v16('s'), score: 4 }], refresh);
  t.equal(await store.sortedSetLength('c', 'big'), 3, 'a removed element frees its bytes');

  await store.sortedSetPutElements('c', 'z2', [{ value: 'x', score: 1 }], refresh);
  await t.rejects(async () => store.sortedSetUnionStore('c', 'u', [{ sortedSet: 'z', weight: 1 }, { sortedSet: 'z2', weight: 1 }], 'sum', undefined),
    failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.SORTED_SET_ELEMENTS), 'a union of four elements is refused');
  t.equal(await store.itemGetType('c', 'u'), undefined, '...storing nothing');
});
