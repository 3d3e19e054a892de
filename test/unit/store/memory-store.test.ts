/** The cache stores through their CacheEngine interface, with a ManualClock (no sleeps): the
 * Momento semantics run on both the memory and the Redis store (`[memory]` / `[redis]`); memory
 * bounds, purging and pubAppend (on a real MemoryEngine whose fan-out records what it was handed)
 * are the memory store's own. Redis-only behaviour: redis-store.test.ts. */
import t, { type Test } from 'tap';
import { DEFAULTS, type StoreConfig } from '../../../src/core/config.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ErrorCode, LimitCause, decodeFrame } from '../../../src/protocol/index.js';
import { MemoryCacheStore } from '../../../src/store/memory-store.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { storeWith as anyStoreWith, testEachStore } from '../../helpers/stores.js';

const refresh = { refresh: true };

function storeWith(t: Test, config: Partial<StoreConfig> = {}, clock = new ManualClock()): { store: MemoryCacheStore; clock: ManualClock } {
  const store = new MemoryCacheStore({ ...DEFAULTS.store, ...config }, clock);
  t.teardown(() => store.close());
  return { store, clock };
}

const failure = (code: string, cause?: string) => (cause === undefined ? { code } : { code, cause_: cause });

testEachStore('scalars: get / set / delete, misses, text and binary kept as sent', async (t, engine) => {
  const { store } = await anyStoreWith(t, engine);
  t.equal(await store.get('c', 'k'), undefined, 'miss before set');
  await store.set('c', 'k', 'hello', undefined);
  t.equal(await store.get('c', 'k'), 'hello');
  const frame = new Uint8Array([9, 1, 2, 3, 9]);
  await store.set('c', 'bin', frame.subarray(1, 4), undefined);
  frame.fill(0); // the decoder's buffer is reused after the handler; the store must hold a copy
  t.same(await store.get('c', 'bin'), new Uint8Array([1, 2, 3]));
  t.ok((await store.get('c', 'bin')) instanceof Uint8Array, 'binary stays binary');
  t.equal(await store.get('other-cache', 'k'), undefined, 'caches are separate namespaces');
  await store.delete('c', 'k');
  t.equal(await store.get('c', 'k'), undefined, 'deleted');
  await store.delete('c', 'never-there');
  await store.set('c', 'k', 'v1', undefined);
  await store.set('c', 'k', 'v2', undefined);
  t.equal(await store.get('c', 'k'), 'v2', 'set replaces');
});

testEachStore('stored text is an exact copy, whatever its characters', async (t, engine) => {
  const { store } = await anyStoreWith(t, engine);
  const texts = ['short', 'héllo wörld, Latin-1 only ÿ', '日本語のテキストです、長い文字列', 'emoji 😀😀😀 pairs and more', '\ud800 a lone surrogate, kept as is', 'x'.repeat(5000)];
  for (const [i, text] of texts.entries()) await store.set('c', `t${i}`, text, undefined);
  await store.listPushBack('c', 'l', texts, { ttl: refresh });
  for (const [i, text] of texts.entries()) t.equal(await store.get('c', `t${i}`), text, JSON.stringify(text.slice(0, 20)));
  t.same(await store.listFetch('c', 'l', {}), texts);
});

