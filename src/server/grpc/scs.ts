/** cache_client.Scs: scalar items, lists, dictionaries, sets and sorted sets, each mapped onto the broker's operation
 * of the same meaning. Keys, collection names and dictionary fields arrive as bytes and are
 * UTF-8 decoded (the SDKs encode strings that way); values stay bytes. Methods not here are
 * answered UNIMPLEMENTED (methods.ts says why). */
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { cache } from '@gomomento/generated-types';
import { BinaryWriter } from 'google-protobuf';
import type { IncrementResult, ItemType, SetElementsResult, SetIfCondition, SetIfHashCondition, SortedSetAggregate, SortedSetLengthResult, SortedSetOrder, Value } from '../../protocol/index.js';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { batchStream, cacheHeader, dispatch, toBytes, unary, utf8, type GrpcDeps } from './calls.js';
import { invalidArgument } from '../../core/errors.js';

const pb = cache.cache_client;

/** A reply whose one field (1) is the int64 sum: the generated classes write it from a JS number,
 * the nearest double past ±2^53, so there the exact decimal text (IncrementResult.exact) is
 * written instead. Increment and DictionaryIncrement. */
function int64Reply<R extends { serialize(): Uint8Array }>(Res: new (init: { value: number }) => R, { value, exact }: IncrementResult): R {
  const reply = new Res({ value });
  if (exact !== undefined) {
    Object.defineProperty(reply, 'serialize', {
      value: () => { const writer = new BinaryWriter(); writer.writeInt64String(1, exact); return writer.getResultBuffer(); },
    });
  }
  return reply;
}

/** Momento's CollectionTtl on the wire: ttl_milliseconds (0 = the server default) + refresh_ttl. */
function collectionTtl(request: { ttl_milliseconds: number; refresh_ttl: boolean }): { ttlMs?: number; refreshTtl: boolean } {
  return { ...(request.ttl_milliseconds > 0 ? { ttlMs: request.ttl_milliseconds } : {}), refreshTtl: request.refresh_ttl };
}

/** Index oneofs: unbounded or a number (negatives count from the end). */
function range(request: { has_inclusive_start: boolean; inclusive_start: number; has_exclusive_end: boolean; exclusive_end: number }): { startIndex?: number; endIndex?: number } {
  return {
    ...(request.has_inclusive_start ? { startIndex: request.inclusive_start } : {}),
    ...(request.has_exclusive_end ? { endIndex: request.exclusive_end } : {}),
  };
}

/** 0 on the wire means "no truncation". */
const truncate = (size: number): number | undefined => (size > 0 ? size : undefined);

const values = (list: Value[]): Uint8Array[] => list.map(toBytes);

/** SetIf's condition oneof as our setIf fields (condition + compare). */
function setIfCondition(r: InstanceType<typeof pb._SetIfRequest>): { condition: SetIfCondition; compare?: Uint8Array } {
  switch (r.condition) {
    case 'absent': return { condition: 'absent' };
    case 'present': return { condition: 'present' };
    case 'equal': return { condition: 'equal', compare: r.equal.value_to_check };
    case 'not_equal': return { condition: 'notEqual', compare: r.not_equal.value_to_check };
    case 'present_and_not_equal': return { condition: 'presentAndNotEqual', compare: r.present_and_not_equal.value_to_check };
    case 'absent_or_equal': return { condition: 'absentOrEqual', compare: r.absent_or_equal.value_to_check };
    default: throw invalidArgument('SetIf needs a condition');
  }
}

/** SetIfHash's condition oneof as our setIfHash fields (condition + hash). */
function setIfHashCondition(r: InstanceType<typeof pb._SetIfHashRequest>): { condition: SetIfHashCondition; hash?: Uint8Array } {
  switch (r.condition) {
    case 'unconditional': return { condition: 'unconditional' };
    case 'present_and_hash_equal': return { condition: 'presentAndHashEqual', hash: r.present_and_hash_equal.hash_to_check };
    case 'present_and_not_hash_equal': return { condition: 'presentAndNotHashEqual', hash: r.present_and_not_hash_equal.hash_to_check };
    case 'absent_or_hash_equal': return { condition: 'absentOrHashEqual', hash: r.absent_or_hash_equal.hash_to_check };
    case 'absent_or_not_hash_equal': return { condition: 'absentOrNotHashEqual', hash: r.absent_or_not_hash_equal.hash_to_check };
    default: throw invalidArgument('SetIfHash needs a condition');
  }
}

