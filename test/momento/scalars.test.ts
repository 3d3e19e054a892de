/** Conformance: increment, the setIf* family and the hash ones (getWithHash, setWithHash, setIf*Hash*) through the official Momento SDKs (Node over gRPC,
 * web over grpc-web-text), on both engines; SetIfNotExists and ListErase, which the JS SDKs never
 * send (they use SetIf; ListErase has no JS method), through a plain gRPC client of the generated
 * service. Semantics as Momento's (docs/momento-compat.md). */
import type { Test } from 'tap';
import { MomentoErrorCode, type CacheIncrement } from '@gomomento/sdk';
import { cache as generatedCache } from '@gomomento/generated-types';
import { common } from '@gomomento/generated-types/dist/common.js';
import { Metadata, credentials, makeGenericClientConstructor, status, type ServiceDefinition } from '@grpc/grpc-js';
import { BinaryReader } from 'google-protobuf';
import { PermissionScopes } from '../../src/index.js';
import { apiKeyFor, errorCode, startMomentoServer } from '../helpers/momento.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';
import { testEachEngine, type TestEngine } from '../helpers/server.js';

const pb = generatedCache.cache_client;
const bytes = (s: string) => new TextEncoder().encode(s);

for (const sdk of SDKS) {
  testEachEngine(`${sdk.name} - increment: counters from 0, stored as text, FAILED_PRECONDITION on a non-integer, TTL`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    const value = (r: unknown) => (r as CacheIncrement.Success).valueNumber();
    t.equal(value(await cache.increment('app', 'n')), 1, 'amount defaults to 1');
    t.equal(value(await cache.increment('app', 'n', 41)), 42);
    t.equal(value(await cache.increment('app', 'n', -1042)), -1000);
    t.equal((await cache.get('app', 'n')).value(), '-1000', 'stored as decimal text');
    t.equal(value(await cache.increment('app', 'zero', 0)), 0, 'the SDK reads an int64 of 0 as absent: Success(0)');
    await cache.set('app', 'ten', '10');
    t.equal(value(await cache.increment('app', 'ten', 90)), 100);
    await cache.set('app', 'word', 'abcxyz');
    const refused = await cache.increment('app', 'word', 1);
    t.equal(errorCode(refused), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'Momento: FAILED_PRECONDITION on a non-integer');
    await cache.set('app', 'max', '9223372036854775807');
    t.equal(errorCode(await cache.increment('app', 'max', 1)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'past the signed 64-bit range');
    await cache.increment('app', 'ttl', 1, { ttl: 5 });
    const ttl = await cache.itemGetTtl('app', 'ttl');
    t.ok((ttl as { remainingTtlMillis(): number }).remainingTtlMillis() <= 5000, 'the increment\'s ttl applies');
    t.equal(errorCode(await cache.increment('app', 'n', 1, { ttl: 25 * 3600 })), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'store.maxTtlSec applies');
  });

  testEachEngine(`${sdk.name} - setIfAbsent, setIfNotExists, setIfPresent, setIfEqual, setIfNotEqual, setIfPresentAndNotEqual, setIfAbsentOrEqual; getWithHash, setWithHash, setIf*Hash*`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache } = await sdk.clients(t, server, await apiKeyFor(server));
    const value = async (key: string) => (await cache.get('app', key)).value();

    t.equal(kind(await cache.setIfAbsent('app', 'a', 'first')), 'Stored');
    t.equal(kind(await cache.setIfAbsent('app', 'a', 'second')), 'NotStored');
    t.equal(await value('a'), 'first');
    t.equal(kind(await cache.setIfNotExists('app', 'b', 'first')), 'Stored');
    t.equal(kind(await cache.setIfNotExists('app', 'b', 'second')), 'NotStored');
    t.equal(kind(await cache.setIfPresent('app', 'nobody', 'x')), 'NotStored');
    t.equal(await value('nobody'), undefined, 'nothing created');
    t.equal(kind(await cache.setIfPresent('app', 'a', 'replaced')), 'Stored');
    t.equal(kind(await cache.setIfEqual('app', 'a', 'cas-1', 'wrong')), 'NotStored');
    t.equal(kind(await cache.setIfEqual('app', 'a', 'cas-1', 'replaced')), 'Stored');
    t.equal(kind(await cache.setIfEqual('app', 'missing', 'x', 'x')), 'NotStored');
    t.equal(kind(await cache.setIfNotEqual('app', 'a', 'y', 'cas-1')), 'NotStored');
    t.equal(kind(await cache.setIfNotEqual('app', 'a', 'ne', 'other')), 'Stored');
    t.equal(kind(await cache.setIfNotEqual('app', 'c', 'new', 'whatever')), 'Stored', 'notEqual holds on a missing key');
    t.equal(kind(await cache.setIfPresentAndNotEqual('app', 'd', 'x', 'y')), 'NotStored', 'presentAndNotEqual: missing');
    t.equal(kind(await cache.setIfPresentAndNotEqual('app', 'a', 'x', 'ne')), 'NotStored', 'presentAndNotEqual: equal');
    t.equal(kind(await cache.setIfPresentAndNotEqual('app', 'a', 'pne', 'zzz')), 'Stored');
    t.equal(kind(await cache.setIfAbsentOrEqual('app', 'e', 'x', 'y')), 'Stored', 'absentOrEqual: missing');
    t.equal(kind(await cache.setIfAbsentOrEqual('app', 'a', 'x', 'zzz')), 'NotStored', 'absentOrEqual: different');
    t.equal(kind(await cache.setIfAbsentOrEqual('app', 'a', 'aoe', 'pne')), 'Stored');
    t.equal(await value('a'), 'aoe');
    const binary = new Uint8Array([0, 255, 7]);
    t.equal(kind(await cache.setIfAbsent('app', 'bin', binary, { ttl: 30 })), 'Stored');
    t.equal(kind(await cache.setIfEqual('app', 'bin', 'text', binary)), 'Stored', 'binary compares bytewise');
    t.ok((await cache.itemGetTtl('app', 'bin') as { remainingTtlMillis(): number }).remainingTtlMillis() > 30_000, 'the stored value got the client default TTL (60 s), not the old one');

    await cache.listPushBack('app', 'list', 'x');
    t.equal(errorCode(await cache.setIfEqual('app', 'list', 'v', 'x')), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a comparison on a list');
    t.equal(kind(await cache.setIfAbsent('app', 'list', 'v')), 'NotStored', 'a list is present');

    // The hash family on the same server: the hash is opaque; what getWithHash and a Stored answer
    // is what the conditions compare.
    type Hashed = { hashUint8Array(): Uint8Array };
    const hashOf = async (key: string) => ((await cache.getWithHash('app', key)) as unknown as Hashed).hashUint8Array();
    const wrong = bytes('not a hash');
    t.equal(kind(await cache.getWithHash('app', 'h')), 'Miss');
    const first = await cache.setWithHash('app', 'h', 'one');
    t.equal(kind(first), 'Stored', 'setWithHash: unconditional');
    const hit = await cache.getWithHash('app', 'h');
    t.equal(kind(hit), 'Hit');
    t.equal(hit.value(), 'one');
    const one = (first as unknown as Hashed).hashUint8Array();
    t.same(await hashOf('h'), one, 'getWithHash reads the hash setWithHash answered');
    t.equal(kind(await cache.setIfPresentAndHashEqual('app', 'h', 'two', wrong)), 'NotStored', 'presentAndHashEqual: another hash');
    t.equal(kind(await cache.setIfPresentAndHashEqual('app', 'nobody', 'two', one)), 'NotStored', 'presentAndHashEqual: missing');
    const two = await cache.setIfPresentAndHashEqual('app', 'h', 'two', one, { ttl: 5 });
    t.equal(kind(two), 'Stored', 'presentAndHashEqual: the hash read');
    t.notSame((two as unknown as Hashed).hashUint8Array(), one, 'Stored answers the new value\'s hash');
    t.same(await hashOf('h'), (two as unknown as Hashed).hashUint8Array());
    t.ok((await cache.itemGetTtl('app', 'h') as { remainingTtlMillis(): number }).remainingTtlMillis() <= 5000, 'the stored value got the call\'s ttl');
    t.equal(kind(await cache.setIfPresentAndHashNotEqual('app', 'h', 'x', await hashOf('h'))), 'NotStored', 'presentAndNotHashEqual: equal');
    t.equal(kind(await cache.setIfPresentAndHashNotEqual('app', 'nobody', 'x', wrong)), 'NotStored', 'presentAndNotHashEqual: missing');
    t.equal(kind(await cache.setIfPresentAndHashNotEqual('app', 'h', 'three', one)), 'Stored', 'presentAndNotHashEqual: another hash');
    t.equal(kind(await cache.setIfAbsentOrHashEqual('app', 'h', 'x', one)), 'NotStored', 'absentOrHashEqual: another hash');
    t.equal(kind(await cache.setIfAbsentOrHashEqual('app', 'h', 'four', await hashOf('h'))), 'Stored', 'absentOrHashEqual: equal');
    t.equal(kind(await cache.setIfAbsentOrHashEqual('app', 'fresh-1', 'x', wrong)), 'Stored', 'absentOrHashEqual: missing');
    t.equal(kind(await cache.setIfAbsentOrHashNotEqual('app', 'h', 'x', await hashOf('h'))), 'NotStored', 'absentOrNotHashEqual: equal');
    t.equal(kind(await cache.setIfAbsentOrHashNotEqual('app', 'h', 'five', wrong)), 'Stored', 'absentOrNotHashEqual: another hash');
    t.equal(kind(await cache.setIfAbsentOrHashNotEqual('app', 'fresh-2', 'x', wrong)), 'Stored', 'absentOrNotHashEqual: missing');
    t.equal((await cache.get('app', 'h')).value(), 'five');
    await cache.set('app', 'bin', new TextEncoder().encode('five'));
    t.same(await hashOf('bin'), await hashOf('h'), 'text hashes as the bytes of its UTF-8');
    t.same((await cache.getWithHash('app', 'bin') as unknown as { valueUint8Array(): Uint8Array }).valueUint8Array(), bytes('five'));
    t.equal(errorCode(await cache.getWithHash('app', 'list')), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'getWithHash on a list, as get');
    t.equal(errorCode(await cache.setIfAbsentOrHashNotEqual('app', 'list', 'v', wrong)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a hash comparison on a list');
  });

  testEachEngine(`${sdk.name} - the write-only role may not increment nor setIf (nor setIf*Hash*); read-only neither`, async (t, engine) => {
    const server = await startMomentoServer(t, { engine });
    const { cache: writer } = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.cacheWriteOnly('app')));
    const { cache: reader } = await sdk.clients(t, server, await apiKeyFor(server, PermissionScopes.cacheReadOnly('app')));
    for (const client of [writer, reader]) {
      t.equal(errorCode(await client.increment('app', 'n', 1)), MomentoErrorCode.PERMISSION_ERROR);
      t.equal(errorCode(await client.setIfAbsent('app', 'k', 'v')), MomentoErrorCode.PERMISSION_ERROR);
      t.equal(errorCode(await client.setIfNotExists('app', 'k', 'v')), MomentoErrorCode.PERMISSION_ERROR);
      t.equal(errorCode(await client.setIfEqual('app', 'k', 'v', 'w')), MomentoErrorCode.PERMISSION_ERROR);
      t.equal(errorCode(await client.setIfAbsentOrHashEqual('app', 'k', 'v', bytes('h'))), MomentoErrorCode.PERMISSION_ERROR);
    }
    t.equal(kind(await writer.setWithHash('app', 'hashed', 'v')), 'Stored', 'setWithHash is a plain set: a write-only write');
    t.equal(errorCode(await writer.getWithHash('app', 'hashed')), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(kind(await reader.getWithHash('app', 'hashed')), 'Hit');
    t.equal(errorCode(await reader.setWithHash('app', 'hashed', 'w')), MomentoErrorCode.PERMISSION_ERROR);
    t.equal(kind(await writer.set('app', 'k', 'plain')), 'Success', 'a plain set is a write-only write');
    t.equal((await reader.get('app', 'n')).value(), undefined, 'the refused increments created nothing');
  });
}

