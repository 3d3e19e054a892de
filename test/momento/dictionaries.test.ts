/** Conformance: Momento's dictionaries through the official SDKs (Node over gRPC, web over
 * grpc-web-text) against a real Tidings server on both engines: per-field Hit / Miss, fetch,
 * increment, removes, length, the collection TTL, the item type, wrong-type and permission errors. */
import { CollectionTtl, MomentoErrorCode, type CacheDictionaryFetch, type CacheDictionaryGetField, type CacheDictionaryGetFields, type CacheDictionaryIncrement, type CacheDictionaryLength, type CacheItemGetTtl, type CacheItemGetType, type CacheKeysExist } from '@gomomento/sdk';
import { cache } from '@gomomento/generated-types';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { BinaryReader } from 'google-protobuf';
import { apiKeyFor, errorCode, startMomentoServer } from '../helpers/momento.js';
import { testEachEngine } from '../helpers/server.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';

for (const sdk of SDKS) {
  testEachEngine(`${sdk.name} - dictionaries: set, get per field, fetch, increment, remove, length, type, TTL`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    t.equal(kind(await cache.dictionaryFetch('app', 'user-1')), 'Miss', 'no dictionary: Miss');
    t.equal(kind(await cache.dictionaryGetField('app', 'user-1', 'name')), 'Miss');
    t.equal(kind(await cache.dictionaryLength('app', 'user-1')), 'Miss');

    t.equal(kind(await cache.dictionarySetField('app', 'user-1', 'name', 'Ada', { ttl: CollectionTtl.of(30) })), 'Success');
    const avatar = new Uint8Array([0, 255, 7]);
    t.equal(kind(await cache.dictionarySetFields('app', 'user-1', new Map<string, string | Uint8Array>([['city', 'Paris'], ['avatar', avatar]]))), 'Success');
    const name = await cache.dictionaryGetField('app', 'user-1', 'name');
    t.equal(kind(name), 'Hit');
    t.equal((name as CacheDictionaryGetField.Hit).valueString(), 'Ada');
    // The SDK echoes the field it asked for; the web SDK's is its base64 form (docs/momento-compat.md).
    if (sdk.name === 'node-sdk') t.equal((name as CacheDictionaryGetField.Hit).fieldString(), 'name');
    t.equal(kind(await cache.dictionaryGetField('app', 'user-1', 'age')), 'Miss', 'a missing field of a live dictionary: Miss');

    const some = await cache.dictionaryGetFields('app', 'user-1', ['city', 'age', 'name']);
    t.equal(kind(some), 'Hit');
    t.same((some as CacheDictionaryGetFields.Hit).responses.map(kind), ['Hit', 'Miss', 'Hit'], 'per field, in the order asked');
    t.same((some as CacheDictionaryGetFields.Hit).valueRecord(), { city: 'Paris', name: 'Ada' });

    const all = await cache.dictionaryFetch('app', 'user-1');
    t.equal(kind(all), 'Hit');
    t.same((all as CacheDictionaryFetch.Hit).valueMapStringUint8Array().get('avatar'), avatar, 'binary values come back as sent');
    t.same(Object.keys((all as CacheDictionaryFetch.Hit).valueRecord()).sort(), ['avatar', 'city', 'name']);
    t.equal(((await cache.dictionaryLength('app', 'user-1')) as CacheDictionaryLength.Hit).length(), 3);

    t.equal(((await cache.dictionaryIncrement('app', 'user-1', 'visits', 5)) as CacheDictionaryIncrement.Success).value(), 5, 'a missing field starts from 0');
    t.equal(((await cache.dictionaryIncrement('app', 'user-1', 'visits', -2)) as CacheDictionaryIncrement.Success).value(), 3);
    t.equal(((await cache.dictionaryGetField('app', 'user-1', 'visits')) as CacheDictionaryGetField.Hit).valueString(), '3', 'stored as decimal text');
    t.equal(errorCode(await cache.dictionaryIncrement('app', 'user-1', 'city', 1)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a non-integer field: FAILED_PRECONDITION');

    t.equal(((await cache.itemGetType('app', 'user-1')) as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.DICTIONARY);
    t.same(((await cache.keysExist('app', ['user-1', 'user-2'])) as CacheKeysExist.Success).exists(), [true, false], 'a dictionary exists');
    const ttl = ((await cache.itemGetTtl('app', 'user-1')) as CacheItemGetTtl.Hit).remainingTtlMillis();
    t.ok(ttl > 30_000 && ttl <= 60_000, `the default CollectionTtl (client's 60 s, refreshed) replaced the 30 s: ${ttl}`);
    await cache.dictionarySetField('app', 'user-1', 'name', 'Ada L.', { ttl: CollectionTtl.of(10).withNoRefreshTtlOnUpdates() });
    t.ok(((await cache.itemGetTtl('app', 'user-1')) as CacheItemGetTtl.Hit).remainingTtlMillis() > 10_000, 'refreshTtl false: the existing expiry stays');

    t.equal(kind(await cache.dictionaryRemoveField('app', 'user-1', 'avatar')), 'Success');
    t.equal(kind(await cache.dictionaryRemoveFields('app', 'user-1', ['city', 'never-there'])), 'Success');
    t.same(Object.keys(((await cache.dictionaryFetch('app', 'user-1')) as CacheDictionaryFetch.Hit).valueRecord()).sort(), ['name', 'visits']);
    await cache.dictionaryRemoveFields('app', 'user-1', ['name', 'visits']);
    t.equal(kind(await cache.dictionaryFetch('app', 'user-1')), 'Miss', 'emptied: gone');
  });

  testEachEngine(`${sdk.name} - dictionaries: one kind per key, read / write roles as Momento's, the field limit`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine, config: { store: { maxDictionaryFields: 2 } } });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    await cache.set('app', 'scalar', '1');
    await cache.listPushBack('app', 'list', 'x');
    await cache.dictionarySetField('app', 'room', 'topic', 'chat');
    t.equal(errorCode(await cache.dictionaryFetch('app', 'list')), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a list is no dictionary');
    t.equal(errorCode(await cache.dictionarySetField('app', 'scalar', 'f', 'v')), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'nor is a scalar');
    t.equal(errorCode(await cache.listFetch('app', 'room')), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a dictionary is no list');
    t.equal(errorCode(await cache.get('app', 'room')), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'nor a scalar');
    t.equal(((await cache.itemGetType('app', 'list')) as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.LIST);
    t.equal(((await cache.itemGetType('app', 'scalar')) as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.SCALAR);

    const limit = await cache.dictionarySetFields('app', 'room', { a: '1', b: '2' });
    t.equal(errorCode(limit), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'three fields past a limit of two');
    t.equal(((await cache.dictionaryLength('app', 'room')) as CacheDictionaryLength.Hit).length(), 1, 'the refused write changed nothing');

    const scope = (role: 'readonly' | 'writeonly') => server.auth.mintDisposableToken({ scope: { permissions: [{ role, cache: 'app' }] }, expiresInSec: 60 });
    const { cache: reader } = await sdk.clients(t, server, (await scope('readonly')).token);
    t.equal(kind(await reader.dictionaryGetField('app', 'room', 'topic')), 'Hit', 'readonly reads');
    t.equal(kind(await reader.dictionaryFetch('app', 'room')), 'Hit');
    t.equal(errorCode(await reader.dictionarySetField('app', 'room', 'topic', 'x')), MomentoErrorCode.PERMISSION_ERROR, 'readonly may not set');
    t.equal(errorCode(await reader.dictionaryRemoveField('app', 'room', 'topic')), MomentoErrorCode.PERMISSION_ERROR, 'nor remove');
    const { cache: writer } = await sdk.clients(t, server, (await scope('writeonly')).token);
    t.equal(kind(await writer.dictionarySetField('app', 'room', 'topic', 'news')), 'Success', 'writeonly sets');
    t.equal(errorCode(await writer.dictionaryGetField('app', 'room', 'topic')), MomentoErrorCode.PERMISSION_ERROR, 'writeonly may not read');
    t.equal(errorCode(await writer.dictionaryIncrement('app', 'room', 'n', 1)), MomentoErrorCode.PERMISSION_ERROR, 'nor increment: it returns the value');
    t.equal(((await cache.dictionaryGetField('app', 'room', 'topic')) as CacheDictionaryGetField.Hit).valueString(), 'news');
    t.equal(kind(await cache.dictionaryGetField('app', 'room', 'n')), 'Miss', 'the refused increment wrote nothing');
  });
}

// What no JS SDK method sends or reads: DictionaryDelete's `all` and no choice at all, field bytes
// that are not UTF-8, and DictionaryIncrement's int64 past 2^53. A plain grpc-js client of the Scs
// service, both engines.
testEachEngine('grpc - DictionaryDelete all / none, non-UTF-8 field bytes, an exact DictionaryIncrement past 2^53', async (t, engine) => {
  const server = await startMomentoServer(t, { engine });
  // DictionaryIncrement's reply as sent: the generated class would read the int64 as a JS number.
  const definition = cache.cache_client.UnimplementedScsService.definition as unknown as ServiceDefinition;
  const raw = { ...definition, DictionaryIncrement: { ...definition['DictionaryIncrement']!, responseDeserialize: (b: Buffer) => b } };
  const Client = makeGenericClientConstructor(raw, 'cache_client.Scs');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => void>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const metadata = new Metadata();
  metadata.set('authorization', await apiKeyFor(server));
  metadata.set('cache', 'app');
  const call = <R>(method: string, request: unknown) => new Promise<{ code: number; reply?: R }>((resolve) => {
    client[method]!(request, metadata, { deadline: Date.now() + 5000 }, (e: { code: number } | null, reply: R) => resolve(e ? { code: e.code } : { code: status.OK, reply }));
  });
  const pb = cache.cache_client;
  const name = Buffer.from('d');
  const pair = (field: string) => new pb._DictionaryFieldValuePair({ field: Buffer.from(field), value: Buffer.from('v') });
  t.equal((await call('DictionarySet', new pb._DictionarySetRequest({ dictionary_name: name, items: [pair('a'), pair('b')] }))).code, status.OK);
  t.equal((await call('DictionaryDelete', new pb._DictionaryDeleteRequest({ dictionary_name: name }))).code, status.INVALID_ARGUMENT, 'neither some nor all');
  const bad = new pb._DictionaryGetRequest({ dictionary_name: name, fields: [new Uint8Array([0xff])] });
  t.equal((await call('DictionaryGet', bad)).code, status.INVALID_ARGUMENT, 'a field that is not UTF-8');
  t.equal((await call<InstanceType<typeof pb._DictionaryLengthResponse>>('DictionaryLength', new pb._DictionaryLengthRequest({ dictionary_name: name }))).reply?.found.length, 2, 'nothing removed meanwhile');
  t.equal((await call('DictionaryDelete', new pb._DictionaryDeleteRequest({ dictionary_name: name, all: new pb._DictionaryDeleteRequest.All() }))).code, status.OK);
  t.equal((await call<InstanceType<typeof pb._DictionaryLengthResponse>>('DictionaryLength', new pb._DictionaryLengthRequest({ dictionary_name: name }))).reply?.dictionary, 'missing', '`all` removed the dictionary');

  const counters = Buffer.from('counters');
  const big = new pb._DictionaryFieldValuePair({ field: Buffer.from('big'), value: Buffer.from('9007199254740993') });
  t.equal((await call('DictionarySet', new pb._DictionarySetRequest({ dictionary_name: counters, items: [big] }))).code, status.OK);
  const incremented = await call<Buffer>('DictionaryIncrement', new pb._DictionaryIncrementRequest({ dictionary_name: counters, field: Buffer.from('big'), amount: 2 }));
  const reader = new BinaryReader(incremented.reply!);
  let value = '0';
  while (reader.nextField()) {
    if (reader.getFieldNumber() === 1) value = reader.readInt64String();
    else reader.skipField();
  }
  t.equal(value, '9007199254740995', 'the sum\'s int64 is exact (the nearest double is ...996)');
});
