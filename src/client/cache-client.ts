/** Lists, dictionaries, sets, sorted sets and scalar items, named and shaped like Momento's CacheClient. TTLs are seconds in the
 * API (as Momento's) and milliseconds on the wire. */
import type { DictionaryItem, ListEraseRange, ListItem, OperationName, ResultOf, SetIfCondition, SetIfHashCondition, Value } from '../protocol/index.js';
import { clientLink, type ClientOptions } from './client-options.js';
import type { Connection, IdempotentWriteOptions, OutgoingFrame, RequestOptions } from './connection.js';
import { asClientError, type TidingsClientError } from './errors.js';
import {
  ChangeTtl, ConditionalWrite, DictionaryFetch, DictionaryGetField, DictionaryGetFields, GenericWrite, HashedRead, HashedWrite, Increment, ItemGetTtl, ItemGetType, ItemType, ListErase,
  ListFetch, ListLength, ListPop, ListWrite, PubAppend, SetContainsElement, SetContainsElements, SetElements, SortedSetAggregate, SortedSetFetch, SortedSetGetRank,
  SortedSetGetScores, SortedSetIncrementScore, SortedSetOrder, SortedSetScore, SortedSetUnionStore, UpdateTtl, ValueRead, orThrow,
} from './responses.js';

/** Momento's CollectionTtl: the whole collection's TTL, refreshed on each write unless told not to. */
export class CollectionTtl {
  constructor(private readonly seconds: number | null = null, private readonly refresh = true) {}
  static fromCacheTtl(): CollectionTtl { return new CollectionTtl(null, true); }
  static of(seconds: number): CollectionTtl { return new CollectionTtl(seconds, true); }
  static refreshTtlIfProvided(seconds?: number): CollectionTtl { return new CollectionTtl(seconds ?? null, seconds !== undefined); }
  withRefreshTtlOnUpdates(): CollectionTtl { return new CollectionTtl(this.seconds, true); }
  withNoRefreshTtlOnUpdates(): CollectionTtl { return new CollectionTtl(this.seconds, false); }
  ttlSeconds(): number | null { return this.seconds; }
  ttlMilliseconds(): number | null { return this.seconds === null ? null : this.seconds * 1000; }
  refreshTtl(): boolean { return this.refresh; }
  /** @internal wire fields; `defaultSeconds` stands in for "the cache's TTL" when the client has one. */
  fields(defaultSeconds?: number): { ttlMs?: number; refreshTtl: boolean } {
    const seconds = this.seconds ?? defaultSeconds;
    return seconds === undefined ? { refreshTtl: this.refresh } : { ttlMs: Math.round(seconds * 1000), refreshTtl: this.refresh };
  }
}

export interface ListWriteOptions extends RequestOptions { ttl?: CollectionTtl }
export interface ListRangeOptions extends RequestOptions { startIndex?: number; endIndex?: number }
export interface SortedSetFetchByRankOptions extends RequestOptions { startRank?: number; endRank?: number; order?: SortedSetOrder }
export interface SortedSetFetchByScoreOptions extends RequestOptions { minScore?: number; maxScore?: number; order?: SortedSetOrder; offset?: number; count?: number }
export interface SortedSetOrderOptions extends RequestOptions { order?: SortedSetOrder }
export interface SortedSetScoreOptions extends RequestOptions { minScore?: number; maxScore?: number }
export interface SortedSetUnionStoreOptions extends ListWriteOptions { aggregate?: SortedSetAggregate }
/** A source of sortedSetUnionStore: a sorted set of the same cache and its weight. */
export interface SortedSetSource { sortedSetName: string; weight: number }
/** Momento's scalar write options: `ttl` in seconds (default the client's, else the server's). */
export interface ScalarWriteOptions extends RequestOptions { ttl?: number }

/** `{ connection }` to share one (see connect()), or connection options to open its own.
 * `defaultTtlSeconds` (Momento's required client TTL) is optional here: without it, writes that
 * name no TTL get the server's `store.defaultTtlSec`. */
export type CacheClientOptions = ClientOptions & { defaultTtlSeconds?: number };

export class CacheClient {
  readonly connection: Connection;
  private readonly owned: boolean;
  private readonly throwOnErrors: boolean;
  private readonly defaultTtlSeconds: number | undefined;