/** A plain gRPC client of the generated Scs service on cache `app`; `call` resolves with the reply
 * the definition deserializes (`edit` may swap a method's deserializer), `call.setBatch` with the
 * SetBatch stream's status and how many answers it sent. */
async function scsClient(t: Test, engine: TestEngine, edit: (definition: ServiceDefinition) => ServiceDefinition = (d) => d) {
  const server = await startMomentoServer(t, { engine });
  const metadata = new Metadata();
  metadata.set('authorization', await apiKeyFor(server));
  metadata.set('cache', 'app');
  const definition = edit(pb.UnimplementedScsService.definition as unknown as ServiceDefinition);
  const Client = makeGenericClientConstructor(definition, 'cache_client.Scs');
  const client = new Client(`127.0.0.1:${server.momentoPort}`, credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => void>;
  t.teardown(() => (client as unknown as { close(): void }).close());
  const call = <R>(method: string, request: unknown) => new Promise<R>((resolve, reject) => {
    client[method]!(request, metadata, (err: Error | null, reply: R) => (err ? reject(err) : resolve(reply)));
  });
  const setBatch = (request: InstanceType<typeof pb._SetBatchRequest>) => new Promise<{ code: number; answers: number }>((resolve) => {
    const stream = client['SetBatch']!(request, metadata) as unknown as NodeJS.EventEmitter;
    let answers = 0;
    stream.on('data', () => answers++);
    stream.on('error', () => {});
    stream.on('status', ({ code }: { code: number }) => resolve({ code, answers }));
  });
  return Object.assign(call, { setBatch });
}


testEachEngine('grpc - SetIfNotExists and ListErase, which the JS SDKs do not send; Set and SetBatch with ttl_milliseconds 0; the pops\' list_length; ListRemove naming no value', async (t, engine) => {
  const call = await scsClient(t, engine);

  // 0 (what a client that sets no TTL sends) is the server's default, store.defaultTtlSec (1 h).
  const remaining = async (key: string) => (await call<InstanceType<typeof pb._ItemGetTtlResponse>>('ItemGetTtl', new pb._ItemGetTtlRequest({ cache_key: bytes(key) }))).found?.remaining_ttl_millis;
  await call('Set', new pb._SetRequest({ cache_key: bytes('default-ttl'), cache_body: bytes('v'), ttl_milliseconds: 0 }));
  const setTtl = await remaining('default-ttl');
  t.ok(setTtl! > 60_000 && setTtl! <= 3_600_000, `Set: the default TTL (${setTtl} ms left)`);
  const batch = await call.setBatch(new pb._SetBatchRequest({ items: [new pb._SetRequest({ cache_key: bytes('batch-default-ttl'), cache_body: bytes('v'), ttl_milliseconds: 0 })] }));
  t.same(batch, { code: status.OK, answers: 1 }, 'SetBatch: stored');
  const batchTtl = await remaining('batch-default-ttl');
  t.ok(batchTtl! > 60_000 && batchTtl! <= 3_600_000, `SetBatch: the default TTL (${batchTtl} ms left)`);

  const first = await call<InstanceType<typeof pb._SetIfNotExistsResponse>>('SetIfNotExists', new pb._SetIfNotExistsRequest({ cache_key: bytes('k'), cache_body: bytes('one'), ttl_milliseconds: 10_000 }));
  t.equal(first.result, 'stored');
  const second = await call<InstanceType<typeof pb._SetIfNotExistsResponse>>('SetIfNotExists', new pb._SetIfNotExistsRequest({ cache_key: bytes('k'), cache_body: bytes('two') }));
  t.equal(second.result, 'not_stored');

  // The pops' list_length, which the JS SDKs do not read (other SDKs do).
  await call('ListConcatenateBack', new pb._ListConcatenateBackRequest({ list_name: bytes('p'), values: ['x', 'y', 'z'].map(bytes), ttl_milliseconds: 60_000, refresh_ttl: true }));
  const front = await call<InstanceType<typeof pb._ListPopFrontResponse>>('ListPopFront', new pb._ListPopFrontRequest({ list_name: bytes('p') }));
  t.same([new TextDecoder().decode(front.found.front), front.found.list_length], ['x', 2], 'ListPopFront: the front and the length left');
  const back = await call<InstanceType<typeof pb._ListPopBackResponse>>('ListPopBack', new pb._ListPopBackRequest({ list_name: bytes('p') }));
  t.same([new TextDecoder().decode(back.found.back), back.found.list_length], ['z', 1], 'ListPopBack: the back and the length left');

  // ListRemove names the value in a oneof: unset, it is not the empty value (a malformed request
  // must not remove every empty element); set to the empty value, it is.
  await call('ListConcatenateBack', new pb._ListConcatenateBackRequest({ list_name: bytes('r'), values: ['', 'a', ''].map(bytes), ttl_milliseconds: 60_000, refresh_ttl: true }));
  const unnamed = await call('ListRemove', new pb._ListRemoveRequest({ list_name: bytes('r') })).then(() => status.OK, (e: { code: number }) => e.code);
  t.equal(unnamed, status.INVALID_ARGUMENT, 'ListRemove naming no value: refused');
  const values = async () => (await call<InstanceType<typeof pb._ListFetchResponse>>('ListFetch', new pb._ListFetchRequest({ list_name: bytes('r') }))).found.values.map((v) => new TextDecoder().decode(v));
  t.same(await values(), ['', 'a', ''], 'the refused remove removed nothing');
  await call('ListRemove', new pb._ListRemoveRequest({ list_name: bytes('r'), all_elements_with_value: new Uint8Array() }));
  t.same(await values(), ['a'], 'the empty value named: removed');

  const push = new pb._ListConcatenateBackRequest({ list_name: bytes('l'), values: ['a', 'b', 'c', 'd', 'e'].map(bytes), ttl_milliseconds: 60_000, refresh_ttl: true });
  await call('ListConcatenateBack', push);
  const some = new pb._ListEraseRequest({ list_name: bytes('l'), some: new pb._ListEraseRequest._ListRanges({ ranges: [new pb._ListRange({ begin_index: 1, count: 2 }), new pb._ListRange({ begin_index: 4, count: 2 ** 32 - 1 })] }) });
  const erased = await call<InstanceType<typeof pb._ListEraseResponse>>('ListErase', some);
  t.equal(erased.list, 'found');
  t.equal(erased.found.list_length, 2);
  const fetched = await call<InstanceType<typeof pb._ListFetchResponse>>('ListFetch', new pb._ListFetchRequest({ list_name: bytes('l'), unbounded_start: new common._Unbounded(), unbounded_end: new common._Unbounded() }));
  t.same(fetched.found.values.map((v) => new TextDecoder().decode(v)), ['a', 'd']);
  const neither = await call('ListErase', new pb._ListEraseRequest({ list_name: bytes('l') })).then(() => status.OK, (e: { code: number }) => e.code);
  t.equal(neither, status.INVALID_ARGUMENT, 'neither all nor some: refused');
  const after = await call<InstanceType<typeof pb._ListFetchResponse>>('ListFetch', new pb._ListFetchRequest({ list_name: bytes('l'), unbounded_start: new common._Unbounded(), unbounded_end: new common._Unbounded() }));
  t.same(after.found.values.map((v) => new TextDecoder().decode(v)), ['a', 'd'], 'the refused erase removed nothing');
  const all = await call<InstanceType<typeof pb._ListEraseResponse>>('ListErase', new pb._ListEraseRequest({ list_name: bytes('l'), all: new pb._ListEraseRequest._All() }));
  t.equal(all.found.list_length, 0);
  const missing = await call<InstanceType<typeof pb._ListEraseResponse>>('ListErase', new pb._ListEraseRequest({ list_name: bytes('l'), all: new pb._ListEraseRequest._All() }));
  t.equal(missing.list, 'missing', 'the erased list is gone');
});

testEachEngine('grpc - Increment answers the exact int64 past 2^53 (the JS SDKs read it as a number; other SDKs read it whole)', async (t, engine) => {
  // The reply's bytes as sent: the generated class would read the int64 back as a JS number.
  const call = await scsClient(t, engine, (d) => ({ ...d, Increment: { ...d['Increment']!, responseDeserialize: (b: Buffer) => b } }));
  const increment = async (key: string, amount: number) => {
    const reader = new BinaryReader(await call<Buffer>('Increment', new pb._IncrementRequest({ cache_key: bytes(key), amount })));
    let value = '0';
    while (reader.nextField()) {
      if (reader.getFieldNumber() === 1) value = reader.readInt64String();
      else reader.skipField();
    }
    return value;
  };
  const set = (key: string, value: string) => call('Set', new pb._SetRequest({ cache_key: bytes(key), cache_body: bytes(value), ttl_milliseconds: 60_000 }));
  await set('big', '9007199254740993');
  t.equal(await increment('big', 2), '9007199254740995', 'past 2^53: exact');
  await set('low', '-9223372036854775807');
  t.equal(await increment('low', -1), '-9223372036854775808', 'INT64_MIN: exact');
  t.equal(await increment('small', 41), '41', 'within 2^53 as before');
});
