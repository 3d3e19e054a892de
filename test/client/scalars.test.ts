/** The SDK's CacheClient: increment, the setIf* family, getWithHash and the setIf*Hash* family, and listErase under Momento's names, against
 * a real server on both engines; and an increment whose reply was lost with a cut link, which the
 * SDK sends again with its idempotency key so it is counted once. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { sdkFor } from '../helpers/sdk.js';
import {
  CacheIncrement, CacheIncrementResponse, CacheSetIfAbsent, CacheSetIfAbsentResponse, CacheSetIfNotExists, CacheSetIfPresent,
  CacheSetIfEqual, CacheSetIfNotEqual, CacheSetIfPresentAndNotEqual, CacheSetIfAbsentOrEqual, ConditionalWrite, ErrorCode, Increment,
  ListErase, PermissionScopes, CacheIncreaseTtl, CacheDecreaseTtl, CacheIncreaseTtlResponse, ChangeTtl,
  CacheGetWithHash, CacheGetWithHashResponse, CacheSetWithHash, CacheSetIfPresentAndHashEqual, CacheSetIfPresentAndHashNotEqual,
  CacheSetIfAbsentOrHashEqual, CacheSetIfAbsentOrHashNotEqual, CacheSetWithHashResponse, HashedRead, HashedWrite,
} from '../../src/client/index.js';
import type { TidingsServer } from '../../src/index.js';

testEachEngine('cache - increment with Momento names: counters, TTL, FAILED_PRECONDITION on a non-integer', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  const first = await cache.increment('chat', 'visits');
  t.ok(first instanceof CacheIncrement.Success && first instanceof Increment.Success, 'both names, one class');
  t.equal(first.type, CacheIncrementResponse.Success);
  t.equal((first as CacheIncrement.Success).valueNumber(), 1);
  t.equal(((await cache.increment('chat', 'visits', 41, { ttl: 5 })) as CacheIncrement.Success).value(), 42);
  t.equal(String(await cache.increment('chat', 'visits', -2)), 'Success: value: 40');
  t.equal((await cache.get('chat', 'visits')).value(), '40', 'stored as decimal text');
  await cache.set('chat', 'word', 'five');
  const refused = await cache.increment('chat', 'word');
  t.ok(refused instanceof CacheIncrement.Error);
  t.equal((refused as CacheIncrement.Error).errorCode(), ErrorCode.FAILED_PRECONDITION_ERROR);
  t.equal((refused as CacheIncrement.Error).value(), undefined);
  await cache.increment('chat', 'short', 1, { ttl: 5 });
  t.ok(((await cache.itemGetTtl('chat', 'short')) as { remainingTtlMillis(): number }).remainingTtlMillis() <= 5000, 'ttl in seconds');
});

testEachEngine('cache - increment past 2^53: value() is the nearest number, valueBigInt() exact, over the whole 64-bit range', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  await cache.set('chat', 'big', '9007199254740993');
  const big = await cache.increment('chat', 'big', 2);
  t.ok(big instanceof Increment.Success);
  t.equal((big as Increment.Success).valueBigInt(), 9007199254740995n, 'exact');
  t.equal((big as Increment.Success).value(), Number(9007199254740995n), 'a number, the nearest double');
  t.equal(String(big), 'Success: value: 9007199254740995');
  await cache.set('chat', 'max', '9223372036854775806');
  t.equal(((await cache.increment('chat', 'max')) as Increment.Success).valueBigInt(), 2n ** 63n - 1n, 'INT64_MAX');
  t.equal(((await cache.increment('chat', 'small', -41)) as Increment.Success).valueBigInt(), -41n, 'within 2^53 from the number');
});

testEachEngine('cache - setIfAbsent, setIfNotExists, setIfPresent, setIfEqual, setIfNotEqual, setIfPresentAndNotEqual, setIfAbsentOrEqual; getWithHash, setWithHash, setIf*Hash*', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  const stored = await cache.setIfAbsent('chat', 'lock', 'ada', { ttl: 30 });
  t.ok(stored instanceof CacheSetIfAbsent.Stored && stored instanceof ConditionalWrite.Stored);
  t.equal(stored.type, CacheSetIfAbsentResponse.Stored);
  t.ok((await cache.setIfAbsent('chat', 'lock', 'bob')) instanceof CacheSetIfAbsent.NotStored);
  t.ok((await cache.setIfNotExists('chat', 'lock', 'bob')) instanceof CacheSetIfNotExists.NotStored);
  t.ok((await cache.setIfPresent('chat', 'nobody', 'x')) instanceof CacheSetIfPresent.NotStored);
  t.ok((await cache.setIfEqual('chat', 'lock', 'ada-2', 'ada')) instanceof CacheSetIfEqual.Stored);
  t.ok((await cache.setIfNotEqual('chat', 'lock', 'x', 'ada-2')) instanceof CacheSetIfNotEqual.NotStored);
  t.ok((await cache.setIfPresentAndNotEqual('chat', 'lock', 'ada-3', 'other')) instanceof CacheSetIfPresentAndNotEqual.Stored);
  t.ok((await cache.setIfAbsentOrEqual('chat', 'lock', 'x', 'other')) instanceof CacheSetIfAbsentOrEqual.NotStored);
  t.ok((await cache.setIfAbsentOrEqual('chat', 'fresh', new Uint8Array([1]), 'other')) instanceof CacheSetIfAbsentOrEqual.Stored);
  t.equal((await cache.get('chat', 'lock')).value(), 'ada-3');
  t.equal(String(await cache.setIfAbsent('chat', 'lock', 'y')), 'NotStored');

  const { cache: writer } = await sdkFor(t, server, { token: (await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheWriteOnly('chat'), expiresInSec: 60 })).token });
  const denied = await writer.setIfAbsent('chat', 'other', 'v');
  t.ok(denied instanceof ConditionalWrite.Error && denied.errorCode() === ErrorCode.PERMISSION_ERROR, 'write-only: no conditional write (Momento)');
  const noCount = await writer.increment('chat', 'visits');
  t.ok(noCount instanceof Increment.Error && noCount.errorCode() === ErrorCode.PERMISSION_ERROR, 'write-only: no increment (Momento)');

  // The hash family on the same server: a hash read is what the conditions compare.
  const miss = await cache.getWithHash('chat', 'doc');
  t.ok(miss instanceof CacheGetWithHash.Miss && miss instanceof HashedRead.Miss, 'both names, one class');
  t.equal(miss.type, CacheGetWithHashResponse.Miss);
  const set = await cache.setWithHash('chat', 'doc', 'v1');
  t.ok(set instanceof CacheSetWithHash.Stored && set instanceof HashedWrite.Stored && set instanceof ConditionalWrite.Stored);
  t.equal(set.type, CacheSetWithHashResponse.Stored);
  const hit = await cache.getWithHash('chat', 'doc');
  t.ok(hit instanceof CacheGetWithHash.Hit);
  const v1 = (hit as HashedRead.Hit).hashUint8Array();
  t.equal((hit as HashedRead.Hit).valueString(), 'v1');
  t.equal((hit as HashedRead.Hit).hashString(), (set as HashedWrite.Stored).hashString(), 'setWithHash answered the hash getWithHash reads');
  t.equal((hit as HashedRead.Hit).hash(), new TextDecoder().decode(v1), 'hash() is the text of the bytes');
  t.ok((await cache.setIfPresentAndHashEqual('chat', 'doc', 'v2', 'not the hash')) instanceof CacheSetIfPresentAndHashEqual.NotStored);
  const v2 = await cache.setIfPresentAndHashEqual('chat', 'doc', 'v2', v1, { ttl: 5 });
  t.ok(v2 instanceof CacheSetIfPresentAndHashEqual.Stored, 'the hash as bytes');
  t.not((v2 as HashedWrite.Stored).hashString(), (set as HashedWrite.Stored).hashString(), 'a new value, a new hash');
  t.ok(((await cache.itemGetTtl('chat', 'doc')) as { remainingTtlMillis(): number }).remainingTtlMillis() <= 5000, 'ttl in seconds');
  t.ok((await cache.setIfPresentAndHashNotEqual('chat', 'doc', 'x', (v2 as HashedWrite.Stored).hashString())) instanceof CacheSetIfPresentAndHashNotEqual.NotStored);
  t.ok((await cache.setIfPresentAndHashNotEqual('chat', 'doc', 'v3', v1)) instanceof CacheSetIfPresentAndHashNotEqual.Stored);
  t.ok((await cache.setIfAbsentOrHashEqual('chat', 'doc', 'x', v1)) instanceof CacheSetIfAbsentOrHashEqual.NotStored);
  t.ok((await cache.setIfAbsentOrHashEqual('chat', 'new-doc', 'x', v1)) instanceof CacheSetIfAbsentOrHashEqual.Stored, 'absent');
  t.ok((await cache.setIfAbsentOrHashNotEqual('chat', 'new-doc', 'y', ((await cache.getWithHash('chat', 'new-doc')) as HashedRead.Hit).hash())) instanceof CacheSetIfAbsentOrHashNotEqual.NotStored);
  t.ok((await cache.setIfHash('chat', 'new-doc', 'y', 'absentOrNotHashEqual', v1)) instanceof HashedWrite.Stored, 'setIfHash with the condition by name');
  t.equal((await cache.get('chat', 'doc')).value(), 'v3');
  t.equal(String(await cache.setIfPresentAndHashEqual('chat', 'doc', 'z', v1)), 'NotStored');
  const noHash = await cache.setIfHash('chat', 'doc', 'z', 'presentAndHashEqual');
  t.ok(noHash instanceof HashedWrite.Error && noHash.errorCode() === ErrorCode.INVALID_ARGUMENT_ERROR, 'a condition without its hash');
  t.ok((await writer.setWithHash('chat', 'doc', 'w')) instanceof CacheSetWithHash.Stored, 'write-only: setWithHash is a set');
  const noRead = await writer.getWithHash('chat', 'doc');
  t.ok(noRead instanceof CacheGetWithHash.Error && noRead.errorCode() === ErrorCode.PERMISSION_ERROR && noRead.hash() === undefined, 'write-only: no getWithHash');
  const noCas = await writer.setIfAbsentOrHashEqual('chat', 'doc', 'w', v1);
  t.ok(noCas instanceof HashedWrite.Error && noCas.errorCode() === ErrorCode.PERMISSION_ERROR, 'write-only: no hash condition');
});

testEachEngine('cache - increaseTtl / decreaseTtl: Set, NotSet, Miss', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  await cache.set('chat', 'k', 'v', { ttl: 10 });
  const longer = await cache.increaseTtl('chat', 'k', 60_000);
  t.ok(longer instanceof CacheIncreaseTtl.Set && longer instanceof ChangeTtl.Set, 'both names, one class');
  t.equal(longer.type, CacheIncreaseTtlResponse.Set);
  t.ok((await cache.increaseTtl('chat', 'k', 1000)) instanceof CacheIncreaseTtl.NotSet);
  t.ok((await cache.decreaseTtl('chat', 'k', 120_000)) instanceof CacheDecreaseTtl.NotSet);
  t.ok((await cache.decreaseTtl('chat', 'k', 1000)) instanceof CacheDecreaseTtl.Set);
  t.ok((await cache.increaseTtl('chat', 'absent', 1000)) instanceof CacheIncreaseTtl.Miss);
  t.equal(String(await cache.decreaseTtl('chat', 'absent', 1000)), 'Miss');
});

testEachEngine('cache - listErase: ranges, all, a miss', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  t.ok((await cache.listErase('chat', 'none')) instanceof ListErase.Miss);
  await cache.listConcatenateBack('chat', 'l', ['a', 'b', 'c', 'd']);
  const some = await cache.listErase('chat', 'l', { ranges: [{ beginIndex: 0, count: 2 }] });
  t.equal(some instanceof ListErase.Success && some.listLength(), 2);
  t.same(((await cache.listFetch('chat', 'l')) as { valueList(): unknown[] }).valueList(), ['c', 'd']);
  t.equal(String(await cache.listErase('chat', 'l')), 'Success: list length 0');
});

/** Closes the connections of `tokenId` right after the store applied an increment: its reply is
 * lost with the link, as when a network cut falls between the two. Once. */
