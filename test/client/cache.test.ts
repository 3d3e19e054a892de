import { startServer, testEachEngine } from '../helpers/server.js';
import { sdkFor, itemCollector } from '../helpers/sdk.js';
import {
  CacheClient, CollectionTtl, PermissionScopes, CacheGet, CacheGetResponse, CacheSet, CacheDelete, CacheListFetch, CacheListFetchResponse,
  CacheListLength, CacheListPopBack, CacheListPopFront, CacheListPushBack, CacheListPushFront, CacheListConcatenateBack,
  CacheListConcatenateFront, CacheListRetain, CacheListRemoveValue, CacheItemGetTtl, CacheUpdateTtl, ListFetch, PubAppend, ValueRead,
} from '../../src/client/index.js';

testEachEngine('cache - list operations with Momento names and semantics', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  t.ok((await cache.listConcatenateBack('chat', 'l', ['1', '2', '3'])) instanceof CacheListConcatenateBack.Success);
  const cut = await cache.listConcatenateBack('chat', 'l', ['4', '5', '6'], { truncateFrontToSize: 5 });
  t.equal(cut instanceof CacheListConcatenateBack.Success && cut.listLength(), 5);
  const fetched = await cache.listFetch('chat', 'l');
  t.equal(fetched.type, CacheListFetchResponse.Hit);
  t.ok(fetched instanceof CacheListFetch.Hit && fetched instanceof ListFetch.Hit, 'both names, one class');
  t.same((fetched as CacheListFetch.Hit).valueListString(), ['2', '3', '4', '5', '6']);
  const last2 = await cache.listFetch('chat', 'l', { startIndex: -2 });
  t.same((last2 as CacheListFetch.Hit).valueList(), ['5', '6']);
  t.ok((await cache.listPushFront('chat', 'l', '0', { truncateBackToSize: 5 })) instanceof CacheListPushFront.Success);
  t.ok((await cache.listConcatenateFront('chat', 'l', ['a', 'b'])) instanceof CacheListConcatenateFront.Success);
  const pushed = await cache.listPushBack('chat', 'l', new Uint8Array([9]));
  t.equal(pushed instanceof CacheListPushBack.Success && pushed.listLength(), 8);
  const popped = await cache.listPopBack('chat', 'l');
  t.ok(popped instanceof CacheListPopBack.Hit);
  t.same([...(popped as CacheListPopBack.Hit).valueUint8Array()], [9], 'binary comes back as bytes');
  t.equal((popped as CacheListPopBack.Hit).listLength(), 7);
  const front = await cache.listPopFront('chat', 'l');
  t.equal((front as CacheListPopFront.Hit).valueString(), 'a');
  t.ok(front instanceof ValueRead.Hit, 'a pop Hit is a read Hit');
  t.ok((await cache.listRemoveValue('chat', 'l', '3')) instanceof CacheListRemoveValue.Success);
  t.ok((await cache.listRetain('chat', 'l', { startIndex: 0, endIndex: 3 })) instanceof CacheListRetain.Success);
  t.same(((await cache.listFetch('chat', 'l')) as CacheListFetch.Hit).valueListString(), ['b', '0', '2']);
  const length = await cache.listLength('chat', 'l');
  t.equal(length instanceof CacheListLength.Hit && length.length(), 3);
  t.ok((await cache.listLength('chat', 'none')) instanceof CacheListLength.Miss);
  t.ok((await cache.listPopBack('chat', 'none')) instanceof CacheListPopBack.Miss);
  const miss = await cache.listFetch('chat', 'none');
  t.ok(miss instanceof CacheListFetch.Miss);
  t.equal(miss.value(), undefined, 'value() is undefined on a Miss');
});

