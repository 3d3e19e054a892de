/** Conformance: the official @gomomento/sdk (Node, gRPC) against a real Tidings server, cache data. */
import t from 'tap';
import {
  CacheDelete, CacheGet, CacheListConcatenateBack, CacheListConcatenateFront, CacheListFetch, CacheListLength, CacheListPopBack,
  CacheListPopFront, CacheListPushBack, CacheListPushFront, CacheListRemoveValue, CacheListRetain, CacheSet, CollectionTtl,
  CreateCache, ListCaches, MomentoErrorCode, DeleteCache,
} from '@gomomento/sdk';
import { PermissionScopes } from '../../src/index.js';
import { apiKeyFor, errorCode, momentoClients, startMomentoServer } from '../helpers/momento.js';

t.test('momento sdk - get/set/delete: hit, miss, binary values, TTL', async (t) => {
  const server = await startMomentoServer(t);
  const { cache } = await momentoClients(t, server, await apiKeyFor(server));
  t.type(await cache.get('app', 'nope'), CacheGet.Miss);
  t.type(await cache.set('app', 'greeting', 'hello'), CacheSet.Success);
  const hit = await cache.get('app', 'greeting');
  t.type(hit, CacheGet.Hit);
  t.equal(hit.value(), 'hello');
  const bytes = new Uint8Array([0, 255, 1]);
  await cache.set('app', 'bin', bytes, { ttl: 30 });
  t.same((await cache.get('app', 'bin') as CacheGet.Hit).valueUint8Array(), bytes);
  t.type(await cache.delete('app', 'greeting'), CacheDelete.Success);
  t.type(await cache.get('app', 'greeting'), CacheGet.Miss);
  t.type(await cache.delete('app', 'never-there'), CacheDelete.Success, 'delete of an absent key is Success');
  // Our limit, reported through the SDK's own error mapping (RESOURCE_EXHAUSTED + err trailer).
  const tooLong = await cache.set('app', 'k', 'v', { ttl: 25 * 3600 });
  t.equal(errorCode(tooLong), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
});

t.test('momento sdk - every list method, with truncation, indices, TTL and misses', async (t) => {
  const server = await startMomentoServer(t);
  const { cache } = await momentoClients(t, server, await apiKeyFor(server));
  t.type(await cache.listFetch('app', 'l'), CacheListFetch.Miss);
  t.type(await cache.listLength('app', 'l'), CacheListLength.Miss);
  t.type(await cache.listPopBack('app', 'l'), CacheListPopBack.Miss);
  t.type(await cache.listPopFront('app', 'l'), CacheListPopFront.Miss);

  const c1 = await cache.listConcatenateBack('app', 'l', ['1', '2', '3']);
  t.type(c1, CacheListConcatenateBack.Success);
  t.equal((c1 as CacheListConcatenateBack.Success).listLength(), 3);
  // The docs' example: [1,2,3] + [4,5,6] truncated from the front to 5 -> [2..6].
  const c2 = await cache.listConcatenateBack('app', 'l', ['4', '5', '6'], { truncateFrontToSize: 5, ttl: CollectionTtl.of(60) });
  t.equal((c2 as CacheListConcatenateBack.Success).listLength(), 5);
  t.same((await cache.listFetch('app', 'l')).value(), ['2', '3', '4', '5', '6']);
  t.same((await cache.listFetch('app', 'l', { startIndex: -2 })).value(), ['5', '6'], 'negative start counts from the end');
  t.same((await cache.listFetch('app', 'l', { startIndex: 1, endIndex: 3 })).value(), ['3', '4']);

  const pb = await cache.listPushBack('app', 'l', '7', { truncateFrontToSize: 5 });
  t.type(pb, CacheListPushBack.Success);
  t.equal((pb as CacheListPushBack.Success).listLength(), 5);
  const pf = await cache.listPushFront('app', 'l', '0', { truncateBackToSize: 3 });
  t.type(pf, CacheListPushFront.Success);
  t.same((await cache.listFetch('app', 'l')).value(), ['0', '3', '4']);
  const cf = await cache.listConcatenateFront('app', 'l', ['a', 'b']);
  t.type(cf, CacheListConcatenateFront.Success);
  t.same((await cache.listFetch('app', 'l')).value(), ['a', 'b', '0', '3', '4']);

  t.type(await cache.listRemoveValue('app', 'l', 'b'), CacheListRemoveValue.Success);
  t.type(await cache.listRetain('app', 'l', { startIndex: 0, endIndex: 3 }), CacheListRetain.Success);
  t.same((await cache.listFetch('app', 'l')).value(), ['a', '0', '3']);
  const len = await cache.listLength('app', 'l');
  t.type(len, CacheListLength.Hit);
  t.equal((len as CacheListLength.Hit).length(), 3);
  const back = await cache.listPopBack('app', 'l');
  t.type(back, CacheListPopBack.Hit);
  t.equal((back as CacheListPopBack.Hit).valueString(), '3');
  const front = await cache.listPopFront('app', 'l');
  t.equal((front as CacheListPopFront.Hit).valueString(), 'a');
  t.same((await cache.listFetch('app', 'l')).value(), ['0']);
});

t.test('momento sdk - a scoped disposable token: allowed keys work, others are PERMISSION_ERROR', async (t) => {
  const server = await startMomentoServer(t);
  const admin = await momentoClients(t, server, await apiKeyFor(server));
  const scoped = await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheKeyPrefixReadOnly('app', 'public-'), expiresInSec: 60 });
  const { cache } = await momentoClients(t, server, scoped.token);
  await admin.cache.set('app', 'public-1', 'ok');
  t.equal((await cache.get('app', 'public-1')).value(), 'ok');
  const denied = await cache.get('app', 'secret');
  t.type(denied, CacheGet.Error);
  t.equal(errorCode(denied), MomentoErrorCode.PERMISSION_ERROR);
  t.equal(errorCode(await cache.set('app', 'public-1', 'x')), MomentoErrorCode.PERMISSION_ERROR, 'read-only scope cannot write');
  t.equal(errorCode(await cache.listPushBack('app', 'public-l', 'x')), MomentoErrorCode.PERMISSION_ERROR);
  // A credential that is not ours at all.
  const { cache: stranger } = await momentoClients(t, server, 'not-a-token');
  t.equal(errorCode(await stranger.get('app', 'public-1')), MomentoErrorCode.AUTHENTICATION_ERROR);
});

