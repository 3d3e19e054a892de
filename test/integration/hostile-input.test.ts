/** Hostile input must cost little (docs/operations.md, "What hostile input costs"): a request's
 * values are counted from its headers before it is decoded (server.maxRequestElements,
 * server.maxRequestDepth, no MessagePack ext types), a large one is charged to the request rates
 * by its values (limits.requestElementsPerOp), and an HTTP JSON body must be UTF-8. Over real
 * WebSockets, HTTP and gRPC against one server, on a small scale: store.maxListLength 1000 (so
 * maxRequestElements may be 1064), a connection bucket of 70 requests refilled at 40 a second on a
 * manual clock. */
import t from 'tap';
import { ManualClock, PermissionScopes, encodeFrame } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { framedBody, openSdkStream } from '../helpers/sse.js';
import { Client, Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { cache as momentoCache } from '@gomomento/generated-types';

const CACHE = 'app';
const LIST_MAX = 1000;
const MAX_ELEMENTS = LIST_MAX + 64;
const clock = new ManualClock(Date.now());
const server = await startServer(t, {
  clock,
  config: {
    store: { maxListLength: LIST_MAX },
    server: { maxRequestElements: MAX_ELEMENTS, maxRequestDepth: 8 },
    limits: { connectionOpsPerSec: 40, connectionOpsBurst: 70 },
    momento: { enabled: true, port: 0 },
  },
});
const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite(CACHE), PermissionScopes.topicPublishSubscribe(CACHE, '*'));
const token = await tokenFor(server, scope);
const apiKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;

/** `{ id, t, cache, list, values: <values> }` with `values` spliced in as raw msgpack. */
function concatenateWith(id: number, list: string, values: Uint8Array): Uint8Array {
  const head = encodeFrame({ id, t: 'listConcatenateBack', cache: CACHE, list, values: null });
  const frame = new Uint8Array(head.length - 1 + values.length);
  frame.set(head.subarray(0, head.length - 1), 0); // without the nil that `values` replaces
  frame.set(values, head.length - 1);
  return frame;
}
/** An array32 of `count` empty maps, then 0xc1 (a byte MessagePack never uses): decoded, the frame
 * would be refused as not MessagePack, with no id; refused by its count, it never is. */
function emptyMaps(count: number): Uint8Array {
  const bytes = new Uint8Array(5 + count + 1).fill(0x80);
  bytes[0] = 0xdd;
  new DataView(bytes.buffer).setUint32(1, count + 1);
  bytes[5 + count] = 0xc1;
  return bytes;
}
const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);

