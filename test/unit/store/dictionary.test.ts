/** Momento's dictionaries on both stores (`[memory]` / `[redis]`), through the CacheEngine
 * interface with a ManualClock: per-field hits and misses, increments, removals, the collection
 * TTL, the item type, the one-kind-per-key rule and the limits. */
import { ErrorCode, LimitCause } from '../../../src/protocol/index.js';
import { storeWith, testEachStore } from '../../helpers/stores.js';

const refresh = { refresh: true };
const failure = (code: string, cause?: string) => (cause === undefined ? { code } : { code, cause_: cause });
const byField = (items: Array<{ field: string; value: unknown }> | undefined) => items && [...items].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));

testEachStore('dictionaries: set, get per field, fetch, remove, length, misses', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  t.equal(await store.dictionaryFetch('c', 'd'), undefined, 'no dictionary: fetch is a Miss');
  t.equal(await store.dictionaryGetFields('c', 'd', ['a']), undefined, 'no dictionary: get is a Miss');
  t.equal(await store.dictionaryLength('c', 'd'), undefined, 'no dictionary: length is a Miss');
  t.equal(await store.itemGetType('c', 'd'), undefined, 'no item: no type');

  const bin = new Uint8Array([0, 255, 1]);
  await store.dictionarySetFields('c', 'd', [{ field: 'a', value: '1' }, { field: 'b', value: bin }, { field: 'a', value: 'A' }], refresh);
  t.same(await store.dictionaryGetFields('c', 'd', ['a', 'zz', 'b', 'a']), ['A', undefined, bin, 'A'], 'per field: values as sent (a later item wins), a missing field undefined');
  t.same(byField(await store.dictionaryFetch('c', 'd')), [{ field: 'a', value: 'A' }, { field: 'b', value: bin }], 'fetch: every field');
  t.equal(await store.dictionaryLength('c', 'd'), 2);
  t.equal(await store.itemGetType('c', 'd'), 'dictionary');

  await store.dictionarySetFields('c', 'd', [{ field: 'é', value: '' }], refresh);
  t.equal(await store.dictionaryLength('c', 'd'), 3, 'a new field adds one; an empty value is a value');
  t.same(await store.dictionaryGetFields('c', 'd', ['é']), ['']);

  await store.dictionaryRemoveFields('c', 'd', ['a', 'nope', 'a']);
  t.same(await store.dictionaryGetFields('c', 'd', ['a', 'b']), [undefined, bin], 'removed field: a per-field miss; others kept');
  t.equal(await store.dictionaryLength('c', 'd'), 2);
  await store.dictionaryRemoveFields('c', 'nothing-here', ['a']);
  t.equal(await store.itemGetType('c', 'nothing-here'), undefined, 'removing from no dictionary creates none');
  await store.dictionaryRemoveFields('c', 'd', ['b', 'é']);
  t.equal(await store.dictionaryFetch('c', 'd'), undefined, 'emptied by removes: gone');

  await store.dictionarySetFields('c', 'gone', [{ field: 'x', value: 'y' }], refresh);
  await store.delete('c', 'gone');
  t.equal(await store.dictionaryLength('c', 'gone'), undefined, 'delete removes a dictionary');
  await store.dictionarySetFields('c', 'all', [{ field: 'x', value: 'y' }, { field: 'z', value: 'y' }], refresh);
  await store.dictionaryRemoveFields('c', 'all', undefined);
  t.equal(await store.dictionaryLength('c', 'all'), undefined, 'removing every field removes the dictionary');
});