/** Our item kinds as Momento's ItemType. */
const ITEM_TYPES: Record<ItemType, number> = {
  scalar: pb._ItemGetTypeResponse.ItemType.SCALAR,
  list: pb._ItemGetTypeResponse.ItemType.LIST,
  dictionary: pb._ItemGetTypeResponse.ItemType.DICTIONARY,
  set: pb._ItemGetTypeResponse.ItemType.SET,
  sortedSet: pb._ItemGetTypeResponse.ItemType.SORTED_SET,
};

/** The reply of SetFetch, SetSample or SetPop: the elements found, or Missing. */
interface ElementsResponse<R, F, M> {
  new (init: { found: F; missing?: undefined } | { found?: undefined; missing: M }): R;
  _Found: new (init: { elements: Uint8Array[] }) => F;
  _Missing: new () => M;
}
function elementsReply<R, F, M>(Res: ElementsResponse<R, F, M>, result: SetElementsResult): R {
  return result.hit ? new Res({ found: new Res._Found({ elements: result.elements }) }) : new Res({ missing: new Res._Missing() });
}

/** Momento's sorted-set order (the same numbers in every request that has one). */
const order = (o: number): { order: SortedSetOrder } => ({ order: o === pb._SortedSetFetchRequest.Order.DESCENDING ? 'descending' : 'ascending' });

const AGGREGATES: Record<number, SortedSetAggregate> = {
  [pb._SortedSetUnionStoreRequest.AggregateFunction.SUM]: 'sum',
  [pb._SortedSetUnionStoreRequest.AggregateFunction.MIN]: 'min',
  [pb._SortedSetUnionStoreRequest.AggregateFunction.MAX]: 'max',
};

/** SortedSetFetch's by_score bounds (a score with its exclusive flag, or unbounded) as our fields. */
function fetchScoreBounds(r: InstanceType<typeof pb._SortedSetFetchRequest._ByScore>): { minScore?: number; exclusiveMin?: boolean; maxScore?: number; exclusiveMax?: boolean } {
  return {
    ...(r.has_min_score ? { minScore: r.min_score.score, exclusiveMin: r.min_score.exclusive } : {}),
    ...(r.has_max_score ? { maxScore: r.max_score.score, exclusiveMax: r.max_score.exclusive } : {}),
  };
}

/** SortedSetLengthByScore's bounds (inclusive_, exclusive_ or unbounded_ min and max) as our fields. */
function lengthScoreBounds(r: InstanceType<typeof pb._SortedSetLengthByScoreRequest>): { minScore?: number; exclusiveMin?: boolean; maxScore?: number; exclusiveMax?: boolean } {
  return {
    ...(r.has_inclusive_min ? { minScore: r.inclusive_min } : r.has_exclusive_min ? { minScore: r.exclusive_min, exclusiveMin: true } : {}),
    ...(r.has_inclusive_max ? { maxScore: r.inclusive_max } : r.has_exclusive_max ? { maxScore: r.exclusive_max, exclusiveMax: true } : {}),
  };
}

/** The reply of SortedSetLength or SortedSetLengthByScore: the length, or Missing. */
interface LengthResponse<R, F, M> {
  new (init: { found: F; missing?: undefined } | { found?: undefined; missing: M }): R;
  _Found: new (init: { length: number }) => F;
  _Missing: new () => M;
}
function lengthReply<R, F, M>(Res: LengthResponse<R, F, M>, result: SortedSetLengthResult): R {
  return result.hit ? new Res({ found: new Res._Found({ length: result.length }) }) : new Res({ missing: new Res._Missing() });
}

/** ttl_milliseconds 0 = the server default, as for Set. */
const ttlOf = (ms: number): { ttlMs?: number } => (ms > 0 ? { ttlMs: ms } : {});