testEachStore('scalar TTL: default, explicit, itemGetTtl, updateTtl, expiry without sleeping', async (t, engine) => {
  const { store, clock } = await anyStoreWith(t, engine, { defaultTtlSec: 60 });
  await store.set('c', 'default', 'x', undefined);
  await store.set('c', 'short', 'x', 1000);
  t.equal(await store.itemGetTtl('c', 'default'), 60_000);
  t.equal(await store.itemGetTtl('c', 'short'), 1000);
  clock.advance(400);
  t.equal(await store.itemGetTtl('c', 'short'), 600, 'remaining TTL counts down with the clock');
  t.equal(await store.updateTtl('c', 'short', 5000), true, 'updateTtl on a live item: Set');
  t.equal(await store.itemGetTtl('c', 'short'), 5000);
  clock.advance(4999);
  t.equal(await store.get('c', 'short'), 'x', 'still there 1 ms before expiry');
  clock.advance(2);
  t.equal(await store.get('c', 'short'), undefined, 'expired: miss');
  t.equal(await store.itemGetTtl('c', 'short'), undefined, 'expired: itemGetTtl miss');
  t.equal(await store.updateTtl('c', 'short', 5000), false, 'updateTtl on an expired item: Miss');
  t.equal(await store.updateTtl('c', 'nothing', 5000), false, 'updateTtl on an absent item: Miss');
  clock.advance(60_000);
  t.equal(await store.get('c', 'default'), undefined, 'default TTL applies');
});

t.test('expired items leave memory on purge even if never read again', async (t) => {
  const { store, clock } = storeWith(t);
  for (let i = 0; i < 50; i++) await store.set('c', `k${i}`, 'x'.repeat(100), 1000);
  await store.listPushBack('c', 'l', ['a'], { ttl: { ttlMs: 1000, refresh: true } });
  t.equal(store.stats().items, 51);
  clock.advance(1001);
  store.purgeStale();
  t.same(store.stats(), { items: 0, bytes: 0, maxBytes: DEFAULTS.store.maxBytes });
});

testEachStore('lists: every operation, replies and misses', async (t, engine) => {
  const { store } = await anyStoreWith(t, engine);
  t.equal(await store.listFetch('c', 'l', {}), undefined, 'fetch of an absent list: miss');
  t.equal(await store.listLength('c', 'l'), undefined, 'length of an absent list: miss');
  t.equal(await store.listPop('c', 'l', 'back'), undefined, 'pop of an absent list: miss');
  await store.listRetain('c', 'l', { startIndex: 0, endIndex: 2 }, refresh);
  await store.listRemoveValue('c', 'l', 'x');
  t.equal(await store.listLength('c', 'l'), undefined, 'retain and remove on an absent list create nothing');

  t.equal(await store.listPushBack('c', 'l', ['1', '2', '3'], { ttl: refresh }), 3);
  t.equal(await store.listPushBack('c', 'l', ['4', '5', '6'], { ttl: refresh, truncateToSize: 5 }), 5, 'writes report the new length');
  t.same(await store.listFetch('c', 'l', {}), ['2', '3', '4', '5', '6'], 'Momento example');
  t.equal(await store.listPushFront('c', 'l', ['0'], { ttl: refresh, truncateToSize: 5 }), 5);
  t.same(await store.listFetch('c', 'l', {}), ['0', '2', '3', '4', '5']);
  t.equal(await store.listPushFront('c', 'l', ['a', 'b'], { ttl: refresh }), 7);
  t.same(await store.listFetch('c', 'l', {}), ['a', 'b', '0', '2', '3', '4', '5'], 'concatenate front keeps the order');
  t.same(await store.listFetch('c', 'l', { startIndex: -3 }), ['3', '4', '5']);
  t.same(await store.listFetch('c', 'l', { startIndex: 1, endIndex: 3 }), ['b', '0']);
  t.same(await store.listFetch('c', 'l', { startIndex: 50 }), [], 'out of range on a live list: empty hit');
  t.same(await store.listPop('c', 'l', 'front'), { value: 'a', length: 6 });
  t.same(await store.listPop('c', 'l', 'back'), { value: '5', length: 5 });
  await store.listRetain('c', 'l', { startIndex: 1, endIndex: -1 }, refresh);
  t.same(await store.listFetch('c', 'l', {}), ['0', '2', '3']);
  await store.listPushBack('c', 'l', ['0', new TextEncoder().encode('0'), 'z'], { ttl: refresh });
  await store.listRemoveValue('c', 'l', '0');
  t.same(await store.listFetch('c', 'l', {}), ['2', '3', 'z'], 'every equal element removed, text equal to its UTF-8 bytes too');
  t.equal(await store.listLength('c', 'l'), 3);
  const bin = new Uint8Array([0, 255]);
  await store.listPushBack('c', 'l', [bin], { ttl: refresh });
  const fetched = await store.listFetch('c', 'l', { startIndex: -1 });
  t.ok(fetched![0] instanceof Uint8Array, 'binary element stays binary');
  t.same(fetched, [new Uint8Array([0, 255])]);

  for (let i = 0; i < 4; i++) await store.listPop('c', 'l', 'back');
  t.equal(await store.listFetch('c', 'l', {}), undefined, 'a list emptied by pops is gone (miss)');
  await store.listPushBack('c', 'l', ['x'], { ttl: refresh });
  await store.listRemoveValue('c', 'l', 'x');
  t.equal(await store.listLength('c', 'l'), undefined, 'emptied by remove: gone');
  await store.listPushBack('c', 'l', ['x'], { ttl: refresh });
  await store.listRetain('c', 'l', { startIndex: 5 }, refresh);
  t.equal(await store.listLength('c', 'l'), undefined, 'emptied by retain: gone');
});

