/** Momento's sets on both stores (`[memory]` / `[redis]`), through the CacheEngine interface with a
 * ManualClock: distinct elements compared and answered as bytes, contains per element, pop and
 * sample, the collection TTL, the item type, the one-kind-per-key rule and the limits. */
import { ErrorCode, LimitCause } from '../../../src/protocol/index.js';
import { storeWith, testEachStore } from '../../helpers/stores.js';

const refresh = { refresh: true };
const failure = (code: string, cause?: string) => (cause === undefined ? { code } : { code, cause_: cause });
const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));
/** Elements as sorted hex strings: sets come in no order. */
const hex = (elements: Uint8Array[] | undefined) => elements && elements.map((e) => Buffer.from(e).toString('hex')).sort();
const hexOf = (...texts: string[]) => hex(texts.map(bytes));

testEachStore('sets: add, fetch, contains, remove, length, misses; text is its UTF-8 bytes', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  t.equal(await store.setFetch('c', 's'), undefined, 'no set: fetch is a Miss');
  t.equal(await store.setContainsElements('c', 's', ['a']), undefined, 'no set: contains is a Miss');
  t.equal(await store.setLength('c', 's'), undefined, 'no set: length is a Miss');
  t.equal(await store.setPop('c', 's', 1), undefined, 'no set: pop is a Miss');
  t.equal(await store.setSample('c', 's', 1), undefined, 'no set: sample is a Miss');

  const bin = new Uint8Array([0, 255, 1]);
  await store.setAddElements('c', 's', ['a', bin, 'é', 'a', bytes('a')], refresh);
  t.same(hex(await store.setFetch('c', 's')), hex([bytes('a'), bin, bytes('é')]), 'fetch: each element once, as bytes (text "a" and the bytes of "a" are one element)');
  t.equal(await store.setLength('c', 's'), 3);
  t.equal(await store.itemGetType('c', 's'), 'set');
  t.same(await store.setContainsElements('c', 's', [bytes('é'), 'zz', bin, 'a']), [true, false, true, true], 'contains: per element, in order');

  await store.setAddElements('c', 's', ['a', ''], refresh);
  t.equal(await store.setLength('c', 's'), 4, 'a held element adds nothing; the empty element is an element');

  await store.setRemoveElements('c', 's', ['a', 'nope', 'a', bytes('')]);
  t.same(hex(await store.setFetch('c', 's')), hex([bin, bytes('é')]), 'removed elements are gone; others kept');
  await store.setRemoveElements('c', 'nothing-here', ['a']);
  t.equal(await store.itemGetType('c', 'nothing-here'), undefined, 'removing from no set creates none');
  await store.setRemoveElements('c', 's', [bin, 'é']);
  t.equal(await store.setFetch('c', 's'), undefined, 'emptied by removes: gone');

  await store.setAddElements('c', 'gone', ['x'], refresh);
  await store.delete('c', 'gone');
  t.equal(await store.setLength('c', 'gone'), undefined, 'delete removes a set');
  await store.setAddElements('c', 'all', ['x', 'y'], refresh);
  await store.setRemoveElements('c', 'all', undefined);
  t.equal(await store.setLength('c', 'all'), undefined, 'removing every element removes the set');
});

testEachStore('setPop and setSample: distinct elements of the set, pop removes them', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  const all = ['a', 'b', 'c', 'd', 'e'];
  await store.setAddElements('c', 's', all, refresh);
  const sample = hex(await store.setSample('c', 's', 3))!;
  t.equal(sample.length, 3, 'sample: as many as asked');
  t.equal(new Set(sample).size, 3, 'sample: distinct');
  t.ok(sample.every((e) => hexOf(...all)!.includes(e)), 'sample: elements of the set');
  t.equal(await store.setLength('c', 's'), 5, 'sample removes nothing');
  t.same(hex(await store.setSample('c', 's', 10)), hexOf(...all), 'a limit past the length: every element');
  t.same(await store.setSample('c', 's', 0), [], 'limit 0: none');

  const popped = hex(await store.setPop('c', 's', 2))!;
  t.equal(new Set(popped).size, 2, 'pop: two distinct elements');
  const left = hex(await store.setFetch('c', 's'))!;
  t.same([...left, ...popped].sort(), hexOf(...all), 'pop removes exactly what it returns');
  t.same(hex(await store.setPop('c', 's', 10)), left, 'a count past the length pops every element');
  t.equal(await store.setLength('c', 's'), undefined, 'emptied by pop: gone');
});