export function scsService(deps: GrpcDeps): UntypedServiceImplementation {
  type Call<Req> = Parameters<typeof unary<Req, unknown>>[1];
  type Callback = Parameters<typeof unary<unknown, unknown>>[2];
  /** One Scs method: the cache from metadata, the rest from the body. */
  const method = <Req, Res>(work: (session: Parameters<Parameters<typeof unary>[3]>[0], request: Req, cacheName: string) => Promise<Res>) =>
    (call: Call<Req>, callback: Callback) => unary(deps, call, callback, (session, request) => work(session, request, cacheHeader(call.metadata)));

  return {
    Get: method(async (session, r: InstanceType<typeof pb._GetRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'get', cache: c, key: utf8(r.cache_key) });
      return result.hit
        ? new pb._GetResponse({ result: pb.ECacheResult.Hit, cache_body: toBytes(result.value) })
        : new pb._GetResponse({ result: pb.ECacheResult.Miss });
    }),

    Set: method(async (session, r: InstanceType<typeof pb._SetRequest>, c) => {
      await dispatch(deps, session, { t: 'set', cache: c, key: utf8(r.cache_key), value: r.cache_body, ...(r.ttl_milliseconds > 0 ? { ttlMs: r.ttl_milliseconds } : {}) });
      return new pb._SetResponse({ result: pb.ECacheResult.Ok });
    }),

    // Batches are one Get / Set per item, answered in order on the stream. Each item is its own
    // request (permission check and rate limit); any error ends the whole batch with its status.
    GetBatch: (call: ServerWritableStream<InstanceType<typeof pb._GetBatchRequest>, unknown>) => batchStream(deps, call, async (session, r, write) => {
      const c = cacheHeader(call.metadata);
      for (const item of r.items) {
        const result = await dispatch(deps, session, { t: 'get', cache: c, key: utf8(item.cache_key) });
        const body = result.hit ? toBytes(result.value) : undefined;
        await write(body
          ? new pb._GetResponse({ result: pb.ECacheResult.Hit, cache_body: body })
          : new pb._GetResponse({ result: pb.ECacheResult.Miss }), body?.byteLength ?? 0);
      }
    }),

    SetBatch: (call: ServerWritableStream<InstanceType<typeof pb._SetBatchRequest>, unknown>) => batchStream(deps, call, async (session, r, write) => {
      const c = cacheHeader(call.metadata);
      for (const item of r.items) {
        await dispatch(deps, session, { t: 'set', cache: c, key: utf8(item.cache_key), value: item.cache_body, ...(item.ttl_milliseconds > 0 ? { ttlMs: item.ttl_milliseconds } : {}) });
        await write(new pb._SetResponse({ result: pb.ECacheResult.Ok }), 0);
      }
    }),

    // The reply's int64 is exact over the whole range (the official JS SDKs read it as a number).
    Increment: method(async (session, r: InstanceType<typeof pb._IncrementRequest>, c) => {
      return int64Reply(pb._IncrementResponse, await dispatch(deps, session, { t: 'increment', cache: c, key: utf8(r.cache_key), amount: r.amount, ...ttlOf(r.ttl_milliseconds) }));
    }),

    // The JS SDKs send every setIf* (setIfNotExists too) as SetIf; other SDKs still use SetIfNotExists.
    SetIf: method(async (session, r: InstanceType<typeof pb._SetIfRequest>, c) => {
      const { stored } = await dispatch(deps, session, { t: 'setIf', cache: c, key: utf8(r.cache_key), value: r.cache_body, ...setIfCondition(r), ...ttlOf(r.ttl_milliseconds) });
      return stored ? new pb._SetIfResponse({ stored: new pb._SetIfResponse._Stored() }) : new pb._SetIfResponse({ not_stored: new pb._SetIfResponse._NotStored() });
    }),

    // The hash travels as the bytes of its text (docs/protocol.md, getWithHash).
    GetWithHash: method(async (session, r: InstanceType<typeof pb._GetWithHashRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'getWithHash', cache: c, key: utf8(r.cache_key) });
      return result.hit
        ? new pb._GetWithHashResponse({ found: new pb._GetWithHashResponse._Found({ value: toBytes(result.value), hash: toBytes(result.hash) }) })
        : new pb._GetWithHashResponse({ missing: new pb._GetWithHashResponse._Missing() });
    }),

    // The JS SDK's setWithHash and setIf*Hash* all send SetIfHash.
    SetIfHash: method(async (session, r: InstanceType<typeof pb._SetIfHashRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'setIfHash', cache: c, key: utf8(r.cache_key), value: r.cache_body, ...setIfHashCondition(r), ...ttlOf(r.ttl_milliseconds) });
      return result.stored
        ? new pb._SetIfHashResponse({ stored: new pb._SetIfHashResponse._Stored({ new_hash: toBytes(result.hash) }) })
        : new pb._SetIfHashResponse({ not_stored: new pb._SetIfHashResponse._NotStored() });
    }),

    SetIfNotExists: method(async (session, r: InstanceType<typeof pb._SetIfNotExistsRequest>, c) => {
      const { stored } = await dispatch(deps, session, { t: 'setIf', cache: c, key: utf8(r.cache_key), value: r.cache_body, condition: 'absent', ...ttlOf(r.ttl_milliseconds) });
      return stored
        ? new pb._SetIfNotExistsResponse({ stored: new pb._SetIfNotExistsResponse._Stored() })
        : new pb._SetIfNotExistsResponse({ not_stored: new pb._SetIfNotExistsResponse._NotStored() });
    }),

    Delete: method(async (session, r: InstanceType<typeof pb._DeleteRequest>, c) => {
      await dispatch(deps, session, { t: 'delete', cache: c, key: utf8(r.cache_key) });
      return new pb._DeleteResponse();
    }),

    // Existence is what itemGetTtl reports (any item, scalar or list, answers a TTL). Each key is
    // its own read: the same permission check per key and one request of the rate limit each.
    KeysExist: method(async (session, r: InstanceType<typeof pb._KeysExistRequest>, c) => {
      const exists: boolean[] = [];
      for (const key of r.cache_keys) exists.push((await dispatch(deps, session, { t: 'itemGetTtl', cache: c, key: utf8(key) })).hit);
      return new pb._KeysExistResponse({ exists });
    }),

    ItemGetTtl: method(async (session, r: InstanceType<typeof pb._ItemGetTtlRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'itemGetTtl', cache: c, key: utf8(r.cache_key) });
      return result.hit
        ? new pb._ItemGetTtlResponse({ found: new pb._ItemGetTtlResponse._Found({ remaining_ttl_millis: result.remainingTtlMs }) })
        : new pb._ItemGetTtlResponse({ missing: new pb._ItemGetTtlResponse._Missing() });
    }),

    ItemGetType: method(async (session, r: InstanceType<typeof pb._ItemGetTypeRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'itemGetType', cache: c, key: utf8(r.cache_key) });
      if (!result.hit) return new pb._ItemGetTypeResponse({ missing: new pb._ItemGetTypeResponse._Missing() });
      return new pb._ItemGetTypeResponse({ found: new pb._ItemGetTypeResponse._Found({ item_type: ITEM_TYPES[result.type] }) });
    }),

    // Momento's updateTtl (overwrite) is our updateTtl; increaseTtl / decreaseTtl ("only if longer
    // / shorter", compared and set in one step) are ours of the same names.
    UpdateTtl: method(async (session, r: InstanceType<typeof pb._UpdateTtlRequest>, c) => {
      const Res = pb._UpdateTtlResponse;
      const key = utf8(r.cache_key);
      switch (r.update_ttl) {
        case 'overwrite_to_milliseconds': {
          const { hit } = await dispatch(deps, session, { t: 'updateTtl', cache: c, key, ttlMs: r.overwrite_to_milliseconds });
          return hit ? new Res({ set: new Res._Set() }) : new Res({ missing: new Res._Missing() });
        }
        case 'increase_to_milliseconds':
        case 'decrease_to_milliseconds': {
          const t = r.update_ttl === 'increase_to_milliseconds' ? 'increaseTtl' as const : 'decreaseTtl' as const;
          const ttlMs = t === 'increaseTtl' ? r.increase_to_milliseconds : r.decrease_to_milliseconds;
          const result = await dispatch(deps, session, { t, cache: c, key, ttlMs });
          if (!result.hit) return new Res({ missing: new Res._Missing() });
          return result.set ? new Res({ set: new Res._Set() }) : new Res({ not_set: new Res._NotSet() });
        }
        default: throw invalidArgument('UpdateTtl needs a TTL');
      }
    }),

    ListPushBack: method(async (session, r: InstanceType<typeof pb._ListPushBackRequest>, c) => {
      const { length } = await dispatch(deps, session, { t: 'listPushBack', cache: c, list: utf8(r.list_name), value: r.value, ...collectionTtl(r), truncateFrontToSize: truncate(r.truncate_front_to_size) });
      return new pb._ListPushBackResponse({ list_length: length });
    }),

    ListPushFront: method(async (session, r: InstanceType<typeof pb._ListPushFrontRequest>, c) => {
      const { length } = await dispatch(deps, session, { t: 'listPushFront', cache: c, list: utf8(r.list_name), value: r.value, ...collectionTtl(r), truncateBackToSize: truncate(r.truncate_back_to_size) });
      return new pb._ListPushFrontResponse({ list_length: length });
    }),

    ListConcatenateBack: method(async (session, r: InstanceType<typeof pb._ListConcatenateBackRequest>, c) => {
      const { length } = await dispatch(deps, session, { t: 'listConcatenateBack', cache: c, list: utf8(r.list_name), values: r.values, ...collectionTtl(r), truncateFrontToSize: truncate(r.truncate_front_to_size) });
      return new pb._ListConcatenateBackResponse({ list_length: length });
    }),

    ListConcatenateFront: method(async (session, r: InstanceType<typeof pb._ListConcatenateFrontRequest>, c) => {
      const { length } = await dispatch(deps, session, { t: 'listConcatenateFront', cache: c, list: utf8(r.list_name), values: r.values, ...collectionTtl(r), truncateBackToSize: truncate(r.truncate_back_to_size) });
      return new pb._ListConcatenateFrontResponse({ list_length: length });
    }),

    ListFetch: method(async (session, r: InstanceType<typeof pb._ListFetchRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'listFetch', cache: c, list: utf8(r.list_name), ...range(r) });
      if (!result.hit) return new pb._ListFetchResponse({ missing: new pb._ListFetchResponse._Missing() });
      const list = 'values' in result ? result.values : result.items.map((i) => i.value);
      return new pb._ListFetchResponse({ found: new pb._ListFetchResponse._Found({ values: values(list) }) });
    }),

    ListRetain: method(async (session, r: InstanceType<typeof pb._ListRetainRequest>, c) => {
      await dispatch(deps, session, { t: 'listRetain', cache: c, list: utf8(r.list_name), ...range(r), ...collectionTtl(r) });
      // The SDKs answer Success whatever the body holds; our store does not report the new length.
      return new pb._ListRetainResponse();
    }),

    // The value is a oneof: unset, it would read as the empty value and remove every empty element.
    ListRemove: method(async (session, r: InstanceType<typeof pb._ListRemoveRequest>, c) => {
      if (r.remove === 'none') throw invalidArgument('ListRemove needs all_elements_with_value (the value to remove)');
      await dispatch(deps, session, { t: 'listRemoveValue', cache: c, list: utf8(r.list_name), value: r.all_elements_with_value });
      return new pb._ListRemoveResponse();
    }),

    ListPopFront: method(async (session, r: InstanceType<typeof pb._ListPopFrontRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'listPopFront', cache: c, list: utf8(r.list_name) });
      return result.hit
        ? new pb._ListPopFrontResponse({ found: new pb._ListPopFrontResponse._Found({ front: toBytes(result.value), list_length: result.length }) })
        : new pb._ListPopFrontResponse({ missing: new pb._ListPopFrontResponse._Missing() });
    }),

    ListPopBack: method(async (session, r: InstanceType<typeof pb._ListPopBackRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'listPopBack', cache: c, list: utf8(r.list_name) });
      return result.hit
        ? new pb._ListPopBackResponse({ found: new pb._ListPopBackResponse._Found({ back: toBytes(result.value), list_length: result.length }) })
        : new pb._ListPopBackResponse({ missing: new pb._ListPopBackResponse._Missing() });
    }),

    ListErase: method(async (session, r: InstanceType<typeof pb._ListEraseRequest>, c) => {
      if (r.erase === 'none') throw invalidArgument('ListErase needs `all` or `some` ranges');
      const ranges = r.erase === 'some' ? { ranges: r.some.ranges.map((range) => ({ beginIndex: range.begin_index, count: range.count })) } : {};
      const result = await dispatch(deps, session, { t: 'listErase', cache: c, list: utf8(r.list_name), ...ranges });
      return result.hit
        ? new pb._ListEraseResponse({ found: new pb._ListEraseResponse._Found({ list_length: result.length }) })
        : new pb._ListEraseResponse({ missing: new pb._ListEraseResponse._Missing() });
    }),

    DictionarySet: method(async (session, r: InstanceType<typeof pb._DictionarySetRequest>, c) => {
      const items = r.items.map((item) => ({ field: utf8(item.field), value: item.value }));
      await dispatch(deps, session, { t: 'dictionarySetFields', cache: c, dictionary: utf8(r.dictionary_name), items, ...collectionTtl(r) });
      return new pb._DictionarySetResponse();
    }),

    DictionaryGet: method(async (session, r: InstanceType<typeof pb._DictionaryGetRequest>, c) => {
      const Res = pb._DictionaryGetResponse;
      const result = await dispatch(deps, session, { t: 'dictionaryGetFields', cache: c, dictionary: utf8(r.dictionary_name), fields: r.fields.map(utf8) });
      if (!result.hit) return new Res({ missing: new Res._Missing() });
      const items = result.values.map((value) => (value === null
        ? new Res._DictionaryGetResponsePart({ result: pb.ECacheResult.Miss })
        : new Res._DictionaryGetResponsePart({ result: pb.ECacheResult.Hit, cache_body: toBytes(value) })));
      return new Res({ found: new Res._Found({ items }) });
    }),

    DictionaryFetch: method(async (session, r: InstanceType<typeof pb._DictionaryFetchRequest>, c) => {
      const Res = pb._DictionaryFetchResponse;
      const result = await dispatch(deps, session, { t: 'dictionaryFetch', cache: c, dictionary: utf8(r.dictionary_name) });
      if (!result.hit) return new Res({ missing: new Res._Missing() });
      const items = result.items.map(({ field, value }) => new pb._DictionaryFieldValuePair({ field: toBytes(field), value: toBytes(value) }));
      return new Res({ found: new Res._Found({ items }) });
    }),

    DictionaryIncrement: method(async (session, r: InstanceType<typeof pb._DictionaryIncrementRequest>, c) => {
      return int64Reply(pb._DictionaryIncrementResponse, await dispatch(deps, session, { t: 'dictionaryIncrement', cache: c, dictionary: utf8(r.dictionary_name), field: utf8(r.field), amount: r.amount, ...collectionTtl(r) }));
    }),

    // `some` removes the fields named; `all` the whole dictionary (our request without fields).
    DictionaryDelete: method(async (session, r: InstanceType<typeof pb._DictionaryDeleteRequest>, c) => {
      if (r.delete === 'none') throw invalidArgument('DictionaryDelete needs `some` fields or `all`');
      const fields = r.delete === 'some' ? { fields: r.some.fields.map(utf8) } : {};
      await dispatch(deps, session, { t: 'dictionaryRemoveFields', cache: c, dictionary: utf8(r.dictionary_name), ...fields });
      return new pb._DictionaryDeleteResponse();
    }),

    DictionaryLength: method(async (session, r: InstanceType<typeof pb._DictionaryLengthRequest>, c) => {
      const Res = pb._DictionaryLengthResponse;
      const result = await dispatch(deps, session, { t: 'dictionaryLength', cache: c, dictionary: utf8(r.dictionary_name) });
      return result.hit ? new Res({ found: new Res._Found({ length: result.length }) }) : new Res({ missing: new Res._Missing() });
    }),

    SetUnion: method(async (session, r: InstanceType<typeof pb._SetUnionRequest>, c) => {
      await dispatch(deps, session, { t: 'setAddElements', cache: c, set: utf8(r.set_name), elements: r.elements, ...collectionTtl(r) });
      return new pb._SetUnionResponse();
    }),

    // The SDKs send a subtrahend: `set` removes its elements, `identity` the whole set (our request
    // without elements). The minuend form (the set replaced by minuend minus it) is not taken.
    SetDifference: method(async (session, r: InstanceType<typeof pb._SetDifferenceRequest>, c) => {
      if (r.difference !== 'subtrahend' || r.subtrahend.subtrahend_set === 'none') {
        throw invalidArgument('SetDifference needs a subtrahend (`set` elements or `identity`); Tidings does not take a minuend');
      }
      const elements = r.subtrahend.subtrahend_set === 'set' ? { elements: r.subtrahend.set.elements } : {};
      await dispatch(deps, session, { t: 'setRemoveElements', cache: c, set: utf8(r.set_name), ...elements });
      return new pb._SetDifferenceResponse({ found: new pb._SetDifferenceResponse._Found() });
    }),

    SetFetch: method(async (session, r: InstanceType<typeof pb._SetFetchRequest>, c) =>
      elementsReply(pb._SetFetchResponse, await dispatch(deps, session, { t: 'setFetch', cache: c, set: utf8(r.set_name) }))),

    SetSample: method(async (session, r: InstanceType<typeof pb._SetSampleRequest>, c) =>
      elementsReply(pb._SetSampleResponse, await dispatch(deps, session, { t: 'setSample', cache: c, set: utf8(r.set_name), limit: r.limit }))),

    SetPop: method(async (session, r: InstanceType<typeof pb._SetPopRequest>, c) =>
      elementsReply(pb._SetPopResponse, await dispatch(deps, session, { t: 'setPop', cache: c, set: utf8(r.set_name), count: r.count }))),

    SetContains: method(async (session, r: InstanceType<typeof pb._SetContainsRequest>, c) => {
      const Res = pb._SetContainsResponse;
      const result = await dispatch(deps, session, { t: 'setContainsElements', cache: c, set: utf8(r.set_name), elements: r.elements });
      return result.hit ? new Res({ found: new Res._Found({ contains: result.contains }) }) : new Res({ missing: new Res._Missing() });
    }),

    SetLength: method(async (session, r: InstanceType<typeof pb._SetLengthRequest>, c) => {
      const Res = pb._SetLengthResponse;
      const result = await dispatch(deps, session, { t: 'setLength', cache: c, set: utf8(r.set_name) });
      return result.hit ? new Res({ found: new Res._Found({ length: result.length }) }) : new Res({ missing: new Res._Missing() });
    }),

    SortedSetPut: method(async (session, r: InstanceType<typeof pb._SortedSetPutRequest>, c) => {
      const elements = r.elements.map((e) => ({ value: e.value, score: e.score }));
      await dispatch(deps, session, { t: 'sortedSetPutElements', cache: c, sortedSet: utf8(r.set_name), elements, ...collectionTtl(r) });
      return new pb._SortedSetPutResponse();
    }),

    // by_index: ranks [inclusive_start_index, exclusive_end_index), each unbounded when absent;
    // by_score: bounds with their exclusive flags, offset, and count (negative: all, as the SDKs send it).
    SortedSetFetch: method(async (session, r: InstanceType<typeof pb._SortedSetFetchRequest>, c) => {
      const Res = pb._SortedSetFetchResponse;
      const sortedSet = utf8(r.set_name);
      let result;
      if (r.range === 'by_index') {
        const ranks = { ...(r.by_index.has_inclusive_start_index ? { startRank: r.by_index.inclusive_start_index } : {}), ...(r.by_index.has_exclusive_end_index ? { endRank: r.by_index.exclusive_end_index } : {}) };
        result = await dispatch(deps, session, { t: 'sortedSetFetchByRank', cache: c, sortedSet, ...ranks, ...order(r.order) });
      } else if (r.range === 'by_score') {
        const s = r.by_score;
        result = await dispatch(deps, session, { t: 'sortedSetFetchByScore', cache: c, sortedSet, ...fetchScoreBounds(s), offset: s.offset, ...(s.count >= 0 ? { count: s.count } : {}), ...order(r.order) });
      } else {
        throw invalidArgument('SortedSetFetch needs a range (`by_index` or `by_score`)');
      }
      if (!result.hit) return new Res({ missing: new Res._Missing() });
      const found = r.with_scores
        ? new Res._Found({ values_with_scores: new Res._Found._ValuesWithScores({ elements: result.elements.map((e) => new pb._SortedSetElement(e)) }) })
        : new Res._Found({ values: new Res._Found._Values({ values: result.elements.map((e) => e.value) }) });
      return new Res({ found });
    }),

    SortedSetGetScore: method(async (session, r: InstanceType<typeof pb._SortedSetGetScoreRequest>, c) => {
      const Res = pb._SortedSetGetScoreResponse;
      const result = await dispatch(deps, session, { t: 'sortedSetGetScores', cache: c, sortedSet: utf8(r.set_name), values: r.values });
      if (!result.hit) return new Res({ missing: new Res._SortedSetMissing() });
      const elements = result.scores.map((score) => (score === null
        ? new Res._SortedSetGetScoreResponsePart({ result: pb.ECacheResult.Miss })
        : new Res._SortedSetGetScoreResponsePart({ result: pb.ECacheResult.Hit, score })));
      return new Res({ found: new Res._SortedSetFound({ elements }) });
    }),

    SortedSetGetRank: method(async (session, r: InstanceType<typeof pb._SortedSetGetRankRequest>, c) => {
      const Res = pb._SortedSetGetRankResponse;
      const result = await dispatch(deps, session, { t: 'sortedSetGetRank', cache: c, sortedSet: utf8(r.set_name), value: r.value, ...order(r.order) });
      if (!result.hit) return new Res({ missing: new Res._SortedSetMissing() });
      return new Res({ element_rank: result.rank === null
        ? new Res._RankResponsePart({ result: pb.ECacheResult.Miss })
        : new Res._RankResponsePart({ result: pb.ECacheResult.Hit, rank: result.rank }) });
    }),

    SortedSetIncrement: method(async (session, r: InstanceType<typeof pb._SortedSetIncrementRequest>, c) => {
      const { score } = await dispatch(deps, session, { t: 'sortedSetIncrementScore', cache: c, sortedSet: utf8(r.set_name), value: r.value, amount: r.amount, ...collectionTtl(r) });
      return new pb._SortedSetIncrementResponse({ score });
    }),

    // `some` removes the values named; `all` the whole sorted set (our request without values).
    SortedSetRemove: method(async (session, r: InstanceType<typeof pb._SortedSetRemoveRequest>, c) => {
      if (r.remove_elements === 'none') throw invalidArgument('SortedSetRemove needs `some` values or `all`');
      const values = r.remove_elements === 'some' ? { values: r.some.values } : {};
      await dispatch(deps, session, { t: 'sortedSetRemoveElements', cache: c, sortedSet: utf8(r.set_name), ...values });
      return new pb._SortedSetRemoveResponse();
    }),

    SortedSetLength: method(async (session, r: InstanceType<typeof pb._SortedSetLengthRequest>, c) =>
      lengthReply(pb._SortedSetLengthResponse, await dispatch(deps, session, { t: 'sortedSetLength', cache: c, sortedSet: utf8(r.set_name) }))),

    SortedSetLengthByScore: method(async (session, r: InstanceType<typeof pb._SortedSetLengthByScoreRequest>, c) =>
      lengthReply(pb._SortedSetLengthByScoreResponse, await dispatch(deps, session, { t: 'sortedSetLengthByScore', cache: c, sortedSet: utf8(r.set_name), ...lengthScoreBounds(r) }))),

    SortedSetUnionStore: method(async (session, r: InstanceType<typeof pb._SortedSetUnionStoreRequest>, c) => {
      const aggregate = AGGREGATES[r.aggregate];
      if (aggregate === undefined) throw invalidArgument(`SortedSetUnionStore: unknown aggregate ${r.aggregate}`);
      const sources = r.sources.map((source) => ({ sortedSet: utf8(source.set_name), weight: source.weight }));
      const { length } = await dispatch(deps, session, { t: 'sortedSetUnionStore', cache: c, sortedSet: utf8(r.set_name), sources, aggregate, ...ttlOf(r.ttl_milliseconds) });
      return new pb._SortedSetUnionStoreResponse({ length });
    }),

    ListLength: method(async (session, r: InstanceType<typeof pb._ListLengthRequest>, c) => {
      const result = await dispatch(deps, session, { t: 'listLength', cache: c, list: utf8(r.list_name) });
      return result.hit
        ? new pb._ListLengthResponse({ found: new pb._ListLengthResponse._Found({ length: result.length }) })
        : new pb._ListLengthResponse({ missing: new pb._ListLengthResponse._Missing() });
    }),
  };
}