t.test('momento sdk - control plane: createCache reports existing caches, listCaches the configured ones', async (t) => {
  const server = await startMomentoServer(t, { config: { store: { caches: ['app', 'chat'] } } });
  const { cache } = await momentoClients(t, server, await apiKeyFor(server));
  t.type(await cache.createCache('app'), CreateCache.AlreadyExists);
  const refused = await cache.createCache('other');
  t.type(refused, CreateCache.Error);
  t.equal(errorCode(refused), MomentoErrorCode.FAILED_PRECONDITION_ERROR);
  const list = await cache.listCaches();
  t.type(list, ListCaches.Success);
  t.same((list as ListCaches.Success).getCaches().map((c) => c.getName()).sort(), ['app', 'chat']);
  t.equal(errorCode(await cache.get('other', 'k')), MomentoErrorCode.NOT_FOUND_ERROR, 'data calls on an unknown cache');
  // Not implemented: answered UNIMPLEMENTED, which the SDK reports as BAD_REQUEST_ERROR.
  const del = await cache.deleteCache('app');
  t.type(del, DeleteCache.Error);
  t.equal(errorCode(del), MomentoErrorCode.BAD_REQUEST_ERROR);
  t.equal(errorCode(await cache.dictionaryFetch('app', 'd')), MomentoErrorCode.BAD_REQUEST_ERROR);
  // A disposable token may not use the control plane.
  const token = await server.auth.mintDisposableToken({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: 60 });
  const { cache: tokenClient } = await momentoClients(t, server, token.token);
  t.equal(errorCode(await tokenClient.listCaches()), MomentoErrorCode.PERMISSION_ERROR);
});

t.test('momento sdk - limit errors carry Momento’s err trailer cause, which the SDK turns into its message', async (t) => {
  const server = await startMomentoServer(t, { config: { store: { maxElementBytes: 1024 } } });
  const { cache } = await momentoClients(t, server, await apiKeyFor(server));
  const big = await cache.listPushBack('app', 'l', 'x'.repeat(2000));
  t.equal(errorCode(big), MomentoErrorCode.LIMIT_EXCEEDED_ERROR);
  t.match((big as { message(): string }).message(), /Element size limit exceeded/);
  t.type(await cache.listLength('app', 'l'), CacheListLength.Miss, 'nothing was written');
});
