/** Conformance: the official Momento SDKs (Node over gRPC, web over grpc-web-text under Node) against
 * a real Tidings server, cache data. Every case runs once per SDK (test/helpers/momento-sdks.ts). */
import t from 'tap';
import { CollectionTtl, MomentoErrorCode, type CacheGet, type CacheGetBatch, type CacheSetBatch, type CacheItemGetTtl, type CacheItemGetType, type CacheKeysExist, type CacheKeyExists, type CacheListFetch, type CacheListLength, type CacheListPopBack, type CacheListPopFront, type CacheListPushBack, type CacheListConcatenateBack, type ListCaches } from '@gomomento/sdk';
import { PermissionScopes } from '../../src/index.js';
import { apiKeyFor, errorCode, startMomentoServer } from '../helpers/momento.js';
import { testEachEngine } from '../helpers/server.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';

for (const sdk of SDKS) {
  const clientsFor = (server: Parameters<typeof sdk.clients>[1], credential: string) => sdk.clients(t, server, credential);

  testEachEngine(`${sdk.name} - get/set/delete: hit, miss, binary values, TTL`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    t.equal(kind(await cache.get('app', 'nope')), 'Miss');
    t.equal(kind(await cache.set('app', 'greeting', 'hello')), 'Success');
    const hit = await cache.get('app', 'greeting');
    t.equal(kind(hit), 'Hit');
    t.equal(hit.value(), 'hello');
    const bytes = new Uint8Array([0, 255, 1]);
    await cache.set('app', 'bin', bytes, { ttl: 30 });
    t.same((await cache.get('app', 'bin') as CacheGet.Hit).valueUint8Array(), bytes);
    t.equal(kind(await cache.delete('app', 'greeting')), 'Success');
    t.equal(kind(await cache.get('app', 'greeting')), 'Miss');
    t.equal(kind(await cache.delete('app', 'never-there')), 'Success', 'delete of an absent key is Success');
    // Our limit, reported through the SDK's own error mapping (RESOURCE_EXHAUSTED + err trailer).
    const tooLong = await cache.set('app', 'k', 'v', { ttl: 25 * 3600 });
    t.equal(errorCode(tooLong), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
    t.equal(kind(await cache.createCache('any-name')), 'AlreadyExists', 'store.caches empty: every cache exists');
  });

  testEachEngine(`${sdk.name} - getBatch/setBatch: one answer per key, in order; a key outside the scope fails the batch`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    const set = await cache.setBatch('app', new Map([['b1', 'one'], ['b2', 'two']]), { ttl: 30 });
    t.equal(kind(set), 'Success');
    t.same((set as CacheSetBatch.Success).results().map(kind), ['Success', 'Success']);
    const got = await cache.getBatch('app', ['b1', 'absent', 'b2']);
    t.equal(kind(got), 'Success');
    const results = (got as CacheGetBatch.Success).results();
    t.same(results.map(kind), ['Hit', 'Miss', 'Hit']);
    t.same(results.map((r) => r.value()), ['one', undefined, 'two']);
    t.ok(((await cache.itemGetTtl('app', 'b1')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 30_000, 'setBatch applied the ttl');
    const scoped = await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheKeyPrefixReadOnly('app', 'b'), expiresInSec: 60 });
    const { cache: reader } = await sdk.clients(t, server, scoped.token);
    t.same(((await reader.getBatch('app', ['b1', 'b2'])) as CacheGetBatch.Success).results().map(kind), ['Hit', 'Hit']);
    t.equal(errorCode(await reader.getBatch('app', ['b1', 'secret'])), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(errorCode(await reader.setBatch('app', new Map([['b1', 'x']]))), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(kind(await reader.get('app', 'b1')), 'Hit');
    t.equal((await reader.get('app', 'b1')).value(), 'one', 'the refused batch wrote nothing');
  });

  testEachEngine(`${sdk.name} - itemGetTtl, updateTtl, keysExist/keyExists on scalars and lists; increaseTtl / decreaseTtl`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    await cache.set('app', 'k', 'v', { ttl: 60 });
    await cache.listPushBack('app', 'l', 'x', { ttl: CollectionTtl.of(30) });
    const ttl = await cache.itemGetTtl('app', 'k');
    t.equal(kind(ttl), 'Hit');
    const remaining = (ttl as CacheItemGetTtl.Hit).remainingTtlMillis();
    t.ok(remaining > 0 && remaining <= 60_000, `remaining ${remaining} ms of 60 s`);
    t.ok((await cache.itemGetTtl('app', 'l') as CacheItemGetTtl.Hit).remainingTtlMillis() <= 30_000, 'a list has its collection TTL');
    t.equal(kind(await cache.itemGetTtl('app', 'absent')), 'Miss');

    t.equal(kind(await cache.updateTtl('app', 'k', 5000)), 'Set');
    t.ok((await cache.itemGetTtl('app', 'k') as CacheItemGetTtl.Hit).remainingTtlMillis() <= 5000, 'shortened');
    t.equal(kind(await cache.updateTtl('app', 'l', 120_000)), 'Set');
    t.ok((await cache.itemGetTtl('app', 'l') as CacheItemGetTtl.Hit).remainingTtlMillis() > 60_000, 'lengthened');
    t.equal(kind(await cache.updateTtl('app', 'absent', 5000)), 'Miss');
    t.equal(kind(await cache.get('app', 'absent')), 'Miss', 'updateTtl creates nothing');
    t.equal(errorCode(await cache.updateTtl('app', 'k', 25 * 3600 * 1000)), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'store.maxTtlSec applies');

    const exist = await cache.keysExist('app', ['k', 'absent', 'l']);
    t.equal(kind(exist), 'Success');
    t.same((exist as CacheKeysExist.Success).exists(), [true, false, true]);
    t.equal((await cache.keyExists('app', 'k') as CacheKeyExists.Success).exists(), true);
    t.equal((await cache.keyExists('app', 'absent') as CacheKeyExists.Success).exists(), false);

    t.equal(kind(await cache.increaseTtl('app', 'k', 100_000)), 'Set', 'longer than the ≤ 5 s left');
    t.ok((await cache.itemGetTtl('app', 'k') as CacheItemGetTtl.Hit).remainingTtlMillis() > 60_000, 'lengthened');
    t.equal(kind(await cache.increaseTtl('app', 'k', 1000)), 'NotSet', 'not an increase');
    t.equal(kind(await cache.decreaseTtl('app', 'k', 200_000)), 'NotSet', 'not a decrease');
    t.equal(kind(await cache.decreaseTtl('app', 'l', 1000)), 'Set', 'a list\'s TTL too');
    t.ok((await cache.itemGetTtl('app', 'l') as CacheItemGetTtl.Hit).remainingTtlMillis() <= 1000, 'shortened');
    t.equal(kind(await cache.increaseTtl('app', 'absent', 1000)), 'Miss');
    t.equal(kind(await cache.decreaseTtl('app', 'absent', 1000)), 'Miss');
    const { cache: writer } = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.cacheWriteOnly('app')));
    t.equal(errorCode(await writer.increaseTtl('app', 'k', 200_000)), MomentoErrorCode.PERMISSION_ERROR, 'write-only: NotSet would tell the TTL');
  });

  // @gomomento/sdk-web 1.118.0 reads itemGetType's reply before its status: any error answer (it
  // was UNIMPLEMENTED, always) throws inside grpc-web's callback and the call never resolves. So
  // only the Node SDK is shown a refusal.
  testEachEngine(`${sdk.name} - itemGetType: SCALAR, LIST, or Miss`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    await cache.set('app', 'k', 'v');
    await cache.listPushBack('app', 'l', 'x');
    const scalar = await cache.itemGetType('app', 'k');
    t.equal(kind(scalar), 'Hit');
    t.equal((scalar as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.SCALAR);
    t.equal((await cache.itemGetType('app', 'l') as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.LIST);
    t.equal(kind(await cache.itemGetType('app', 'absent')), 'Miss');
    const scoped = await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheKeyReadOnly('app', 'k'), expiresInSec: 60 });
    const { cache: reader } = await sdk.clients(t, server, scoped.token);
    t.equal(kind(await reader.itemGetType('app', 'k')), 'Hit', 'a read');
    if (sdk.name === 'node-sdk') t.equal(errorCode(await reader.itemGetType('app', 'l')), MomentoErrorCode.PERMISSION_ERROR, 'checked against the scope');
  });

  testEachEngine(`${sdk.name} - every list method, with truncation, indices, TTL and misses`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    t.equal(kind(await cache.listFetch('app', 'l')), 'Miss');
    t.equal(kind(await cache.listLength('app', 'l')), 'Miss');
    t.equal(kind(await cache.listPopBack('app', 'l')), 'Miss');
    t.equal(kind(await cache.listPopFront('app', 'l')), 'Miss');

    const c1 = await cache.listConcatenateBack('app', 'l', ['1', '2', '3']);
    t.equal(kind(c1), 'Success');
    t.equal((c1 as CacheListConcatenateBack.Success).listLength(), 3);
    // The docs' example: [1,2,3] + [4,5,6] truncated from the front to 5 -> [2..6].
    const c2 = await cache.listConcatenateBack('app', 'l', ['4', '5', '6'], { truncateFrontToSize: 5, ttl: CollectionTtl.of(60) });
    t.equal((c2 as CacheListConcatenateBack.Success).listLength(), 5);
    t.same((await cache.listFetch('app', 'l')).value(), ['2', '3', '4', '5', '6']);
    t.same((await cache.listFetch('app', 'l', { startIndex: -2 })).value(), ['5', '6'], 'negative start counts from the end');
    t.same((await cache.listFetch('app', 'l', { startIndex: 1, endIndex: 3 })).value(), ['3', '4']);

    const pb = await cache.listPushBack('app', 'l', '7', { truncateFrontToSize: 5 });
    t.equal(kind(pb), 'Success');
    t.equal((pb as CacheListPushBack.Success).listLength(), 5);
    t.equal(kind(await cache.listPushFront('app', 'l', '0', { truncateBackToSize: 3 })), 'Success');
    t.same((await cache.listFetch('app', 'l')).value(), ['0', '3', '4']);
    t.equal(kind(await cache.listConcatenateFront('app', 'l', ['a', 'b'])), 'Success');
    t.same((await cache.listFetch('app', 'l')).value(), ['a', 'b', '0', '3', '4']);

    t.equal(kind(await cache.listRemoveValue('app', 'l', 'b')), 'Success');
    t.equal(kind(await cache.listRetain('app', 'l', { startIndex: 0, endIndex: 3 })), 'Success');
    t.same((await cache.listFetch('app', 'l') as CacheListFetch.Hit).valueListString(), ['a', '0', '3']);
    const len = await cache.listLength('app', 'l');
    t.equal(kind(len), 'Hit');
    t.equal((len as CacheListLength.Hit).length(), 3);
    const back = await cache.listPopBack('app', 'l');
    t.equal(kind(back), 'Hit');
    t.equal((back as CacheListPopBack.Hit).valueString(), '3');
    t.equal((await cache.listPopFront('app', 'l') as CacheListPopFront.Hit).valueString(), 'a');
    t.same((await cache.listFetch('app', 'l')).value(), ['0']);
  });

  testEachEngine(`${sdk.name} - a scoped disposable token: allowed keys work, others are PERMISSION_ERROR`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const admin = await clientsFor(server, await apiKeyFor(server));
    const scoped = await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheKeyPrefixReadOnly('app', 'public-'), expiresInSec: 60 });
    const { cache } = await clientsFor(server, scoped.token);
    await admin.cache.set('app', 'public-1', 'ok');
    t.equal((await cache.get('app', 'public-1')).value(), 'ok');
    const denied = await cache.get('app', 'secret');
    t.equal(kind(denied), 'Error');
    t.equal(errorCode(denied), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(errorCode(await cache.set('app', 'public-1', 'x')), MomentoErrorCode.PERMISSION_ERROR, 'read-only scope cannot write');
    t.equal(errorCode(await cache.listPushBack('app', 'public-l', 'x')), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(errorCode(await cache.updateTtl('app', 'public-1', 1000)), MomentoErrorCode.PERMISSION_ERROR, 'updateTtl is a write');
    t.same((await cache.keysExist('app', ['public-1', 'public-2']) as CacheKeysExist.Success).exists(), [true, false]);
    t.equal(errorCode(await cache.keysExist('app', ['public-1', 'secret'])), MomentoErrorCode.PERMISSION_ERROR, 'every key is checked');
    // A credential that is not ours at all.
    const { cache: stranger } = await clientsFor(server, 'not-a-token');
    t.equal(errorCode(await stranger.get('app', 'public-1')), MomentoErrorCode.AUTHENTICATION_ERROR);
  });

  testEachEngine(`${sdk.name} - control plane: createCache reports existing caches, listCaches the configured ones`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine, config: { store: { caches: ['app', 'chat'] } } });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    t.equal(kind(await cache.createCache('app')), 'AlreadyExists');
    const refused = await cache.createCache('other');
    t.equal(kind(refused), 'Error');
    t.equal(errorCode(refused), MomentoErrorCode.FAILED_PRECONDITION_ERROR);
    t.equal(errorCode(await cache.createCache('bad\u0001name')), MomentoErrorCode.INVALID_ARGUMENT_ERROR, 'a name no cache may have: refused as such, not as unconfigured');
    const list = await cache.listCaches();
    t.equal(kind(list), 'Success');
    t.same((list as ListCaches.Success).getCaches().map((c) => c.getName()).sort(), ['app', 'chat']);
    const { store, topics: topicConfig } = server.config;
    const info = (list as ListCaches.Success).getCaches()[0]!;
    t.same(info.getCacheLimits(), { maxItemSizeKb: Math.floor(store.maxItemBytes / 1024), maxTtlSeconds: store.maxTtlSec, maxThroughputKbps: 0, maxTrafficRate: 0 }, 'each cache with our store limits');
    t.same(info.getTopicLimits(), { maxPublishMessageSizeKb: Math.floor(topicConfig.maxValueBytes / 1024), maxSubscriptionCount: topicConfig.maxSubscriptionsPerConnection, maxPublishRate: 0 }, 'and our topic limits');
    t.equal(errorCode(await cache.get('other', 'k')), MomentoErrorCode.NOT_FOUND_ERROR, 'data calls on an unknown cache');
    // Unlike Momento, topics are not bounded by store.caches (docs/momento-compat.md, "Known differences").
    const { topics } = await sdk.clients(t, server, await apiKeyFor(server));
    t.equal(kind(await topics.publish('other', 't', 'x')), 'Success', 'a topic in a cache outside store.caches is served');
    // Not implemented: answered UNIMPLEMENTED, which the SDK reports as BAD_REQUEST_ERROR.
    const del = await cache.deleteCache('app');
    t.equal(kind(del), 'Error');
    t.equal(errorCode(del), MomentoErrorCode.BAD_REQUEST_ERROR);
    t.equal(errorCode(await cache.flushCache('app')), MomentoErrorCode.BAD_REQUEST_ERROR);
    // A disposable token may not use the control plane.
    const token = await server.auth.mintDisposableToken({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: 60 });
    const { cache: tokenClient } = await clientsFor(server, token.token);
    t.equal(errorCode(await tokenClient.listCaches()), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(errorCode(await tokenClient.createCache('app')), MomentoErrorCode.PERMISSION_ERROR, 'nor createCache (which tells whether a cache exists)');
  });

  testEachEngine(`${sdk.name} - limit errors carry Momento’s err trailer cause, which the SDK turns into its message`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine, config: { store: { maxElementBytes: 1024 } } });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    const big = await cache.listPushBack('app', 'l', 'x'.repeat(2000));
    t.equal(errorCode(big), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
    t.match((big as { message(): string }).message(), /Element size limit exceeded/);
    t.equal(kind(await cache.listLength('app', 'l')), 'Miss', 'nothing was written');
  });
}