  constructor(options: CacheClientOptions) {
    const link = clientLink(options);
    this.connection = link.connection;
    this.owned = link.owned;
    this.throwOnErrors = link.throwOnErrors;
    this.defaultTtlSeconds = options.defaultTtlSeconds;
    if (this.defaultTtlSeconds !== undefined && !(this.defaultTtlSeconds > 0)) throw new TypeError('defaultTtlSeconds must be a positive number');
  }

  /** Momento's async factory; the connection opens lazily, so this is the constructor. */
  static async create(options: CacheClientOptions): Promise<CacheClient> {
    return new CacheClient(options);
  }

  /** Closes the connection when this client opened it (a shared one stays open). */
  close(): void {
    if (this.owned) this.connection.close();
  }

  listPushBack(cacheName: string, listName: string, value: Value, options: ListWriteOptions & IdempotentWriteOptions & { truncateFrontToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listPushBack', cache: cacheName, list: listName, value, ...opt('truncateFrontToSize', options.truncateFrontToSize) }, options);
  }
  listPushFront(cacheName: string, listName: string, value: Value, options: ListWriteOptions & IdempotentWriteOptions & { truncateBackToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listPushFront', cache: cacheName, list: listName, value, ...opt('truncateBackToSize', options.truncateBackToSize) }, options);
  }
  listConcatenateBack(cacheName: string, listName: string, values: Value[], options: ListWriteOptions & IdempotentWriteOptions & { truncateFrontToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listConcatenateBack', cache: cacheName, list: listName, values, ...opt('truncateFrontToSize', options.truncateFrontToSize) }, options);
  }
  listConcatenateFront(cacheName: string, listName: string, values: Value[], options: ListWriteOptions & IdempotentWriteOptions & { truncateBackToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listConcatenateFront', cache: cacheName, list: listName, values, ...opt('truncateBackToSize', options.truncateBackToSize) }, options);
  }

  /** `withMeta` adds, per element, the (page, seq, tokenId, ts) of the topic item it was published as
   * (pubAppend / moderated chats): subscribe with `resumeFrom` the last one to join without a gap. */
  listFetch(cacheName: string, listName: string, options: ListRangeOptions & { withMeta?: boolean } = {}): Promise<ListFetch.Response> {
    const frame = { t: 'listFetch' as const, cache: cacheName, list: listName, ...range(options), ...(options.withMeta ? { withMeta: true } : {}) };
    return this.call(frame, options, (r) => {
      if (!r.hit) return new ListFetch.Miss();
      if ('items' in r) return new ListFetch.Hit(r.items.map((i: ListItem) => i.value), r.items);
      return new ListFetch.Hit(r.values, undefined);
    }, (e) => new ListFetch.Error(e));
  }

  listRetain(cacheName: string, listName: string, options: ListRangeOptions & { ttl?: CollectionTtl } = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'listRetain', cache: cacheName, list: listName, ...range(options), ...this.collectionTtl(options.ttl) }, options);
  }
  listRemoveValue(cacheName: string, listName: string, value: Value, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'listRemoveValue', cache: cacheName, list: listName, value }, options);
  }
  listPopBack(cacheName: string, listName: string, options: RequestOptions = {}): Promise<ListPop.Response> {
    return this.pop({ t: 'listPopBack', cache: cacheName, list: listName }, options);
  }
  listPopFront(cacheName: string, listName: string, options: RequestOptions = {}): Promise<ListPop.Response> {
    return this.pop({ t: 'listPopFront', cache: cacheName, list: listName }, options);
  }
  /** Momento's ListErase: removes `count` elements from `beginIndex` per range (indices of the list
   * before the call), or the whole list without `ranges`; Success with the length left, or Miss. */
  listErase(cacheName: string, listName: string, options: RequestOptions & { ranges?: ListEraseRange[] } = {}): Promise<ListErase.Response> {
    return this.call({ t: 'listErase', cache: cacheName, list: listName, ...(options.ranges ? { ranges: options.ranges } : {}) }, options,
      (r) => (r.hit ? new ListErase.Success(r.length) : new ListErase.Miss()), (e) => new ListErase.Error(e));
  }
  listLength(cacheName: string, listName: string, options: RequestOptions = {}): Promise<ListLength.Response> {
    return this.call({ t: 'listLength', cache: cacheName, list: listName }, options,
      (r) => (r.hit ? new ListLength.Hit(r.length) : new ListLength.Miss()), (e) => new ListLength.Error(e));
  }