testEachStore('set TTL: refresh on add, keep on add, untouched by removes and pops; a collection for the TTL operations', async (t, engine) => {
  const { store, clock } = await storeWith(t, engine);
  await store.setAddElements('c', 'r', ['a'], { ttlMs: 1000, refresh: true });
  clock.advance(800);
  await store.setAddElements('c', 'r', ['b'], { ttlMs: 1000, refresh: true });
  t.equal(await store.itemGetTtl('c', 'r'), 1000, 'refresh: a write resets the expiry');

  await store.setAddElements('c', 'k', ['a', 'b', 'c'], { ttlMs: 1000, refresh: false });
  clock.advance(800);
  await store.setAddElements('c', 'k', ['d'], { ttlMs: 9000, refresh: false });
  await store.setRemoveElements('c', 'k', ['a']);
  await store.setPop('c', 'k', 1);
  t.equal(await store.itemGetTtl('c', 'k'), 200, 'refresh false: an existing set keeps its expiry; removes and pops leave it');
  t.equal(await store.updateTtl('c', 'k', 5000), true, 'updateTtl applies to a set');
  t.equal(await store.changeTtl('c', 'k', 6000, 'increase'), 'set', 'increaseTtl too');
  clock.advance(6001);
  t.equal(await store.setFetch('c', 'k'), undefined, 'expired: a Miss');
  await store.setAddElements('c', 'k', ['z'], { ttlMs: 9000, refresh: false });
  t.equal(await store.itemGetTtl('c', 'k'), 9000, 'an add after expiry starts a new set with its TTL');
  t.same(hex(await store.setFetch('c', 'k')), hexOf('z'), '...holding none of the old elements');
  await store.setAddElements('c', 'dflt', ['x'], refresh);
  t.equal(await store.itemGetTtl('c', 'dflt'), 3600 * 1000, 'no ttlMs: the default TTL');
});

testEachStore('a key holds one kind: sets, dictionaries, lists and scalars refuse each other', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  await store.set('c', 'scalar', '1', undefined);
  await store.listPushBack('c', 'list', ['x'], { ttl: refresh });
  await store.dictionarySetFields('c', 'dictionary', [{ field: 'f', value: '1' }], refresh);
  await store.setAddElements('c', 'set', ['x'], refresh);
  for (const held of ['scalar', 'list', 'dictionary']) {
    const refused = { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: `key "${held}" in cache "c" holds a ${held}, not a set` };
    await t.rejects(async () => store.setAddElements('c', held, ['x'], refresh), refused, `add on a ${held}`);
    await t.rejects(async () => store.setRemoveElements('c', held, ['x']), refused, `remove on a ${held}`);
    await t.rejects(async () => store.setRemoveElements('c', held, undefined), refused);
    await t.rejects(async () => store.setFetch('c', held), refused);
    await t.rejects(async () => store.setContainsElements('c', held, ['x']), refused);
    await t.rejects(async () => store.setLength('c', held), refused);
    await t.rejects(async () => store.setPop('c', held, 1), refused);
    await t.rejects(async () => store.setSample('c', held, 1), refused);
  }
  await t.rejects(async () => store.get('c', 'set'), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "set" in cache "c" holds a set, not a scalar' });
  await t.rejects(async () => store.listPushBack('c', 'set', ['x'], { ttl: refresh }), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "set" in cache "c" holds a set, not a list' });
  await t.rejects(async () => store.dictionaryLength('c', 'set'), { code: ErrorCode.FAILED_PRECONDITION_ERROR, message: 'key "set" in cache "c" holds a set, not a dictionary' });
  await t.rejects(async () => store.increment('c', 'set', 1, undefined), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.setIf('c', 'set', 'v', { kind: 'equal', compare: '1' }, undefined), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  t.equal(await store.setIf('c', 'set', 'v', { kind: 'absent' }, undefined), false, 'presence counts a set');
  await store.set('c', 'set', 'now a scalar', undefined);
  t.equal(await store.get('c', 'set'), 'now a scalar', 'set() replaces a set');
});

testEachStore('set limits: elements, item bytes; a refused add changes nothing', async (t, engine) => {
  const { store } = await storeWith(t, engine, { maxSetElements: 3, maxItemBytes: 60, maxElementBytes: 30 });
  await store.setAddElements('c', 's', ['a', 'b'], refresh);
  await t.rejects(async () => store.setAddElements('c', 's', ['c', 'd', 'c'], refresh),
    { code: ErrorCode.LIMIT_EXCEEDED_ERROR, cause_: LimitCause.SET_ELEMENTS, message: 'set "s" would hold 4 elements; at most 3 are allowed' });
  t.equal(await store.setLength('c', 's'), 2, 'unchanged after the refusal');
  await store.setAddElements('c', 's', ['a', 'c', 'c', 'b'], refresh);
  t.equal(await store.setLength('c', 's'), 3, 'held elements and repeats add none: 3 fits');

  // Item bytes = key + every element: 'big' (3) + 27 + 27 + 3 = 60 fits; one byte more does not.
  const v27 = (c: string) => c.repeat(27);
  await store.setAddElements('c', 'big', [v27('p'), v27('q')], refresh);
  await t.rejects(async () => store.setAddElements('c', 'big', ['rrrr'], refresh), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), '57 + 4 > 60');
  t.same(await store.setContainsElements('c', 'big', ['rrrr']), [false], 'unchanged after the refusal');
  await store.setAddElements('c', 'big', ['rrr', v27('p')], refresh);
  await store.setRemoveElements('c', 'big', [v27('q')]);
  await store.setAddElements('c', 'big', [v27('s')], refresh);
  t.equal(await store.setLength('c', 'big'), 3, 'a removed element frees its bytes');
});

testEachStore('a contains of 10 000 elements in one call is answered', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  await store.setAddElements('c', 'big', ['e-7', 'e-9999'], refresh);
  const asked = Array.from({ length: 10_000 }, (_, i) => `e-${i}`);
  const found = (await store.setContainsElements('c', 'big', asked))!;
  t.equal(found.length, 10_000, 'one answer per element');
  t.same(found.flatMap((hit, i) => (hit ? [i] : [])), [7, 9999], 'true exactly for the elements held');
});