testEachEngine('cache - scalars, TTLs, and defaultTtlSeconds', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { connection } = await sdkFor(t, server);
  const cache = new CacheClient({ connection, defaultTtlSeconds: 30 });
  t.ok((await cache.set('chat', 'k', 'v')) instanceof CacheSet.Success);
  const hit = await cache.get('chat', 'k');
  t.equal(hit.type, CacheGetResponse.Hit);
  t.equal(hit instanceof CacheGet.Hit && hit.valueString(), 'v');
  const ttl = await cache.itemGetTtl('chat', 'k');
  t.ok(ttl instanceof CacheItemGetTtl.Hit);
  const ms = (ttl as CacheItemGetTtl.Hit).remainingTtlMillis();
  t.ok(ms > 25_000 && ms <= 30_000, `the client default TTL applies (${ms} ms)`);
  t.ok((await cache.updateTtl('chat', 'k', 120_000)) instanceof CacheUpdateTtl.Set);
  t.ok(((await cache.itemGetTtl('chat', 'k')) as CacheItemGetTtl.Hit).remainingTtlMillis() > 100_000);
  t.ok((await cache.updateTtl('chat', 'nothing', 1000)) instanceof CacheUpdateTtl.Miss);
  await cache.set('chat', 'short', 'v', { ttl: 5 });
  t.ok(((await cache.itemGetTtl('chat', 'short')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 5000, 'per-call ttl wins');
  await cache.listPushBack('chat', 'list', 'x', { ttl: CollectionTtl.of(10) });
  t.ok(((await cache.itemGetTtl('chat', 'list')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 10_000);
  await cache.listPushBack('chat', 'list', 'y', { ttl: CollectionTtl.of(100).withNoRefreshTtlOnUpdates() });
  t.ok(((await cache.itemGetTtl('chat', 'list')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 10_000, 'no refresh keeps the expiry');
  await cache.listPushBack('chat', 'list', 'z', { ttl: CollectionTtl.refreshTtlIfProvided() });
  t.ok(((await cache.itemGetTtl('chat', 'list')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 10_000, 'refreshTtlIfProvided() without seconds keeps the expiry');
  // Every write that takes a CollectionTtl sends it (10 s here, where the client's is 30 s and the
  // server's longer), and fromCacheTtl() stands for the client's.
  const tenSeconds = CollectionTtl.of(10);
  const collectionWrites: Array<[string, () => Promise<unknown>]> = [
    ['ttl-pub-append', () => cache.pubAppend('chat', 'ttl-topic', 'ttl-pub-append', 'v', { ttl: tenSeconds })],
    ['ttl-retain', async () => { await cache.listPushBack('chat', 'ttl-retain', 'v'); return cache.listRetain('chat', 'ttl-retain', { ttl: tenSeconds }); }],
    ['ttl-dictionary', () => cache.dictionaryIncrement('chat', 'ttl-dictionary', 'f', 1, { ttl: tenSeconds })],
    ['ttl-set', () => cache.setAddElements('chat', 'ttl-set', ['e'], { ttl: tenSeconds })],
    ['ttl-sorted-set', () => cache.sortedSetIncrementScore('chat', 'ttl-sorted-set', 'e', 1, { ttl: tenSeconds })],
  ];
  for (const [key, write] of collectionWrites) {
    await write();
    t.ok(((await cache.itemGetTtl('chat', key)) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 10_000, `${key}: the ttl given`);
  }
  await cache.listPushBack('chat', 'ttl-cache-default', 'v', { ttl: CollectionTtl.fromCacheTtl() });
  t.ok(((await cache.itemGetTtl('chat', 'ttl-cache-default')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 30_000, 'fromCacheTtl(): the client default');
  // Writes that name no TTL take the client's defaultTtlSeconds (30 s), not the server's longer default.
  await cache.listPushBack('chat', 'default-list', 'x');
  t.ok(((await cache.itemGetTtl('chat', 'default-list')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 30_000, 'a collection write takes the client default');
  await cache.increment('chat', 'default-counter');
  t.ok(((await cache.itemGetTtl('chat', 'default-counter')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 30_000, 'a scalar write takes the client default');
  t.ok((await cache.delete('chat', 'k')) instanceof CacheDelete.Success);
  t.ok((await cache.get('chat', 'k')) instanceof CacheGet.Miss);
  const wrongKind = await cache.get('chat', 'list');
  t.equal(wrongKind instanceof CacheGet.Error && wrongKind.errorCode(), 'FAILED_PRECONDITION_ERROR');
  t.throws(() => new CacheClient({ connection, defaultTtlSeconds: 0 }), /defaultTtlSeconds/);
  cache.close();
  t.ok((await new CacheClient({ connection }).get('chat', 'default-counter')) instanceof CacheGet.Hit, 'closing a client on a shared connection leaves the connection open');
});

testEachEngine('cache - pubAppend and withMeta: join a chat without a gap', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache, topics } = await sdkFor(t, server);
  for (const v of ['m1', 'm2', 'm3']) t.ok((await cache.pubAppend('chat', 'room', 'room', v, { truncateFrontToSize: 2 })) instanceof PubAppend.Success);
  const history = await cache.listFetch('chat', 'room', { withMeta: true });
  t.ok(history instanceof ListFetch.Hit);
  const items = (history as ListFetch.Hit).items!;
  t.same(items.map((i) => [i.value, i.seq, i.tokenId]), [['m2', 2, 'sdk-user'], ['m3', 3, 'sdk-user']]);
  const got = itemCollector();
  const last = items[items.length - 1]!;
  await topics.subscribe('chat', 'room', { ...got.callbacks, resumeFrom: { page: last.page!, seq: last.seq! } });
  const next = await cache.pubAppend('chat', 'room', 'room', 'm4');
  t.equal(next instanceof PubAppend.Success && next.seq, 4);
  await got.items.until(1);
  t.same(got.values(), ['m4'], 'exactly what came after the history');
});

testEachEngine('cache - permission errors are Error responses', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = (await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheReadOnly('chat'), expiresInSec: 60 })).token;
  const { cache } = await sdkFor(t, server, { token });
  const res = await cache.set('chat', 'k', 'v');
  t.ok(res instanceof CacheSet.Error);
  t.equal((res as CacheSet.Error).errorCode(), 'PERMISSION_ERROR');
  t.ok((await cache.get('chat', 'k')) instanceof CacheGet.Miss, 'reads are allowed');
  const strict = new CacheClient({ connection: cache.connection, throwOnErrors: true });
  await t.rejects(strict.listPushBack('chat', 'l', 'x'), { code: 'PERMISSION_ERROR' });
});