testEachStore('dictionaryIncrement: from 0, integers only, 64 bits, stored as text', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  t.equal(await store.dictionaryIncrement('c', 'n', 'hits', 5, refresh), 5n, 'a missing dictionary and field start from 0');
  t.equal(await store.dictionaryIncrement('c', 'n', 'hits', -7, refresh), -2n);
  t.same(await store.dictionaryGetFields('c', 'n', ['hits']), ['-2'], 'stored as decimal text');
  await store.dictionarySetFields('c', 'n', [{ field: 'padded', value: '+007' }, { field: 'word', value: 'seven' }, { field: 'max', value: '9223372036854775807' }], refresh);
  t.equal(await store.dictionaryIncrement('c', 'n', 'padded', 1, refresh), 8n, 'sign and leading zeros are an integer');
  await t.rejects(async () => store.dictionaryIncrement('c', 'n', 'word', 1, refresh), failure(ErrorCode.FAILED_PRECONDITION_ERROR), 'a field that is no integer: FAILED_PRECONDITION');
  await t.rejects(async () => store.dictionaryIncrement('c', 'n', 'max', 1, refresh), failure(ErrorCode.FAILED_PRECONDITION_ERROR), 'past 64 bits: FAILED_PRECONDITION');
  t.same(await store.dictionaryGetFields('c', 'n', ['word', 'max']), ['seven', '9223372036854775807'], 'refused increments change nothing');
  t.equal(await store.dictionaryLength('c', 'n'), 4);
  await store.dictionarySetFields('c', 'big', [{ field: 'f', value: '9223372036854775800' }], refresh);
  t.equal(await store.dictionaryIncrement('c', 'big', 'f', 6, refresh), 9223372036854775806n, 'the sum is exact past 2^53, as increment\'s');
});

testEachStore('dictionary TTL: refresh on write, keep on write, untouched by removes; a collection for the TTL operations', async (t, engine) => {
  const { store, clock } = await storeWith(t, engine);
  await store.dictionarySetFields('c', 'r', [{ field: 'f', value: '1' }], { ttlMs: 1000, refresh: true });
  clock.advance(800);
  await store.dictionaryIncrement('c', 'r', 'g', 1, { ttlMs: 1000, refresh: true });
  t.equal(await store.itemGetTtl('c', 'r'), 1000, 'refresh: a write resets the expiry');

  await store.dictionarySetFields('c', 'k', [{ field: 'f', value: '1' }], { ttlMs: 1000, refresh: false });
  clock.advance(800);
  await store.dictionarySetFields('c', 'k', [{ field: 'g', value: '2' }], { ttlMs: 9000, refresh: false });
  await store.dictionaryIncrement('c', 'k', 'h', 1, { ttlMs: 9000, refresh: false });
  await store.dictionaryRemoveFields('c', 'k', ['g']);
  t.equal(await store.itemGetTtl('c', 'k'), 200, 'refresh false: an existing dictionary keeps its expiry; removes leave it');
  t.equal(await store.updateTtl('c', 'k', 5000), true, 'updateTtl applies to a dictionary');
  t.equal(await store.changeTtl('c', 'k', 6000, 'increase'), 'set', 'increaseTtl too');
  clock.advance(6001);
  t.equal(await store.dictionaryFetch('c', 'k'), undefined, 'expired: a Miss');
  await store.dictionarySetFields('c', 'k', [{ field: 'f', value: '1' }], { ttlMs: 9000, refresh: false });
  t.equal(await store.itemGetTtl('c', 'k'), 9000, 'a write after expiry starts a new dictionary with its TTL');
  t.same(await store.dictionaryGetFields('c', 'k', ['h']), [undefined], '...holding none of the old fields');
  await store.dictionarySetFields('c', 'dflt', [{ field: 'f', value: '1' }], refresh);
  t.equal(await store.itemGetTtl('c', 'dflt'), 3600 * 1000, 'no ttlMs: the default TTL');
});

