/** What only the Redis store has to get right (the shared Momento semantics run on both stores in
 * memory-store.test.ts): the payload count it keeps beside each list, Redis's own expiry, copying
 * values before the round trip, the element format, and keys it did not write. Real Redis. */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { ErrorCode, LimitCause } from '../../../src/protocol/index.js';
import { decodeItem, encodeValue, encodeWithOrigin } from '../../../src/store/redis/element.js';
import { redisStoreWith } from '../../helpers/stores.js';
import { requireRedis } from '../../helpers/redis.js';

const refresh = { refresh: true };
const failure = (code: string, cause?: string) => (cause === undefined ? { code } : { code, cause_: cause });

async function raw(t: Test, url: string): Promise<Redis> {
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  return redis;
}

t.test('the payload count beside a list follows every write, so item limits stay exact', async (t) => {
  if (!requireRedis(t)) return;
  // maxItemBytes 100: key 'big' (3) + two 45-byte elements = 93 fits, a third does not.
  const { store } = await redisStoreWith(t, { maxItemBytes: 100, maxElementBytes: 50 });
  const e45 = 'x'.repeat(45);
  const fits = async (label: string) => {
    t.equal(await store.listPushBack('c', 'big', [e45], { ttl: refresh }), 2, `${label}: a 45-byte element fits again`);
    await t.rejects(async () => store.listPushBack('c', 'big', [e45], { ttl: refresh }), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), `${label}: and one more does not`);
  };
  await store.listPushBack('c', 'big', [e45], { ttl: refresh });
  await fits('after pushes');
  await store.listPop('c', 'big', 'front');
  await fits('after a pop');
  await store.listPop('c', 'big', 'front');
  await store.listPushBack('c', 'big', ['y'.repeat(10)], { ttl: refresh });
  await store.listRemoveValue('c', 'big', 'y'.repeat(10));
  await fits('after a remove that leaves elements');
  await store.listRemoveValue('c', 'big', e45);
  t.equal(await store.listLength('c', 'big'), undefined, 'removing every equal element empties the list');
  await store.listPushBack('c', 'big', [e45, e45], { ttl: refresh });
  await store.listRetain('c', 'big', { startIndex: 1 }, refresh);
  await fits('after a retain');
  await store.listPushFront('c', 'big', [e45], { ttl: refresh, truncateToSize: 2 });
  await t.rejects(async () => store.listPushBack('c', 'big', ['y'.repeat(8)], { ttl: refresh }), failure(ErrorCode.LIMIT_EXCEEDED_ERROR, LimitCause.ITEM_SIZE), 'a front push truncating the back counts what it cut');
  t.equal(await store.listPushBack('c', 'big', ['y'.repeat(7)], { ttl: refresh, truncateToSize: 3 }), 3, '3 + 45 + 45 + 7 = 100 fits exactly');

  // Empty values weigh nothing and are elements all the same.
  t.equal(await store.listPushBack('c', 'empty', ['', new Uint8Array(0)], { ttl: refresh }), 2);
  t.same(await store.listPop('c', 'empty', 'back'), { value: new Uint8Array(0), length: 1 });
  t.same(await store.listFetch('c', 'empty', {}), ['']);
  await store.listRetain('c', 'empty', {}, refresh);
  await store.listRemoveValue('c', 'empty', '');
  t.equal(await store.listLength('c', 'empty'), undefined, 'an empty text equals the empty binary');
});

t.test('Redis expires what the store wrote, with the TTL the write asked for', async (t) => {
  if (!requireRedis(t)) return;
  const { store, prefix, url } = await redisStoreWith(t);
  const redis = await raw(t, url);
  const key = (k: string) => `${prefix}c\u0000${k}`;
  await store.set('c', 's', 'v', 5000);
  await store.listPushBack('c', 'l', ['a'], { ttl: { ttlMs: 8000, refresh: true } });
  const pttl = async (k: string) => redis.pttl(k);
  t.ok(await pttl(key('s')) > 4000 && await pttl(key('s')) <= 5000, 'scalar');
  t.ok(await pttl(key('l')) > 7000 && await pttl(key('l')) <= 8000, 'list');
  t.ok(await pttl(`${key('l')}\u0000m`) > 7000, 'and its payload count');
  await store.listPushBack('c', 'l', ['b'], { ttl: { ttlMs: 60_000, refresh: false } });
  t.ok(await pttl(key('l')) <= 8000, 'refreshTtl false leaves Redis\'s expiry alone too');
  await store.listPushBack('c', 'l', ['c', 'd'], { ttl: { ttlMs: 60_000, refresh: false }, truncateToSize: 2 });
  t.ok(await pttl(key('l')) > 0 && await pttl(key('l')) <= 8000, 'even when the truncation emptied and refilled the list');
  await store.updateTtl('c', 'l', 20_000);
  t.ok(await pttl(key('l')) > 19_000 && await pttl(`${key('l')}\u0000m`) > 19_000, 'updateTtl moves both');
  t.same(await store.listErase('c', 'l', [{ beginIndex: 0, count: 1 }]), 1);
  t.ok(await pttl(key('l')) > 0 && await pttl(key('l')) <= 20_000, 'listErase rewrites the list and keeps Redis\'s expiry on it');
  await store.listPop('c', 'l', 'back');
  await store.listPop('c', 'l', 'back');
  t.same(await redis.exists(key('l'), `${key('l')}\u0000m`), 0, 'an emptied list leaves no key behind');
});