testEachStore('collection TTL: refresh on write, keep on write, untouched by pops and removes', async (t, engine) => {
  const { store, clock } = await anyStoreWith(t, engine);
  await store.listPushBack('c', 'r', ['1'], { ttl: { ttlMs: 1000, refresh: true } });
  clock.advance(800);
  await store.listPushBack('c', 'r', ['2'], { ttl: { ttlMs: 1000, refresh: true } });
  t.equal(await store.itemGetTtl('c', 'r'), 1000, 'refresh: every write resets the expiry');

  await store.listPushBack('c', 'k', ['1'], { ttl: { ttlMs: 1000, refresh: false } });
  t.equal(await store.itemGetTtl('c', 'k'), 1000, 'refresh false: a new collection gets the TTL');
  clock.advance(800);
  await store.listPushBack('c', 'k', ['2'], { ttl: { ttlMs: 9000, refresh: false } });
  t.equal(await store.itemGetTtl('c', 'k'), 200, 'refresh false: an existing collection keeps its expiry');
  await store.listPop('c', 'k', 'front');
  await store.listRemoveValue('c', 'k', 'nothing-equal');
  t.equal(await store.itemGetTtl('c', 'k'), 200, 'pop and remove leave the expiry alone');
  clock.advance(201);
  t.equal(await store.listFetch('c', 'k', {}), undefined, 'expired list: miss');
  t.equal(await store.listPushBack('c', 'k', ['3'], { ttl: { ttlMs: 9000, refresh: false } }), 1, 'a push after expiry starts a new list');
  t.equal(await store.itemGetTtl('c', 'k'), 9000, '...with the new TTL');

  await store.listRetain('c', 'k', { startIndex: 0 }, { ttlMs: 3000, refresh: true });
  t.equal(await store.itemGetTtl('c', 'k'), 3000, 'retain takes a collection TTL too');
  await store.listPushBack('c', 'd', ['1'], { ttl: { refresh: true } });
  t.equal(await store.itemGetTtl('c', 'd'), DEFAULTS.store.defaultTtlSec * 1000, 'no ttlMs: the default TTL');
});