function cutAfterFirstIncrement(server: TidingsServer, tokenId: string): { count: number; closed: number } {
  const cuts = { count: 0, closed: 0 };
  const store = server.broker['deps'].engine.cache;
  const increment = store.increment.bind(store);
  store.increment = (...args) => {
    const result = increment(...args);
    if (cuts.count++ === 0) {
      const cut = () => { for (const session of server.broker.sessions.values()) if (session.grant?.tokenId === tokenId) { cuts.closed++; session.connection.close(4000, 'test: cut the link'); } };
      if (result instanceof Promise) return result.then((v) => { cut(); return v; });
      cut();
    }
    return result;
  };
  return cuts;
}

testEachEngine('cache - an increment whose reply was lost to a cut link is sent again and counted once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const cuts = cutAfterFirstIncrement(server, 'counter');
  const { cache, connection } = await sdkFor(t, server, { tokenId: 'counter' });
  await connection.ready();
  const response = await cache.increment('chat', 'once', 5);
  t.equal(cuts.closed, 1, 'the link was cut after the increment was applied');
  t.equal(cuts.count, 1, 'the store applied it once: the resent request was answered with the first result');
  t.equal((response as CacheIncrement.Success).valueNumber(), 5, `the app sees the first result (${response})`);
  t.equal((await cache.get('chat', 'once')).value(), '5', 'counted once');
});