t.test('values are copied before the round trip; kinds and origins survive the element format', async (t) => {
  if (!requireRedis(t)) return;
  const { store } = await redisStoreWith(t);
  const frame = new Uint8Array([9, 1, 2, 3, 9]);
  const pushed = store.listPushBack('c', 'l', [frame.subarray(1, 4)], { ttl: refresh });
  const set = store.set('c', 'k', frame.subarray(1, 4), undefined);
  frame.fill(0); // the WebSocket message buffer is reused as soon as the handler returns
  await Promise.all([pushed, set]);
  t.same(await store.listFetch('c', 'l', {}), [new Uint8Array([1, 2, 3])]);
  t.same(await store.get('c', 'k'), new Uint8Array([1, 2, 3]));

  const origin = { page: 1_764_000_000_123, seq: 42, ts: 1_764_000_000_999, tokenId: 'user,with,commas' };
  t.same(decodeItem(encodeWithOrigin('héllo', origin)), { value: 'héllo', ...origin });
  t.same(decodeItem(encodeWithOrigin(new Uint8Array([0, 58, 255]), { ...origin, tokenId: undefined })), { value: new Uint8Array([0, 58, 255]), page: origin.page, seq: 42, ts: origin.ts });
  t.same(decodeItem(encodeWithOrigin('', { ...origin, tokenId: '' })), { value: '', ...origin, tokenId: '' }, 'an empty tokenId is not an absent one');
  t.same(decodeItem(encodeValue('12:ab')), { value: '12:ab' }, 'a plain value that looks like a header stays a value');
});

t.test('elements with an origin: fetched with it, compared by value, removed by (page, seq)', async (t) => {
  if (!requireRedis(t)) return;
  const { store, prefix, url } = await redisStoreWith(t);
  const redis = await raw(t, url);
  // The topic half of pubAppend writes these; here they are written as it will write them.
  const k = `${prefix}c\u0000h`;
  const a = { page: 7, seq: 1, ts: 100, tokenId: 'alice' };
  const b = { page: 7, seq: 2, ts: 101 };
  await store.listPushBack('c', 'h', ['plain'], { ttl: refresh });
  await redis.rpush(k, encodeWithOrigin('one', a), encodeWithOrigin(new Uint8Array([2]), b));
  await redis.hincrby(`${k}\u0000m`, 'b', 4);
  t.same(await store.listFetchWithMeta('c', 'h', {}), [{ value: 'plain' }, { value: 'one', ...a }, { value: new Uint8Array([2]), ...b }]);
  t.same(await store.listFetch('c', 'h', { startIndex: 1 }), ['one', new Uint8Array([2])], 'plain fetch: values only');
  t.equal(await store.listRemoveOrigin('c', 'h', { page: 7, seq: 3 }), false, 'no such origin');
  t.equal(await store.listRemoveOrigin('c', 'h', { page: 8, seq: 1 }), false, 'same seq, other page');
  t.equal(await store.listRemoveOrigin('c', 'h', { page: 7, seq: 1 }), true);
  await store.listRemoveValue('c', 'h', '\u0002');
  t.same(await store.listFetchWithMeta('c', 'h', {}), [{ value: 'plain' }], 'a text equal to a binary element\'s bytes removes it');
});

t.test('a key under the prefix that the store did not write is refused, not misread', async (t) => {
  if (!requireRedis(t)) return;
  const { store, prefix, url } = await redisStoreWith(t);
  const redis = await raw(t, url);
  await redis.set(`${prefix}c\u0000foreign`, 'x', 'PX', 60_000);
  await t.rejects(async () => store.get('c', 'foreign'), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await t.rejects(async () => store.listPushBack('c', 'foreign', ['x'], { ttl: refresh }), failure(ErrorCode.FAILED_PRECONDITION_ERROR));
  await store.set('c', 'foreign', 'mine now', undefined);
  t.equal(await store.get('c', 'foreign'), 'mine now', 'set replaces whatever the key held');
});