testEachStore('a key holds one type: the wrong kind of operation is FAILED_PRECONDITION_ERROR', async (t, engine) => {
  const { store } = await anyStoreWith(t, engine);
  await store.set('c', 's', 'scalar', undefined);
  await store.listPushBack('c', 'l', ['x'], { ttl: refresh });
  await t.rejects(async () => store.listPushBack('c', 's', ['x'], { ttl: refresh }), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.listFetch('c', 's', {}), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.get('c', 'l'), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  t.equal(await store.itemGetTtl('c', 'l') !== undefined, true, 'itemGetTtl works on any type');
  await store.set('c', 'l', 'now a scalar', undefined);
  t.equal(await store.get('c', 'l'), 'now a scalar', 'set replaces a list');
  await store.delete('c', 's');
  t.equal(await store.listPushBack('c', 's', ['x'], { ttl: refresh }), 1, 'after delete the key is free');
});

testEachStore('configured caches: others are NOT_FOUND_ERROR', async (t, engine) => {
  const { store } = await anyStoreWith(t, engine, { caches: ['chat'] });
  await store.set('chat', 'k', 'v', undefined);
  t.equal(await store.get('chat', 'k'), 'v');
  await t.rejects(async () => store.get('nope', 'k'), failure(ErrorCode.NOT_FOUND_ERROR));
  await t.rejects(async () => store.listPushBack('nope', 'l', ['x'], { ttl: refresh }), failure(ErrorCode.NOT_FOUND_ERROR));
});

testEachStore('limits: list length and item bytes refuse the write and change nothing', async (t, engine) => {
  const { store } = await anyStoreWith(t, engine, { maxListLength: 5, maxItemBytes: 100, maxElementBytes: 50 });
  await store.listPushBack('c', 'l', ['1', '2', '3', '4', '5'], { ttl: refresh });
  await t.rejects(async () => store.listPushBack('c', 'l', ['6'], { ttl: refresh }), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.LIST_LENGTH));
  await t.rejects(async () => store.listPushFront('c', 'l', ['0'], { ttl: refresh }), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.LIST_LENGTH));
  t.same(await store.listFetch('c', 'l', {}), ['1', '2', '3', '4', '5'], 'unchanged after the refusals');
  t.equal(await store.listPushBack('c', 'l', ['6'], { ttl: refresh, truncateToSize: 5 }), 5, 'with truncation the same push fits');
  t.equal(await store.listPushBack('c', 'l', ['a', 'b', 'c', 'd', 'e', 'f', 'g'], { ttl: refresh, truncateToSize: 3 }), 3, 'a concatenation longer than the cap keeps its tail');
  t.same(await store.listFetch('c', 'l', {}), ['e', 'f', 'g']);

  // Item bytes = key + every element: 'big' (3) + 2 × 45 = 93 fits, a third does not.
  const e45 = 'x'.repeat(45);
  await store.listPushBack('c', 'big', [e45, e45], { ttl: refresh });
  await t.rejects(async () => store.listPushBack('c', 'big', [e45], { ttl: refresh }), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE));
  t.equal(await store.listLength('c', 'big'), 2, 'unchanged');
  t.equal(await store.listPushBack('c', 'big', [e45], { ttl: refresh, truncateToSize: 2 }), 2, 'fits once the front is cut');
  await t.rejects(async () => store.set('c', 'k', 'y'.repeat(100), undefined), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), 'scalar: key + value over maxItemBytes');
  await store.set('c', 'k', 'y'.repeat(99), undefined);
  t.equal((await store.get('c', 'k') as string).length, 99, 'key (1) + value (99) = 100 fits');
});

t.test('an item that would outweigh the whole store is refused, not silently dropped', async (t) => {
  const { store } = storeWith(t, { maxBytes: 4096, maxItemBytes: 4096, maxElementBytes: 64, maxListLength: 1000 });
  let refused: unknown;
  try {
    for (let i = 0; i < 1000; i++) await store.listPushBack('c', 'l', ['e'], { ttl: refresh });
  } catch (err) {
    refused = err;
  }
  t.match(refused, failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), 'per-element overhead counts against the store');
  t.ok((await store.listLength('c', 'l'))! > 0, 'the list is still there');
  t.ok(store.stats().bytes <= 4096);
});