  /** Momento's dictionarySetField(s): sets each field (text) to its value, creating the dictionary;
   * `ttl` as for list writes. Success / Error. */
  dictionarySetField(cacheName: string, dictionaryName: string, field: string, value: Value, options: ListWriteOptions = {}): Promise<GenericWrite.Response> {
    return this.dictionarySetFields(cacheName, dictionaryName, [[field, value]], options);
  }
  dictionarySetFields(cacheName: string, dictionaryName: string, elements: Map<string, Value> | Record<string, Value> | Array<[string, Value]>, options: ListWriteOptions = {}): Promise<GenericWrite.Response> {
    const pairs = elements instanceof Map ? [...elements] : Array.isArray(elements) ? elements : Object.entries(elements);
    const items: DictionaryItem[] = pairs.map(([field, value]) => ({ field, value }));
    return this.write({ t: 'dictionarySetFields', cache: cacheName, dictionary: dictionaryName, items, ...this.collectionTtl(options.ttl) }, options);
  }
  /** Hit with the field's value, Miss when the dictionary or the field is absent. */
  dictionaryGetField(cacheName: string, dictionaryName: string, field: string, options: RequestOptions = {}): Promise<DictionaryGetField.Response> {
    return this.call({ t: 'dictionaryGetFields', cache: cacheName, dictionary: dictionaryName, fields: [field] }, options,
      (r) => (r.hit && r.values[0] !== null && r.values[0] !== undefined ? new DictionaryGetField.Hit(r.values[0], field) : new DictionaryGetField.Miss(field)),
      (e) => new DictionaryGetField.Error(e));
  }
  /** Hit with a response per field (`responses`), Miss when there is no dictionary. */
  dictionaryGetFields(cacheName: string, dictionaryName: string, fields: string[], options: RequestOptions = {}): Promise<DictionaryGetFields.Response> {
    return this.call({ t: 'dictionaryGetFields', cache: cacheName, dictionary: dictionaryName, fields }, options,
      (r) => (r.hit ? new DictionaryGetFields.Hit(fields, r.values) : new DictionaryGetFields.Miss()), (e) => new DictionaryGetFields.Error(e));
  }
  dictionaryFetch(cacheName: string, dictionaryName: string, options: RequestOptions = {}): Promise<DictionaryFetch.Response> {
    return this.call({ t: 'dictionaryFetch', cache: cacheName, dictionary: dictionaryName }, options,
      (r) => (r.hit ? new DictionaryFetch.Hit(r.items.map((i) => [i.field, i.value] as const)) : new DictionaryFetch.Miss()), (e) => new DictionaryFetch.Error(e));
  }
  /** increment on one field (a missing dictionary or field starts from 0); `ttl` as for list
   * writes. Needs read and write on the key. */
  dictionaryIncrement(cacheName: string, dictionaryName: string, field: string, amount = 1, options: ListWriteOptions & IdempotentWriteOptions = {}): Promise<Increment.Response> {
    return this.call({ t: 'dictionaryIncrement', cache: cacheName, dictionary: dictionaryName, field, amount, ...this.collectionTtl(options.ttl) }, options,
      (r) => new Increment.Success(r.value, r.exact), (e) => new Increment.Error(e));
  }
  dictionaryRemoveField(cacheName: string, dictionaryName: string, field: string, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.dictionaryRemoveFields(cacheName, dictionaryName, [field], options);
  }
  dictionaryRemoveFields(cacheName: string, dictionaryName: string, fields: string[], options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'dictionaryRemoveFields', cache: cacheName, dictionary: dictionaryName, fields }, options);
  }
  dictionaryLength(cacheName: string, dictionaryName: string, options: RequestOptions = {}): Promise<ListLength.Response> {
    return this.call({ t: 'dictionaryLength', cache: cacheName, dictionary: dictionaryName }, options,
      (r) => (r.hit ? new ListLength.Hit(r.length) : new ListLength.Miss()), (e) => new ListLength.Error(e));
  }
  /** Momento's setAddElement(s): adds the elements (text or bytes; a set holds bytes, text as its
   * UTF-8), creating the set; `ttl` as for list writes. Success / Error. */
  setAddElement(cacheName: string, setName: string, element: Value, options: ListWriteOptions = {}): Promise<GenericWrite.Response> {
    return this.setAddElements(cacheName, setName, [element], options);
  }
  setAddElements(cacheName: string, setName: string, elements: Value[], options: ListWriteOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'setAddElements', cache: cacheName, set: setName, elements, ...this.collectionTtl(options.ttl) }, options);
  }
  setRemoveElement(cacheName: string, setName: string, element: Value, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.setRemoveElements(cacheName, setName, [element], options);
  }
  setRemoveElements(cacheName: string, setName: string, elements: Value[], options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'setRemoveElements', cache: cacheName, set: setName, elements }, options);
  }
  /** Hit with every element, in no particular order; Miss when there is no set. */
  setFetch(cacheName: string, setName: string, options: RequestOptions = {}): Promise<SetElements.Response> {
    return this.setElements({ t: 'setFetch', cache: cacheName, set: setName }, options);
  }
  /** Hit with `containsElement()`; Miss when there is no set. */
  setContainsElement(cacheName: string, setName: string, element: Value, options: RequestOptions = {}): Promise<SetContainsElement.Response> {
    return this.call({ t: 'setContainsElements', cache: cacheName, set: setName, elements: [element] }, options,
      (r) => (r.hit ? new SetContainsElement.Hit(r.contains[0] === true) : new SetContainsElement.Miss()), (e) => new SetContainsElement.Error(e));
  }
  /** Hit with `containsElements()`: each element (as text) to whether the set holds it. */
  setContainsElements(cacheName: string, setName: string, elements: Value[], options: RequestOptions = {}): Promise<SetContainsElements.Response> {
    return this.call({ t: 'setContainsElements', cache: cacheName, set: setName, elements }, options,
      (r) => (r.hit ? new SetContainsElements.Hit(elements, r.contains) : new SetContainsElements.Miss()), (e) => new SetContainsElements.Error(e));
  }
  setLength(cacheName: string, setName: string, options: RequestOptions = {}): Promise<ListLength.Response> {
    return this.call({ t: 'setLength', cache: cacheName, set: setName }, options,
      (r) => (r.hit ? new ListLength.Hit(r.length) : new ListLength.Miss()), (e) => new ListLength.Error(e));
  }
  /** Removes and answers up to `count` (≥ 1) elements chosen at random. Needs read and write. */
  setPop(cacheName: string, setName: string, count: number, options: RequestOptions = {}): Promise<SetElements.Response> {
    return this.setElements({ t: 'setPop', cache: cacheName, set: setName, count }, options);
  }
  /** Up to `limit` (≥ 0) distinct elements chosen at random; none removed. */
  setSample(cacheName: string, setName: string, limit: number, options: RequestOptions = {}): Promise<SetElements.Response> {
    return this.setElements({ t: 'setSample', cache: cacheName, set: setName, limit }, options);
  }
  /** Momento's sortedSetPutElement(s): sets each element's score (a finite number; an element is
   * text or bytes, kept as bytes), creating the sorted set; `ttl` as for list writes. */
  sortedSetPutElement(cacheName: string, sortedSetName: string, value: Value, score: number, options: ListWriteOptions = {}): Promise<GenericWrite.Response> {
    return this.sortedSetPutElements(cacheName, sortedSetName, [[value, score]], options);
  }
  sortedSetPutElements(cacheName: string, sortedSetName: string, elements: Map<Value, number> | Record<string, number> | Array<[Value, number]>, options: ListWriteOptions = {}): Promise<GenericWrite.Response> {
    const pairs = elements instanceof Map ? [...elements] : Array.isArray(elements) ? elements : Object.entries(elements);
    const scored = pairs.map(([value, score]) => ({ value, score }));
    return this.write({ t: 'sortedSetPutElements', cache: cacheName, sortedSet: sortedSetName, elements: scored, ...this.collectionTtl(options.ttl) }, options);
  }
  /** Hit with the elements of ranks [startRank, endRank) (negatives from the end) in `order`. */
  sortedSetFetchByRank(cacheName: string, sortedSetName: string, options: SortedSetFetchByRankOptions = {}): Promise<SortedSetFetch.Response> {
    return this.sortedSetFetch({ t: 'sortedSetFetchByRank', cache: cacheName, sortedSet: sortedSetName, ...opt('startRank', options.startRank), ...opt('endRank', options.endRank), ...order(options.order) }, options);
  }
  /** Hit with the elements scored within [minScore, maxScore] in `order`, skipping `offset`, at most `count`. */
  sortedSetFetchByScore(cacheName: string, sortedSetName: string, options: SortedSetFetchByScoreOptions = {}): Promise<SortedSetFetch.Response> {
    const frame = { t: 'sortedSetFetchByScore' as const, cache: cacheName, sortedSet: sortedSetName, ...scores(options), ...order(options.order), ...opt('offset', options.offset), ...opt('count', options.count) };
    return this.sortedSetFetch(frame, options);
  }
  /** Hit with the element's rank (0 first) in `order`; Miss when the sorted set or the element is absent. */
  sortedSetGetRank(cacheName: string, sortedSetName: string, value: Value, options: SortedSetOrderOptions = {}): Promise<SortedSetGetRank.Response> {
    return this.call({ t: 'sortedSetGetRank', cache: cacheName, sortedSet: sortedSetName, value, ...order(options.order) }, options,
      (r) => (r.hit && r.rank !== null ? new SortedSetGetRank.Hit(r.rank) : new SortedSetGetRank.Miss()), (e) => new SortedSetGetRank.Error(e));
  }
  /** Hit with the element's score; Miss when the sorted set or the element is absent. */
  sortedSetGetScore(cacheName: string, sortedSetName: string, value: Value, options: RequestOptions = {}): Promise<SortedSetScore.Response> {
    return this.call({ t: 'sortedSetGetScores', cache: cacheName, sortedSet: sortedSetName, values: [value] }, options,
      (r) => (r.hit && r.scores[0] !== null && r.scores[0] !== undefined ? new SortedSetScore.Hit(r.scores[0]) : new SortedSetScore.Miss()), (e) => new SortedSetScore.Error(e));
  }
  /** Hit with `valueRecord()`: each value held (as text) to its score; Miss when there is no sorted set. */
  sortedSetGetScores(cacheName: string, sortedSetName: string, values: Value[], options: RequestOptions = {}): Promise<SortedSetGetScores.Response> {
    return this.call({ t: 'sortedSetGetScores', cache: cacheName, sortedSet: sortedSetName, values }, options,
      (r) => (r.hit ? new SortedSetGetScores.Hit(values, r.scores) : new SortedSetGetScores.Miss()), (e) => new SortedSetGetScores.Error(e));
  }
  /** Adds `amount` (default 1) to the element's score (none: 0), creating it; Success with `score()`. Needs read and write. */
  sortedSetIncrementScore(cacheName: string, sortedSetName: string, value: Value, amount = 1, options: ListWriteOptions & IdempotentWriteOptions = {}): Promise<SortedSetIncrementScore.Response> {
    return this.call({ t: 'sortedSetIncrementScore', cache: cacheName, sortedSet: sortedSetName, value, amount, ...this.collectionTtl(options.ttl) }, options,
      (r) => new SortedSetIncrementScore.Success(r.score), (e) => new SortedSetIncrementScore.Error(e));
  }
  sortedSetRemoveElement(cacheName: string, sortedSetName: string, value: Value, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.sortedSetRemoveElements(cacheName, sortedSetName, [value], options);
  }
  sortedSetRemoveElements(cacheName: string, sortedSetName: string, values: Value[], options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'sortedSetRemoveElements', cache: cacheName, sortedSet: sortedSetName, values }, options);
  }
  sortedSetLength(cacheName: string, sortedSetName: string, options: RequestOptions = {}): Promise<ListLength.Response> {
    return this.call({ t: 'sortedSetLength', cache: cacheName, sortedSet: sortedSetName }, options,
      (r) => (r.hit ? new ListLength.Hit(r.length) : new ListLength.Miss()), (e) => new ListLength.Error(e));
  }
  /** Hit with the number of elements scored within [minScore, maxScore] (each optional). */
  sortedSetLengthByScore(cacheName: string, sortedSetName: string, options: SortedSetScoreOptions = {}): Promise<ListLength.Response> {
    return this.call({ t: 'sortedSetLengthByScore', cache: cacheName, sortedSet: sortedSetName, ...scores(options) }, options,
      (r) => (r.hit ? new ListLength.Hit(r.length) : new ListLength.Miss()), (e) => new ListLength.Error(e));
  }
  /** Replaces the sorted set with the union of `sources` (weighted scores combined by `aggregate`,
   * default SUM); Success with `length()`. Needs write on it and read on every source. */
  sortedSetUnionStore(cacheName: string, sortedSetName: string, sources: SortedSetSource[], options: SortedSetUnionStoreOptions = {}): Promise<SortedSetUnionStore.Response> {
    const frame = {
      t: 'sortedSetUnionStore' as const, cache: cacheName, sortedSet: sortedSetName, sources: sources.map((s) => ({ sortedSet: s.sortedSetName, weight: s.weight })),
      ...(options.aggregate === undefined ? {} : { aggregate: options.aggregate }), ...opt('ttlMs', this.collectionTtl(options.ttl).ttlMs),
    };
    return this.call(frame, options, (r) => new SortedSetUnionStore.Success(r.length), (e) => new SortedSetUnionStore.Error(e));
  }
  /** Hit with `itemType()` (`ItemType.SCALAR`, `LIST`, `DICTIONARY`, `SET`, `SORTED_SET`), or Miss. */
  itemGetType(cacheName: string, key: string, options: RequestOptions = {}): Promise<ItemGetType.Response> {
    return this.call({ t: 'itemGetType', cache: cacheName, key }, options,
      (r) => (r.hit ? new ItemGetType.Hit(ITEM_TYPES[r.type]) : new ItemGetType.Miss()), (e) => new ItemGetType.Error(e));
  }

  get(cacheName: string, key: string, options: RequestOptions = {}): Promise<ValueRead.Response> {
    return this.call({ t: 'get', cache: cacheName, key }, options,
      (r) => (r.hit ? new ValueRead.Hit(r.value) : new ValueRead.Miss()), (e) => new ValueRead.Error(e));
  }
  /** `ttl` in seconds (Momento's); default the client's defaultTtlSeconds, else the server's. */
  set(cacheName: string, key: string, value: Value, options: ScalarWriteOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'set', cache: cacheName, key, value, ...this.ttlField(options.ttl) }, options);
  }
  /** Momento's increaseTtl: sets the TTL to `ttlMilliseconds` only when that is longer than the
   * item has left (NotSet otherwise; Miss when absent). Needs read and write on the key. */
  increaseTtl(cacheName: string, key: string, ttlMilliseconds: number, options: RequestOptions = {}): Promise<ChangeTtl.Response> {
    return this.changeTtl({ t: 'increaseTtl', cache: cacheName, key, ttlMs: ttlMilliseconds }, options);
  }
  /** Momento's decreaseTtl: the same, only when shorter. */
  decreaseTtl(cacheName: string, key: string, ttlMilliseconds: number, options: RequestOptions = {}): Promise<ChangeTtl.Response> {
    return this.changeTtl({ t: 'decreaseTtl', cache: cacheName, key, ttlMs: ttlMilliseconds }, options);
  }

  /** Momento's increment: adds `amount` (default 1) to the base-10 integer the key holds (a missing
   * key starts from 0) and answers the new value; a key holding anything else is an Error with
   * FAILED_PRECONDITION_ERROR. Sets the item's TTL, as set does. Needs read and write on the key. */
  increment(cacheName: string, key: string, amount = 1, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<Increment.Response> {
    return this.call({ t: 'increment', cache: cacheName, key, amount, ...this.ttlField(options.ttl) }, options,
      (r) => new Increment.Success(r.value, r.exact), (e) => new Increment.Error(e));
  }

  /** Momento's conditional sets: each stores `value` only when its condition holds on what the key
   * holds, in one step; Stored or NotStored. Need read and write on the key. */
  setIfAbsent(cacheName: string, key: string, value: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'absent', undefined, options);
  }
  /** The same as setIfAbsent (Momento's older name). */
  setIfNotExists(cacheName: string, key: string, value: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'absent', undefined, options);
  }
  setIfPresent(cacheName: string, key: string, value: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'present', undefined, options);
  }
  setIfEqual(cacheName: string, key: string, value: Value, equal: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'equal', equal, options);
  }
  /** Stores when the key is absent or holds a value other than `notEqual`. */
  setIfNotEqual(cacheName: string, key: string, value: Value, notEqual: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'notEqual', notEqual, options);
  }
  setIfPresentAndNotEqual(cacheName: string, key: string, value: Value, notEqual: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'presentAndNotEqual', notEqual, options);
  }
  setIfAbsentOrEqual(cacheName: string, key: string, value: Value, equal: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<ConditionalWrite.Response> {
    return this.setIf(cacheName, key, value, 'absentOrEqual', equal, options);
  }

  /** Momento's getWithHash: the value and its hash (opaque: what setIfHash's conditions compare). */
  getWithHash(cacheName: string, key: string, options: RequestOptions = {}): Promise<HashedRead.Response> {
    return this.call({ t: 'getWithHash', cache: cacheName, key }, options,
      (r) => (r.hit ? new HashedRead.Hit(r.value, r.hash) : new HashedRead.Miss()), (e) => new HashedRead.Error(e));
  }
  /** Compare-and-set by hash: stores `value` when `condition` holds on the hash of what the key
   * holds (`hash`: from getWithHash or an earlier Stored; none for 'unconditional'), in one step.
   * Stored carries the new value's hash. The conditions need read and write on the key,
   * 'unconditional' (a set) write only. Momento's names follow. */
  setIfHash(cacheName: string, key: string, value: Value, condition: SetIfHashCondition, hash?: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<HashedWrite.Response> {
    const frame = { t: 'setIfHash' as const, cache: cacheName, key, value, condition, ...(hash !== undefined ? { hash } : {}), ...this.ttlField(options.ttl) };
    return this.call(frame, options, (r) => (r.stored ? new HashedWrite.Stored(r.hash) : new HashedWrite.NotStored()), (e) => new HashedWrite.Error(e));
  }
  setWithHash(cacheName: string, key: string, value: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<HashedWrite.Response> {
    return this.setIfHash(cacheName, key, value, 'unconditional', undefined, options);
  }
  setIfPresentAndHashEqual(cacheName: string, key: string, value: Value, hashEqual: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<HashedWrite.Response> {
    return this.setIfHash(cacheName, key, value, 'presentAndHashEqual', hashEqual, options);
  }
  setIfPresentAndHashNotEqual(cacheName: string, key: string, value: Value, hashNotEqual: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<HashedWrite.Response> {
    return this.setIfHash(cacheName, key, value, 'presentAndNotHashEqual', hashNotEqual, options);
  }
  setIfAbsentOrHashEqual(cacheName: string, key: string, value: Value, hashEqual: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<HashedWrite.Response> {
    return this.setIfHash(cacheName, key, value, 'absentOrHashEqual', hashEqual, options);
  }
  setIfAbsentOrHashNotEqual(cacheName: string, key: string, value: Value, hashNotEqual: Value, options: ScalarWriteOptions & IdempotentWriteOptions = {}): Promise<HashedWrite.Response> {
    return this.setIfHash(cacheName, key, value, 'absentOrNotHashEqual', hashNotEqual, options);
  }

  delete(cacheName: string, key: string, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'delete', cache: cacheName, key }, options);
  }
  itemGetTtl(cacheName: string, key: string, options: RequestOptions = {}): Promise<ItemGetTtl.Response> {
    return this.call({ t: 'itemGetTtl', cache: cacheName, key }, options,
      (r) => (r.hit ? new ItemGetTtl.Hit(r.remainingTtlMs) : new ItemGetTtl.Miss()), (e) => new ItemGetTtl.Error(e));
  }
  /** `ttlMilliseconds` as in Momento's updateTtl: Set, or Miss when the key does not exist. */
  updateTtl(cacheName: string, key: string, ttlMilliseconds: number, options: RequestOptions = {}): Promise<UpdateTtl.Response> {
    return this.call({ t: 'updateTtl', cache: cacheName, key, ttlMs: ttlMilliseconds }, options,
      (r) => (r.hit ? new UpdateTtl.Set() : new UpdateTtl.Miss()), (e) => new UpdateTtl.Error(e));
  }

  /** Publishes to `topic` and appends to `list` in one step (docs/history.md). */
  pubAppend(cacheName: string, topicName: string, listName: string, value: Value, options: ListWriteOptions & IdempotentWriteOptions & { truncateFrontToSize?: number } = {}): Promise<PubAppend.Response> {
    const frame = { t: 'pubAppend' as const, cache: cacheName, topic: topicName, list: listName, value, ...opt('truncateFrontToSize', options.truncateFrontToSize), ...this.collectionTtl(options.ttl) };
    return this.call(frame, options, (r) => new PubAppend.Success(r.seq, r.page, r.length), (e) => new PubAppend.Error(e));
  }

  // -- internals ---------------------------------------------------------------------------------

  /** One request: the reply mapped to a response, any failure to an Error response (thrown instead
   * with throwOnErrors). */
  private async call<K extends OperationName, Hit, Failed>(frame: OutgoingFrame<K>, options: IdempotentWriteOptions, ok: (r: ResultOf<K>) => Hit, fail: (e: TidingsClientError) => Failed): Promise<Hit | Failed> {
    let response: Hit | Failed;
    try {
      response = ok(await this.connection.request(frame, options));
    } catch (err) {
      response = fail(asClientError(err));
    }
    return orThrow(response, this.throwOnErrors);
  }

  private listWrite<K extends 'listPushBack' | 'listPushFront' | 'listConcatenateBack' | 'listConcatenateFront'>(frame: OutgoingFrame<K>, options: ListWriteOptions & IdempotentWriteOptions): Promise<ListWrite.Response> {
    return this.call({ ...frame, ...this.collectionTtl(options.ttl) }, options,
      (r) => new ListWrite.Success(r.length), (e) => new ListWrite.Error(e));
  }

  private setElements<K extends 'setFetch' | 'setPop' | 'setSample'>(frame: OutgoingFrame<K>, options: RequestOptions): Promise<SetElements.Response> {
    return this.call(frame, options, (r) => (r.hit ? new SetElements.Hit(r.elements) : new SetElements.Miss()), (e) => new SetElements.Error(e));
  }

  private sortedSetFetch<K extends 'sortedSetFetchByRank' | 'sortedSetFetchByScore'>(frame: OutgoingFrame<K>, options: RequestOptions): Promise<SortedSetFetch.Response> {
    return this.call(frame, options, (r) => (r.hit ? new SortedSetFetch.Hit(r.elements) : new SortedSetFetch.Miss()), (e) => new SortedSetFetch.Error(e));
  }

  private write<K extends 'listRetain' | 'listRemoveValue' | 'set' | 'delete' | 'dictionarySetFields' | 'dictionaryRemoveFields' | 'setAddElements' | 'setRemoveElements'
    | 'sortedSetPutElements' | 'sortedSetRemoveElements'>(frame: OutgoingFrame<K>, options: RequestOptions): Promise<GenericWrite.Response> {
    return this.call(frame, options, () => new GenericWrite.Success(), (e) => new GenericWrite.Error(e));
  }

  private pop(frame: OutgoingFrame<'listPopBack'> | OutgoingFrame<'listPopFront'>, options: RequestOptions): Promise<ListPop.Response> {
    return this.call(frame, options,
      (r) => (r.hit ? new ListPop.Hit(r.value, r.length) : new ListPop.Miss()), (e) => new ListPop.Error(e));
  }

  private changeTtl(frame: OutgoingFrame<'increaseTtl'> | OutgoingFrame<'decreaseTtl'>, options: RequestOptions): Promise<ChangeTtl.Response> {
    return this.call(frame, options,
      (r) => (!r.hit ? new ChangeTtl.Miss() : r.set ? new ChangeTtl.Set() : new ChangeTtl.NotSet()), (e) => new ChangeTtl.Error(e));
  }

  private setIf(cacheName: string, key: string, value: Value, condition: SetIfCondition, compare: Value | undefined, options: ScalarWriteOptions & IdempotentWriteOptions): Promise<ConditionalWrite.Response> {
    const frame = { t: 'setIf' as const, cache: cacheName, key, value, condition, ...(compare !== undefined ? { compare } : {}), ...this.ttlField(options.ttl) };
    return this.call(frame, options, (r) => (r.stored ? new ConditionalWrite.Stored() : new ConditionalWrite.NotStored()), (e) => new ConditionalWrite.Error(e));
  }

  /** A scalar write's ttlMs: `ttl` seconds, else the client default, else none (the server's). */
  private ttlField(ttl: number | undefined): { ttlMs?: number } {
    const seconds = ttl ?? this.defaultTtlSeconds;
    return seconds === undefined ? {} : { ttlMs: Math.round(seconds * 1000) };
  }

  /** Wire TTL fields for a collection write: the given CollectionTtl, else the client default. */
  private collectionTtl(ttl: CollectionTtl | undefined): { ttlMs?: number; refreshTtl?: boolean } {
    if (ttl) return ttl.fields(this.defaultTtlSeconds);
    return this.defaultTtlSeconds === undefined ? {} : { ttlMs: Math.round(this.defaultTtlSeconds * 1000) };
  }
}

const ITEM_TYPES = { scalar: ItemType.SCALAR, list: ItemType.LIST, dictionary: ItemType.DICTIONARY, set: ItemType.SET, sortedSet: ItemType.SORTED_SET } as const;

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

/** Momento's SortedSetOrder as the wire's `order` (absent: ascending). */
function order(value: SortedSetOrder | undefined): { order?: 'ascending' | 'descending' } {
  return value === undefined ? {} : { order: value === SortedSetOrder.Descending ? 'descending' : 'ascending' };
}

/** Inclusive score bounds, each optional. */
function scores(options: SortedSetScoreOptions): { minScore?: number; maxScore?: number } {
  return { ...opt('minScore', options.minScore), ...opt('maxScore', options.maxScore) };
}

function range(options: ListRangeOptions): { startIndex?: number; endIndex?: number } {
  return { ...opt('startIndex', options.startIndex), ...opt('endIndex', options.endIndex) };
}
