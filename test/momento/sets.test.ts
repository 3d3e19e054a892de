/** Conformance: Momento's sets through the official SDKs (Node over gRPC, web over grpc-web-text)
 * against one real Tidings server per engine: add, fetch, contains, remove, length, pop, sample,
 * the collection TTL, the item type, wrong-type, limit and permission errors; then what no SDK
 * method sends (SetDifference's identity and minuend, non-UTF-8 set names) with a plain grpc-js client. */
import { CollectionTtl, MomentoErrorCode, type CacheItemGetTtl, type CacheItemGetType, type CacheKeysExist, type CacheSetContainsElements, type CacheSetFetch, type CacheSetSample } from '@gomomento/sdk';
import { cache } from '@gomomento/generated-types';
import { status } from '@grpc/grpc-js';
import { apiKeyFor, errorCode, scsCall, startMomentoServer } from '../helpers/momento.js';
import { testEachEngine } from '../helpers/server.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';

const sorted = (values: string[]) => [...values].sort();
/** setLength's and setPop's Hit (their response modules are sdk-core's, which @gomomento/sdk does not re-export). */
type LengthHit = { length(): number };
type PopHit = { valueArrayString(): string[] };

testEachEngine('sets through both official SDKs and plain gRPC', async (t, engine) => {
  const server = await startMomentoServer(t, { engine, config: { store: { maxSetElements: 4 } } });
  const apiKey = await apiKeyFor(server);

  for (const sdk of SDKS) {
    await t.test(sdk.name, async (t) => {
      const { cache } = await sdk.clients(t, server, apiKey);
      const S = `members-${sdk.name}`;
      t.equal(kind(await cache.setFetch('app', S)), 'Miss', 'no set: Miss');
      t.equal(kind(await cache.setContainsElement('app', S, 'ada')), 'Miss');
      t.equal(kind(await cache.setLength('app', S)), 'Miss');
      t.equal(kind(await cache.setPop('app', S, 1)), 'Miss');
      t.equal(kind(await cache.setSample('app', S, 1)), 'Miss');

      t.equal(kind(await cache.setAddElement('app', S, 'ada', { ttl: CollectionTtl.of(30) })), 'Success');
      const bin = new Uint8Array([0, 255, 7]);
      t.equal(kind(await cache.setAddElements('app', S, ['bob', 'ada'])), 'Success', 'a held element is added once');
      t.equal(kind(await cache.setAddElements('app', S, [bin])), 'Success');
      const all = await cache.setFetch('app', S);
      t.equal(kind(all), 'Hit');
      t.same(sorted((all as CacheSetFetch.Hit).valueArrayString().filter((e) => e !== Buffer.from(bin).toString())), ['ada', 'bob']);
      t.ok((all as CacheSetFetch.Hit).valueArrayUint8Array().some((e) => Buffer.from(e).equals(Buffer.from(bin))), 'binary elements come back as sent');
      t.equal(((await cache.setLength('app', S)) as unknown as LengthHit).length(), 3);
      t.equal(kind(await cache.setContainsElement('app', S, 'ada')), 'Hit');
      const contains = await cache.setContainsElements('app', S, ['bob', 'cy', 'ada']);
      t.same((contains as CacheSetContainsElements.Hit).containsElements(), { bob: true, cy: false, ada: true }, 'per element');

      t.equal(((await cache.itemGetType('app', S)) as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.SET);
      t.same(((await cache.keysExist('app', [S, 'nothing'])) as CacheKeysExist.Success).exists(), [true, false], 'a set exists');
      const ttl = ((await cache.itemGetTtl('app', S)) as CacheItemGetTtl.Hit).remainingTtlMillis();
      t.ok(ttl > 30_000 && ttl <= 60_000, `the default CollectionTtl (client's 60 s, refreshed) replaced the 30 s: ${ttl}`);
      await cache.setAddElement('app', S, 'ada', { ttl: CollectionTtl.of(10).withNoRefreshTtlOnUpdates() });
      t.ok(((await cache.itemGetTtl('app', S)) as CacheItemGetTtl.Hit).remainingTtlMillis() > 10_000, 'refreshTtl false: the existing expiry stays');

      t.equal(errorCode(await cache.setAddElements('app', S, ['c', 'd'])), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'five elements past a limit of four');
      t.equal(((await cache.setLength('app', S)) as unknown as LengthHit).length(), 3, 'the refused add changed nothing');

      const sample = (await cache.setSample('app', S, 2)) as CacheSetSample.Hit;
      t.equal(kind(sample), 'Hit');
      t.equal(new Set(sample.valueArrayString()).size, 2, 'sample: two distinct elements');
      t.equal(((await cache.setLength('app', S)) as unknown as LengthHit).length(), 3, 'sample removes nothing');
      t.equal(kind(await cache.setRemoveElement('app', S, bin)), 'Success');
      t.equal(kind(await cache.setRemoveElements('app', S, ['bob', 'never-there'])), 'Success');
      t.same((await cache.setFetch('app', S) as CacheSetFetch.Hit).valueArrayString(), ['ada']);
      t.same(((await cache.setPop('app', S, 5)) as unknown as PopHit).valueArrayString(), ['ada'], 'pop: every element when asked for more');
      t.equal(kind(await cache.setFetch('app', S)), 'Miss', 'emptied by pop: gone');

      await cache.set('app', `scalar-${sdk.name}`, '1');
      await cache.setAddElement('app', `tags-${sdk.name}`, 'x');
      t.equal(errorCode(await cache.setFetch('app', `scalar-${sdk.name}`)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a scalar is no set');
      t.equal(errorCode(await cache.setAddElement('app', `scalar-${sdk.name}`, 'x')), MomentoErrorCode.FAILED_PRECONDITION_ERROR);
      t.equal(errorCode(await cache.listFetch('app', `tags-${sdk.name}`)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a set is no list');
      t.equal(errorCode(await cache.dictionaryFetch('app', `tags-${sdk.name}`)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'nor a dictionary');

      const scope = (role: 'readonly' | 'writeonly') => server.auth.mintDisposableToken({ scope: { permissions: [{ role, cache: 'app' }] }, expiresInSec: 60 });
      const { cache: reader } = await sdk.clients(t, server, (await scope('readonly')).token);
      t.equal(kind(await reader.setFetch('app', `tags-${sdk.name}`)), 'Hit', 'readonly reads');
      t.equal(kind(await reader.setSample('app', `tags-${sdk.name}`, 1)), 'Hit');
      t.equal(errorCode(await reader.setAddElement('app', `tags-${sdk.name}`, 'y')), MomentoErrorCode.PERMISSION_ERROR, 'readonly may not add');
      t.equal(errorCode(await reader.setPop('app', `tags-${sdk.name}`, 1)), MomentoErrorCode.PERMISSION_ERROR, 'nor pop');
      const { cache: writer } = await sdk.clients(t, server, (await scope('writeonly')).token);
      t.equal(kind(await writer.setAddElement('app', `tags-${sdk.name}`, 'y')), 'Success', 'writeonly adds');
      t.equal(kind(await writer.setRemoveElement('app', `tags-${sdk.name}`, 'x')), 'Success', 'and removes');
      t.equal(errorCode(await writer.setContainsElement('app', `tags-${sdk.name}`, 'y')), MomentoErrorCode.PERMISSION_ERROR, 'writeonly may not read');
      t.equal(errorCode(await writer.setPop('app', `tags-${sdk.name}`, 1)), MomentoErrorCode.PERMISSION_ERROR, 'nor pop: it returns elements');
      t.same(((await cache.setFetch('app', `tags-${sdk.name}`)) as CacheSetFetch.Hit).valueArrayString(), ['y'], 'the refused pop removed nothing');
    });
  }

  await t.test('grpc: SetDifference identity / minuend / none, non-UTF-8 set names', async (t) => {
    const call = scsCall(t, server, apiKey);
    const pb = cache.cache_client;
    const name = Buffer.from('s');
    const length = async () => (await call<InstanceType<typeof pb._SetLengthResponse>>('SetLength', new pb._SetLengthRequest({ set_name: name }))).reply?.found.length;
    t.equal((await call('SetUnion', new pb._SetUnionRequest({ set_name: name, elements: [Buffer.from('a'), Buffer.from('b')], ttl_milliseconds: 60_000, refresh_ttl: true }))).code, status.OK);
    t.equal((await call('SetDifference', new pb._SetDifferenceRequest({ set_name: name }))).code, status.INVALID_ARGUMENT, 'neither minuend nor subtrahend');
    const minuend = new pb._SetDifferenceRequest({ set_name: name, minuend: new pb._SetDifferenceRequest._Minuend({ elements: [Buffer.from('a')] }) });
    t.equal((await call('SetDifference', minuend)).code, status.INVALID_ARGUMENT, 'a minuend is not taken');
    const emptySubtrahend = new pb._SetDifferenceRequest({ set_name: name, subtrahend: new pb._SetDifferenceRequest._Subtrahend() });
    t.equal((await call('SetDifference', emptySubtrahend)).code, status.INVALID_ARGUMENT, 'a subtrahend of neither set nor identity (read as identity, it would remove the whole set)');
    t.equal((await call('SetFetch', new pb._SetFetchRequest({ set_name: new Uint8Array([0xff]) }))).code, status.INVALID_ARGUMENT, 'a set name that is not UTF-8');
    t.equal((await call('SetSample', new pb._SetSampleRequest({ set_name: name, limit: 0 }))).code, status.OK, 'limit 0 is a sample of none');
    t.equal((await call('SetPop', new pb._SetPopRequest({ set_name: name, count: 0 }))).code, status.INVALID_ARGUMENT, 'a pop of 0 elements');
    t.equal(await length(), 2, 'nothing removed meanwhile');
    const identity = new pb._SetDifferenceRequest({ set_name: name, subtrahend: new pb._SetDifferenceRequest._Subtrahend({ identity: new pb._SetDifferenceRequest._Subtrahend._Identity() }) });
    t.equal((await call('SetDifference', identity)).code, status.OK);
    t.equal((await call<InstanceType<typeof pb._SetLengthResponse>>('SetLength', new pb._SetLengthRequest({ set_name: name }))).reply?.set, 'missing', 'identity removed the whole set');
  });
});