t.test('a frame of more values than server.maxRequestElements is refused undecoded; the connection stays usable', async (t) => {
  const c = await RawClient.open(server, token);
  c.sendRaw(concatenateWith(9, 'maps', emptyMaps(2 * MAX_ELEMENTS)));
  const reply = await c.next((f) => f['t'] === 'err');
  t.match(reply, { id: 9, e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_elements_limit_exceeded', message: new RegExp(`more than ${MAX_ELEMENTS} values`) } },
    'refused by its count (decoded, the 0xc1 at its end would have made it BAD_REQUEST_ERROR with id null)');
  t.same(await c.ok({ t: 'ping' }), {}, 'the connection is still served');
  t.same(await c.ok({ t: 'listLength', cache: CACHE, list: 'maps' }), { hit: false }, 'nothing was written');
  c.close();
});

t.test('a frame nesting deeper than server.maxRequestDepth is refused undecoded', async (t) => {
  const c = await RawClient.open(server, token);
  // Nine nested one-element arrays under the top-level map (ten deep), the last holding 0xc1.
  const nested = new Uint8Array([...new Array(9).fill(0x91), 0xc1]);
  c.sendRaw(concatenateWith(10, 'deep', nested));
  t.match(await c.next((f) => f['t'] === 'err'), { id: 10, e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_depth_limit_exceeded', message: /more than 8 maps or arrays deep/ } });
  t.same(await c.ok({ t: 'ping' }), {});
  c.close();
});

t.test('a MessagePack ext type is refused as BAD_REQUEST_ERROR, not decoded (msgpackr would make a Date of -1)', async (t) => {
  const c = await RawClient.open(server, token);
  const head = encodeFrame({ id: 11, t: 'pub', cache: CACHE, topic: 'x', value: null });
  const timestamp32 = [0xd6, 0xff, 0x00, 0x00, 0x00, 0x01];
  c.sendRaw(new Uint8Array([...head.subarray(0, head.length - 1), ...timestamp32]));
  t.match(await c.next((f) => f['t'] === 'err'), { id: 11, e: { code: 'BAD_REQUEST_ERROR', message: /ext types are not part of the protocol/ } });
  t.same(await c.ok({ t: 'ping' }), {});
  c.close();
});

t.test('before hello, a frame refused for its shape closes the connection (4503)', async (t) => {
  const c = await RawClient.connect(server.wsUrl);
  const head = encodeFrame({ id: 1, t: 'hello', versions: [1], token, client: null });
  c.sendRaw(new Uint8Array([...head.subarray(0, head.length - 1), 0xd4, 0x01, 0x00]));
  t.match(await c.next((f) => f['t'] === 'err'), { id: 1, e: { code: 'BAD_REQUEST_ERROR' } });
  t.equal((await c.waitClosed()).code, 4503);
  // A hello of 300 empty maps (1.5 KiB, within server.maxPreHelloFrameBytes) passes
  // server.maxPreHelloRequestElements (256): refused unread, as the 0xc1 at its end shows.
  const padded = await RawClient.connect(server.wsUrl);
  const hello = encodeFrame({ id: 2, t: 'hello', versions: [1], token, pad: null });
  padded.sendRaw(new Uint8Array([...hello.subarray(0, hello.length - 1), ...emptyMaps(300)]));
  t.match(await padded.next((f) => f['t'] === 'err'), { id: 2, e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_elements_limit_exceeded', message: /more than 256 values \(server.maxPreHelloRequestElements/ } });
  t.equal((await padded.waitClosed()).code, 4503);
});

t.test('a concatenate of store.maxListLength values fits; large requests are charged by their values', async (t) => {
  const c = await RawClient.open(server, token);
  // 1 map + 5 keys + 4 scalars + the array + 1000 values = 1011 values: 32 requests of the 70
  // (limits.requestElementsPerOp 32).
  for (const list of ['full1', 'full2']) {
    t.same(await c.ok({ t: 'listConcatenateBack', cache: CACHE, list, values: values(LIST_MAX) }), { length: LIST_MAX }, `${list}: the largest legitimate request passes`);
  }
  const refused = await c.request({ t: 'listConcatenateBack', cache: CACHE, list: 'full3', values: values(LIST_MAX) });
  t.match(refused, { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded' } }, 'the third finds 6 of the 32 requests it costs');
  t.same(await c.ok({ t: 'listLength', cache: CACHE, list: 'full3' }), { hit: false }, 'and was not carried out');
  t.same(await c.ok({ t: 'ping' }), {}, 'a small request still passes: it costs one');
  // 70 - 2 × 32 - 2 (the listLength and the ping) = 4 left: 1011 values cost 32, rounded up, not 31.
  for (let i = 0; i < 4; i++) await c.ok({ t: 'ping' });
  t.match(await c.request({ t: 'ping' }), { t: 'err', e: { cause: 'operations_rate_limit_exceeded' } }, 'four more pings use up the bucket');
  clock.advance(1000);
  t.same(await c.ok({ t: 'listConcatenateBack', cache: CACHE, list: 'full3', values: values(LIST_MAX) }), { length: LIST_MAX }, 'a second refills 40: enough again');
  c.close();
});

t.test('the SDK fallback stream: frames in a POST /v1/stream get the same refusals, and the stream keeps serving', async (t) => {
  const { stream, frames, postBody, postFrames: post } = await openSdkStream(t, server.httpUrl);
  const postFrames = async (...bodies: Uint8Array[]) => t.equal((await post(...bodies)).status, 204);
  await postFrames(encodeFrame({ t: 'hello', id: 1, versions: [1], token }));
  await stream.until(() => frames().some((f) => f['id'] === 1));
  await postFrames(concatenateWith(2, 'stream-maps', emptyMaps(2 * MAX_ELEMENTS)), encodeFrame({ t: 'ping', id: 3 }));
  await stream.until(() => frames().some((f) => f['id'] === 3));
  t.match(frames().find((f) => f['id'] === 2), { t: 'err', e: { cause: 'request_elements_limit_exceeded' } });
  t.match(frames().find((f) => f['id'] === 3), { t: 'ok' }, 'the next frame of the same POST is served');
  // A body that does not split into whole frames is refused before any of its frames is served.
  const ping = framedBody(encodeFrame({ t: 'ping', id: 4 }));
  for (const [tail, message] of [[[0, 0], /truncated frame length/], [[0, 0, 0, 9, 1, 2], /frame longer than the body/]] as const) {
    const refused = await postBody(Buffer.concat([ping, Buffer.from(tail)]));
    t.match({ status: refused.status, body: await refused.json() }, { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message } } }, String(message));
  }
  await postFrames(encodeFrame({ t: 'ping', id: 5 }));
  await stream.until(() => frames().some((f) => f['id'] === 5));
  t.notOk(frames().some((f) => f['id'] === 4), 'the ping before the malformed tail was not served');
});

/** A raw grpc-js caller of the Scs methods with the API key: a method's serialized request in, its error (or null) out. */
function scsCaller(t: { teardown(fn: () => unknown): void }) {
  const client = new Client(`127.0.0.1:${server.momentoPort!}`, credentials.createInsecure());
  t.teardown(() => client.close());
  const metadata = new Metadata();
  metadata.set('authorization', apiKey);
  metadata.set('cache', CACHE);
  return (method: string, message: Uint8Array) => new Promise<ServiceError | null>((resolve) => {
    client.makeUnaryRequest(`/cache_client.Scs/${method}`, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, message, metadata, (err) => resolve(err));
  });
}

t.test('gRPC: repeated fields inside the messages a method nests are counted too; bytes fields are not walked into', async (t) => {
  const call = scsCaller(t);
  const { _DictionaryDeleteRequest, _DictionarySetRequest, _DictionaryFieldValuePair } = momentoCache.cache_client;
  const deleting = (n: number) => new _DictionaryDeleteRequest({
    dictionary_name: Buffer.from('d'), some: new _DictionaryDeleteRequest.Some({ fields: Array.from({ length: n }, () => Buffer.alloc(0)) }),
  }).serializeBinary();
  clock.advance(2000);
  // Four top-level fields at most; the `fields` of its one `some` are twice the limit.
  const refused = await call('DictionaryDelete', deleting(2 * MAX_ELEMENTS));
  t.equal(refused?.code, 8, 'RESOURCE_EXHAUSTED');
  t.equal(refused?.metadata.get('err')[0], 'request_elements_limit_exceeded');
  t.equal(await call('DictionaryDelete', deleting(10)), null, 'a delete of a few fields passes');
  // SetDifference nests its elements two messages deep (subtrahend.set.elements).
  const { _SetDifferenceRequest } = momentoCache.cache_client;
  const removing = (n: number) => new _SetDifferenceRequest({
    set_name: Buffer.from('s'),
    subtrahend: new _SetDifferenceRequest._Subtrahend({ set: new _SetDifferenceRequest._Subtrahend._Set({ elements: Array.from({ length: n }, () => Buffer.alloc(0)) }) }),
  }).serializeBinary();
  const removalRefused = await call('SetDifference', removing(2 * MAX_ELEMENTS));
  t.equal(removalRefused?.code, 8, 'SetDifference: RESOURCE_EXHAUSTED');
  t.equal(removalRefused?.metadata.get('err')[0], 'request_elements_limit_exceeded');
  t.equal(await call('SetDifference', removing(10)), null, 'a removal of a few elements passes');
  // SortedSetRemove nests its values one message deep (some.values).
  const { _SortedSetRemoveRequest } = momentoCache.cache_client;
  const unscoring = (n: number) => new _SortedSetRemoveRequest({
    set_name: Buffer.from('z'), some: new _SortedSetRemoveRequest._Some({ values: Array.from({ length: n }, () => Buffer.alloc(0)) }),
  }).serializeBinary();
  const unscoringRefused = await call('SortedSetRemove', unscoring(2 * MAX_ELEMENTS));
  t.equal(unscoringRefused?.code, 8, 'SortedSetRemove: RESOURCE_EXHAUSTED');
  t.equal(unscoringRefused?.metadata.get('err')[0], 'request_elements_limit_exceeded');
  t.equal(await call('SortedSetRemove', unscoring(10)), null, 'a removal of a few values passes');
  // A value whose bytes read as twice the limit of empty fields: bytes, not a message, so one field.
  const value = Buffer.from(new Array(2 * MAX_ELEMENTS).fill([0x0a, 0x00]).flat());
  const set = new _DictionarySetRequest({
    dictionary_name: Buffer.from('d'), items: [new _DictionaryFieldValuePair({ field: Buffer.from('f'), value })], ttl_milliseconds: 60_000, refresh_ttl: true,
  }).serializeBinary();
  t.equal(await call('DictionarySet', set), null, 'a value that looks like fields is not counted as them');
});

const post = (path: string, body: Uint8Array | string, key = apiKey) =>
  fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body as BodyInit });

t.test('HTTP JSON bodies: invalid UTF-8 is refused, not replaced; the shape limits apply before parsing; large ones are charged by their values', async (t) => {
  // {"tokenId":"<0xff>"}: decoded leniently it would revoke the tokenId "\ufffd".
  const invalid = new Uint8Array([...Buffer.from('{"tokenId":"'), 0xff, ...Buffer.from('"}')]);
  for (const path of ['/v1/revocations', '/v1/follows', `/v1/cache/${CACHE}/listLength`]) {
    const r = await post(path, invalid);
    t.equal(r.status, 400, path);
    t.match(await r.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: /not UTF-8/ } }, `${path}: typed refusal`);
  }
  const deep = await post(`/v1/cache/${CACHE}/listLength`, `{"list":"l","x":${'['.repeat(20)}${']'.repeat(20)}}`);
  t.equal(deep.status, 413);
  t.match(await deep.json(), { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_depth_limit_exceeded' } });
  const many = await post(`/v1/cache/${CACHE}/listConcatenateBack`, JSON.stringify({ list: 'h', values: values(LIST_MAX + 100) }));
  t.equal(many.status, 413);
  t.match(await many.json(), { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_elements_limit_exceeded' } });
  clock.advance(2000); // the client address's bucket full again (70)
  for (const list of ['h1', 'h2']) {
    const full = await post(`/v1/cache/${CACHE}/listConcatenateBack`, JSON.stringify({ list, values: values(LIST_MAX) }));
    t.equal(full.status, 200, `${list}: a concatenate of store.maxListLength values passes (32 requests)`);
    t.same(await full.json(), { length: LIST_MAX });
  }
  const overRate = await post(`/v1/cache/${CACHE}/listConcatenateBack`, JSON.stringify({ list: 'h3', values: values(LIST_MAX) }));
  t.equal(overRate.status, 429);
  t.match(await overRate.json(), { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded' } }, 'the third finds 6 of the 32 it costs');
  t.same(await (await post(`/v1/cache/${CACHE}/listLength`, JSON.stringify({ list: 'h3' }))).json(), { hit: false }, 'and was not carried out');
  const tokens = await post('/v1/tokens', JSON.stringify({ scope: 'x', expiresInSeconds: 60, pad: [[[[[[[[[[]]]]]]]]]] }));
  t.equal(tokens.status, 413, 'POST /v1/tokens too');
});

t.test('gRPC: a message of more top-level fields than server.maxRequestElements, or of groups nested deeper than server.maxRequestDepth, is refused undecoded; large ones are charged by their fields', async (t) => {
  const scs = scsCaller(t);
  const call = (message: Uint8Array) => scs('ListConcatenateBack', message);
  const concatenate = (list: string) => new momentoCache.cache_client._ListConcatenateBackRequest({
    list_name: Buffer.from(list), values: values(LIST_MAX).map((v) => Buffer.from(v)), ttl_milliseconds: 60_000,
  }).serializeBinary();
  // Field 2 (values) empty, as many as the limit, then field 1 with wire type 7, one field past
  // it: decoded, the message would fail as malformed (INTERNAL); counted, it never is.
  const empties = new Uint8Array([...new Array(MAX_ELEMENTS).fill([0x12, 0x00]).flat(), 0x0f, 0x01]);
  const refused = await call(empties);
  t.equal(refused?.code, 8, 'RESOURCE_EXHAUSTED');
  t.equal(refused?.metadata.get('err')[0], 'request_elements_limit_exceeded');
  // Nine groups (field 15, wire type 3) opened one inside another: one past the depth limit.
  const deep = await call(new Uint8Array(9).fill(0x7b));
  t.equal(deep?.code, 8, 'nested groups: RESOURCE_EXHAUSTED');
  t.equal(deep?.metadata.get('err')[0], 'request_depth_limit_exceeded');
  clock.advance(2000); // the caller address's bucket full again (70)
  t.equal(await call(concatenate('g1')), null, 'a concatenate of store.maxListLength values passes (32 requests)');
  t.equal(await call(concatenate('g2')), null, 'twice (64)');
  const overRate = await call(concatenate('g3'));
  t.equal(overRate?.metadata.get('err')[0], 'operations_rate_limit_exceeded', 'the third finds 6 of the 32 it costs');
  const c = await RawClient.open(server, token);
  t.same(await c.ok({ t: 'listLength', cache: CACHE, list: 'g3' }), { hit: false }, 'and was not carried out');
  t.same(await c.ok({ t: 'listLength', cache: CACHE, list: 'g2' }), { hit: true, length: LIST_MAX });
  c.close();
});