t.test('LRU eviction keeps the store within maxBytes and evicts the least recently used', async (t) => {
  const maxBytes = 64 * 1024;
  const { store } = storeWith(t, { maxBytes });
  await store.set('c', 'oldest', 'o'.repeat(500), undefined);
  await store.set('c', 'kept-warm', 'w'.repeat(500), undefined);
  for (let i = 0; i < 500; i++) {
    await store.set('c', `k${i}`, `${i}`.padEnd(500, '.'), undefined);
    if (i % 10 === 0) await store.get('c', 'kept-warm');
    if (store.stats().bytes > maxBytes) t.fail(`over maxBytes after write ${i}`);
  }
  t.equal(await store.get('c', 'oldest'), undefined, 'the least recently used item was evicted');
  t.equal(await store.get('c', 'kept-warm'), 'w'.repeat(500), 'an item read recently survived');
  t.equal(await store.get('c', 'k499'), '499'.padEnd(500, '.'), 'the newest item is there');
  t.ok(store.stats().items < 502 && store.stats().items > 50, `some items evicted (${store.stats().items} left)`);
});

t.test('pubAppend: publishes, appends with origin, caps, and is refused whole', async (t) => {
  const clock = new ManualClock();
  const engine = new MemoryEngine({ topics: DEFAULTS.topics, store: { ...DEFAULTS.store, maxListLength: 3, maxItemBytes: 200, maxElementBytes: 100 }, clock });
  const fanned: Array<Record<string, unknown>> = [];
  engine.start({ publish: (_key, frame) => fanned.push(decodeFrame(frame)), sendTo: () => {} });
  t.teardown(() => engine.close());
  const store = engine.cache;

  const first = await store.pubAppend('chat', 'room', 'room-history', 'hello', 'alice', { ttl: refresh, truncateToSize: 2 });
  t.match(first, { seq: 1, length: 1 });
  clock.advance(5);
  await store.pubAppend('chat', 'room', 'room-history', 'two', undefined, { ttl: refresh, truncateToSize: 2 });
  const third = await store.pubAppend('chat', 'room', 'room-history', new Uint8Array([3]), 'bob', { ttl: refresh, truncateToSize: 2 });
  t.match(third, { seq: 3, page: first.page, length: 2 });
  t.same(fanned.map((f) => f['seq']), [1, 2, 3], 'each pubAppend published one item');
  t.same(await store.listFetch('chat', 'room-history', {}), ['two', new Uint8Array([3])], 'plain fetch: values only');
  t.same(await store.listFetchWithMeta('chat', 'room-history', {}), [
    { value: 'two', page: first.page, seq: 2, ts: fanned[1]!['ts'] },
    { value: new Uint8Array([3]), page: first.page, seq: 3, ts: fanned[2]!['ts'], tokenId: 'bob' },
  ], 'withMeta: (page, seq, ts, tokenId) of the published item');
  t.equal(fanned[1]!['ts'], (fanned[0]!['ts'] as number) + 5, 'ts is the item\'s server time');

  await store.listPushBack('chat', 'full', ['a', 'b', 'c'], { ttl: refresh });
  await t.rejects(async () => store.pubAppend('chat', 'room', 'full', 'd', 'alice', { ttl: refresh }), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.LIST_LENGTH));
  t.equal(fanned.length, 3, 'a refused append published nothing');
  await store.set('chat', 'scalar', 'x', undefined);
  await t.rejects(async () => store.pubAppend('chat', 'room', 'scalar', 'd', 'alice', { ttl: refresh }), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  t.equal(fanned.length, 3, 'wrong type: nothing published');

  t.equal(await store.listRemoveOrigin('chat', 'room-history', { page: first.page, seq: 2 }), true, 'remove by origin');
  t.equal(await store.listRemoveOrigin('chat', 'room-history', { page: first.page, seq: 2 }), false, 'already gone');
  t.same(await store.listFetch('chat', 'room-history', {}), [new Uint8Array([3])]);
});