testEachStore('a key holds one kind: dictionaries, lists and scalars refuse each other', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  await store.set('c', 's', '1', undefined);
  await store.listPushBack('c', 'l', ['x'], { ttl: refresh });
  await store.dictionarySetFields('c', 'd', [{ field: 'f', value: '1' }], refresh);
  for (const key of ['s', 'l']) {
    const held = key === 's' ? 'scalar' : 'list';
    const refused = { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: `key "${key}" in cache "c" holds a ${held}, not a dictionary` };
    await t.rejects(async () => store.dictionarySetFields('c', key, [{ field: 'f', value: '1' }], refresh), refused, `set on a ${held}`);
    await t.rejects(async () => store.dictionaryGetFields('c', key, ['f']), refused, `get on a ${held}`);
    await t.rejects(async () => store.dictionaryFetch('c', key), refused);
    await t.rejects(async () => store.dictionaryIncrement('c', key, 'f', 1, refresh), refused);
    await t.rejects(async () => store.dictionaryRemoveFields('c', key, ['f']), refused);
    await t.rejects(async () => store.dictionaryRemoveFields('c', key, undefined), refused);
    await t.rejects(async () => store.dictionaryLength('c', key), refused);
  }
  await t.rejects(async () => store.get('c', 'd'), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "d" in cache "c" holds a dictionary, not a scalar' });
  await t.rejects(async () => store.increment('c', 'd', 1, undefined), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.setIf('c', 'd', 'v', { kind: 'equal', compare: '1' }, undefined), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  t.equal(await store.setIf('c', 'd', 'v', { kind: 'absent' }, undefined), false, 'presence counts a dictionary');
  await t.rejects(async () => store.listPushBack('c', 'd', ['x'], { ttl: refresh }), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "d" in cache "c" holds a dictionary, not a list' });
  await t.rejects(async () => store.listLength('c', 'd'), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  t.same([await store.itemGetType('c', 's'), await store.itemGetType('c', 'l'), await store.itemGetType('c', 'd')], ['scalar', 'list', 'dictionary']);
  await store.set('c', 'd', 'now a scalar', undefined);
  t.equal(await store.get('c', 'd'), 'now a scalar', 'set replaces a dictionary');
  t.same(await store.dictionaryGetFields('c', 'fresh', ['f']), undefined);
});

testEachStore('dictionary limits: fields, item bytes; a refused write changes nothing', async (t, engine) => {
  const { store } = await storeWith(t, engine, { maxDictionaryFields: 3, maxItemBytes: 60, maxElementBytes: 30 });
  await store.dictionarySetFields('c', 'd', [{ field: 'a', value: '1' }, { field: 'b', value: '2' }], refresh);
  await t.rejects(async () => store.dictionarySetFields('c', 'd', [{ field: 'c', value: '3' }, { field: 'e', value: '4' }], refresh),
    { code: ErrorCode.LIMIT_EXCEEDED_ERROR, cause_: LimitCause.DICTIONARY_FIELDS, message: 'dictionary "d" would hold 4 fields; at most 3 are allowed' });
  await store.dictionarySetFields('c', 'd', [{ field: 'a', value: 'x' }, { field: 'c', value: '3' }], refresh);
  t.equal(await store.dictionaryLength('c', 'd'), 3, 'replacing a field adds none: 3 fits');
  await t.rejects(async () => store.dictionaryIncrement('c', 'd', 'new', 1, refresh), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.DICTIONARY_FIELDS), 'an increment adding a field counts too');
  t.equal(await store.dictionaryIncrement('c', 'd', 'b', 1, refresh), 3n, 'one on a held field does not');

  // Item bytes = key + every field name and value: 'big' (3) + 2 × (1 + 27) = 59 fits; 60 is the bound.
  const v27 = 'v'.repeat(27);
  await store.dictionarySetFields('c', 'big', [{ field: 'p', value: v27 }, { field: 'q', value: v27 }], refresh);
  await t.rejects(async () => store.dictionarySetFields('c', 'big', [{ field: 'r', value: 'xx' }], refresh), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), '59 + 3 > 60');
  await t.rejects(async () => store.dictionarySetFields('c', 'big', [{ field: 'p', value: `${v27}xx` }], refresh), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), 'a longer value for a held field counts its growth');
  t.same(await store.dictionaryGetFields('c', 'big', ['p', 'r']), [v27, undefined], 'unchanged after the refusals');
  await store.dictionarySetFields('c', 'big', [{ field: 'p', value: 'short' }, { field: 'r', value: 'x' }], refresh);
  t.equal(await store.dictionaryLength('c', 'big'), 3, 'a shorter value frees its bytes');
  await store.dictionaryRemoveFields('c', 'big', ['q']);
  await store.dictionarySetFields('c', 'big', [{ field: 's', value: v27 }], refresh);
  t.equal(await store.dictionaryLength('c', 'big'), 3, 'a removed field frees its bytes');
});
