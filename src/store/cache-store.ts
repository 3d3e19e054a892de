/** The cache-data side of the engine: Momento-shaped lists, dictionaries, sets, sorted sets and scalar items in named caches, plus
 * pubAppend (publish + capped append as one step, for gapless chat history). The memory store
 * implements it in process; a Redis engine would implement the same. Inputs arrive validated
 * (names, value kinds, element sizes, TTL bounds); the store enforces what depends on stored state
 * (item bytes, list length, store bytes) and answers misses as `undefined`.
 * Every method may answer synchronously (Maybe<T>); the memory store does, and applies every change
 * inside the call, which callers composing steps in one tick rely on (pubAppend, moderation), and
 * which lets the reply leave inside the uWS message callback, coalesced with other writes. */
import type {
  DictionaryItem, ItemType, ListEraseRange, ListFetchResult, ListFetchWithMetaResult, ListItem, PubAppendResult, ScoredElement, SortedSetAggregate,
  SortedSetOrder, SortedSetSource, Value,
} from '../protocol/index.js';
import { ErrorCode, LimitCause } from '../protocol/index.js';
import type { Maybe } from '../core/maybe.js';
import { TidingsError, limitExceeded } from '../core/errors.js';
import type { StoreCondition } from './scalar-ops.js';

export type { DictionaryItem, ItemType, ListItem, PubAppendResult, ScoredElement, SortedSetAggregate, SortedSetOrder, SortedSetSource } from '../protocol/index.js';
export type { Maybe } from '../core/maybe.js';
export type { StoreCondition } from './scalar-ops.js';

/** The TTL of a whole collection (Momento's CollectionTtl). */
export interface CollectionTtl {
  /** Milliseconds; undefined = the store's default TTL. */
  ttlMs?: number | undefined;
  /** true: every write resets the expiry to ttlMs. false: an existing collection keeps its expiry,
   * a new one gets ttlMs. */
  refresh: boolean;
}

/** Where a list element came from when pubAppend wrote it: the topic item it was published as. */
export interface ElementOrigin {
  page: number;
  seq: number;
  /** The publisher's tokenId; absent (undefined) when its token had none. */
  tokenId?: string | undefined;
  /** Server time of the publish, Unix ms (the item's `ts`). */
  ts: number;
}

export interface PushOptions {
  ttl: CollectionTtl;
  /** Cut from the far end while the list is longer than this (front for back pushes, back for front
   * pushes). */
  truncateToSize?: number | undefined;
}

export interface Range { startIndex?: number | undefined; endIndex?: number | undefined }

/** A sorted-set element to put: a value and its (finite) score. */
export interface SortedSetInput { value: Value; score: number }

/** Score bounds of a sorted-set read: absent = unbounded. */
export interface ScoreRange { min?: ScoreBound | undefined; max?: ScoreBound | undefined }
export interface ScoreBound { score: number; exclusive: boolean }

export interface StoreStats { items: number; bytes: number; maxBytes: number }

export interface CacheEngine {
  /** Appends values in order (listPushBack is one value, listConcatenateBack several); new length. */
  listPushBack(cache: string, list: string, values: Value[], options: PushOptions): Maybe<number>;
  /** Prepends values keeping their order; new length. */
  listPushFront(cache: string, list: string, values: Value[], options: PushOptions): Maybe<number>;
  /** undefined = Miss (no such list). */
  listFetch(cache: string, list: string, range: Range): Maybe<Value[] | undefined>;
  listFetchWithMeta(cache: string, list: string, range: Range): Maybe<ListItem[] | undefined>;
  /** Optional fast path: the whole listFetch reply (`{ hit: true, values }`, or `{ hit: true, items }`
   * with withMeta), frozen and shared by every fetch of the same list version and range, so reply
   * writers may cache its encoding by identity; undefined = Miss. */
  listFetchResult?(cache: string, list: string, range: Range, withMeta: boolean): Maybe<Readonly<ListFetchResult | ListFetchWithMetaResult> | undefined>;
  /** Keeps only the slice; a missing list is fine. `ttl` undefined leaves the expiry alone. */
  listRetain(cache: string, list: string, range: Range, ttl: CollectionTtl | undefined): Maybe<void>;
  /** Removes every element equal to value (text equals the binary of its UTF-8). */
  listRemoveValue(cache: string, list: string, value: Value): Maybe<void>;
  /** undefined = Miss. `length` is what remains. */
  listPop(cache: string, list: string, end: 'back' | 'front'): Maybe<{ value: Value; length: number } | undefined>;
  listLength(cache: string, list: string): Maybe<number | undefined>;
  /** Removes the elements the ranges cover (indices of the list before the call; parts past its
   * end are ignored), or every element when `ranges` is undefined; the length left, undefined =
   * Miss. The expiry is left alone; an emptied list is deleted. */
  listErase(cache: string, list: string, ranges: readonly ListEraseRange[] | undefined): Maybe<number | undefined>;

  /** Sets each field to its value (a later item of the same field wins), creating the dictionary;
   * the TTL as a list push's. */
  dictionarySetFields(cache: string, dictionary: string, items: readonly DictionaryItem[], ttl: CollectionTtl): Maybe<void>;
  /** Each field's value in order (undefined = no such field); undefined = Miss (no dictionary). */
  dictionaryGetFields(cache: string, dictionary: string, fields: readonly string[]): Maybe<Array<Value | undefined> | undefined>;
  /** Every field; undefined = Miss. */
  dictionaryFetch(cache: string, dictionary: string): Maybe<DictionaryItem[] | undefined>;
  /** increment() on one field (none = 0), stored as decimal text; creates the dictionary; the TTL
   * as dictionarySetFields'. */
  dictionaryIncrement(cache: string, dictionary: string, field: string, amount: number, ttl: CollectionTtl): Maybe<bigint>;
  /** Removes the fields (undefined: every field, so the dictionary); the expiry is left alone; an
   * emptied dictionary is deleted. */
  dictionaryRemoveFields(cache: string, dictionary: string, fields: readonly string[] | undefined): Maybe<void>;
  /** Fields held; undefined = Miss. */
  dictionaryLength(cache: string, dictionary: string): Maybe<number | undefined>;

  /** Adds the elements, compared as bytes (text as its UTF-8: a set holds bytes), creating the
   * set; the TTL as a list push's. */
  setAddElements(cache: string, set: string, elements: readonly Value[], ttl: CollectionTtl): Maybe<void>;
  /** Removes the elements (undefined: every element, so the set); the expiry is left alone; an
   * emptied set is deleted. */
  setRemoveElements(cache: string, set: string, elements: readonly Value[] | undefined): Maybe<void>;
  /** Every element, in no order; undefined = Miss. */
  setFetch(cache: string, set: string): Maybe<Uint8Array[] | undefined>;
  /** Whether the set holds each element, in order; undefined = Miss. */
  setContainsElements(cache: string, set: string, elements: readonly Value[]): Maybe<boolean[] | undefined>;
  /** Elements held; undefined = Miss. */
  setLength(cache: string, set: string): Maybe<number | undefined>;
  /** Removes and returns min(count, length) elements chosen at random; the expiry is left alone;
   * an emptied set is deleted. undefined = Miss. */
  setPop(cache: string, set: string, count: number): Maybe<Uint8Array[] | undefined>;
  /** min(limit, length) distinct elements chosen at random, none removed; undefined = Miss. */
  setSample(cache: string, set: string, limit: number): Maybe<Uint8Array[] | undefined>;

  /** Sets each element's score (a later one of the same element wins; bytes identity as a set's),
   * creating the sorted set; the TTL as a list push's. Scores arrive finite. */
  sortedSetPutElements(cache: string, sortedSet: string, elements: readonly SortedSetInput[], ttl: CollectionTtl): Maybe<void>;
  /** The elements of ranks [startIndex, endIndex) in `order` (negatives count from the end, as a
   * list fetch's range); undefined = Miss. */
  sortedSetFetchByRank(cache: string, sortedSet: string, range: Range, order: SortedSetOrder): Maybe<ScoredElement[] | undefined>;
  /** The elements within `scores` in `order`, skipping `offset`, at most `count` (undefined: all);
   * undefined = Miss. */
  sortedSetFetchByScore(cache: string, sortedSet: string, scores: ScoreRange, order: SortedSetOrder, offset: number, count: number | undefined): Maybe<ScoredElement[] | undefined>;
  /** Each value's score in order (undefined: not an element); undefined = Miss. */
  sortedSetGetScores(cache: string, sortedSet: string, values: readonly Value[]): Maybe<Array<number | undefined> | undefined>;
  /** The value's rank in `order` (null: not an element); undefined = Miss. */
  sortedSetGetRank(cache: string, sortedSet: string, value: Value, order: SortedSetOrder): Maybe<number | null | undefined>;
  /** Adds `amount` to the value's score (none: 0), creating it and the sorted set; the new score. A
   * result that is not finite is refused (INVALID_ARGUMENT); the TTL as a put's. */
  sortedSetIncrementScore(cache: string, sortedSet: string, value: Value, amount: number, ttl: CollectionTtl): Maybe<number>;
  /** Removes the values (undefined: every element, so the sorted set); the expiry is left alone; an
   * emptied sorted set is deleted. */
  sortedSetRemoveElements(cache: string, sortedSet: string, values: readonly Value[] | undefined): Maybe<void>;
  /** Elements held (within `scores` when given); undefined = Miss. */
  sortedSetLength(cache: string, sortedSet: string, scores?: ScoreRange): Maybe<number | undefined>;
  /** Replaces the sorted set with the union of `sources` (sorted sets of the same cache, a missing
   * one empty): each element's scores times its source's weight, combined by `aggregate` (a sum of
   * +inf and -inf, or a weight of 0 times an infinity, counts 0, as in Redis); an empty union
   * deletes it. The TTL: ttlMs (undefined: the default). Answers the elements stored. */
  sortedSetUnionStore(cache: string, sortedSet: string, sources: readonly SortedSetSource[], aggregate: SortedSetAggregate, ttlMs: number | undefined): Maybe<number>;

  /** What the key holds, at one instant; undefined = Miss. */
  itemGetType(cache: string, key: string): Maybe<ItemType | undefined>;

  get(cache: string, key: string): Maybe<Value | undefined>;
  /** ttlMs undefined = the default TTL. Replaces whatever the key held (any type). */
  set(cache: string, key: string, value: Value, ttlMs: number | undefined): Maybe<void>;
  delete(cache: string, key: string): Maybe<void>;
  /** Remaining ms of any item (scalar or list); undefined = Miss. */
  itemGetTtl(cache: string, key: string): Maybe<number | undefined>;
  /** Sets a new TTL on an existing item; false = Miss. */
  updateTtl(cache: string, key: string, ttlMs: number): Maybe<boolean>;
  /** Sets a new TTL on an existing item only when it is longer ('increase') or shorter
   * ('decrease') than the item's remaining TTL, in the same step; 'miss' when there is no item. */
  changeTtl(cache: string, key: string, ttlMs: number, only: 'increase' | 'decrease'): Maybe<'set' | 'notSet' | 'miss'>;
  /** Adds `amount` to the integer the key holds (none = 0), stores the result as decimal text with
   * ttlMs (undefined = the default) and answers it, exact over the 64-bit range (scalar-ops.ts). */
  increment(cache: string, key: string, amount: number, ttlMs: number | undefined): Maybe<bigint>;
  /** Sets like set() when the condition holds on what the key holds now, in the same step; true =
   * stored. The item-size limit applies whether or not it is stored. */
  setIf(cache: string, key: string, value: Value, condition: StoreCondition, ttlMs: number | undefined): Maybe<boolean>;

  /** Publishes `value` to the topic and appends it with its origin (page, seq, tokenId, ts) to the
   * list, with nothing in between: a reader that fetches the list and subscribes after its last
   * element's (page, seq) sees every later item exactly once. Limits are checked before publishing,
   * so a refused append publishes nothing. */
  pubAppend(cache: string, topic: string, list: string, value: Value, tokenId: string | undefined, options: PushOptions): Maybe<PubAppendResult>;

  /** Removes the element(s) pubAppend stored for topic item (page, seq) (moderators retracting a
   * message); true when one was there. */
  listRemoveOrigin(cache: string, list: string, origin: { page: number; seq: number }): Maybe<boolean>;

  stats(): StoreStats;
  /** Starts background upkeep (expired-item sweeps); close() stops it. */
  start(): void;
  close(): void;
}

/** The refusal of an operation on a key holding another kind of item (docs/protocol.md's words),
 * the same on every store. `held`: 'scalar', 'list', 'dictionary', 'set', 'sortedSet', or (Redis) a key some other
 * program wrote. */
export function wrongKind(cache: string, key: string, held: string, wanted: ItemType): TidingsError {
  return new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, held === 'foreign'
    ? `key "${key}" in cache "${cache}" holds a ${held}, which this operation does not apply to`
    : `key "${key}" in cache "${cache}" holds a ${kindName(held)}, not a ${kindName(wanted)}`);
}

/** An item kind in words ('sortedSet': "sorted set"). */
function kindName(kind: string): string {
  return kind === 'sortedSet' ? 'sorted set' : kind;
}

/** The refusal of a dictionaryIncrement whose field name and sum (stored as its decimal text)
 * would be more than store.maxElementBytes together, as any other field and value. */
export function incrementedFieldTooLarge(dictionary: string, field: string, bytes: number, max: number): TidingsError {
  return limitExceeded(LimitCause.ELEMENT_SIZE, `field "${field}" of dictionary "${dictionary}" and its sum would be ${bytes} bytes, more than ${max} (store.maxElementBytes)`);
}

/** The refusal of a dictionary write that would leave more than store.maxDictionaryFields fields. */
export function tooManyFields(dictionary: string, count: number, max: number): TidingsError {
  return limitExceeded(LimitCause.DICTIONARY_FIELDS, `dictionary "${dictionary}" would hold ${count} fields; at most ${max} are allowed`);
}

/** The refusal of a sorted-set write that would leave more than store.maxSortedSetElements elements. */
export function tooManySortedSetElements(sortedSet: string, count: number, max: number): TidingsError {
  return limitExceeded(LimitCause.SORTED_SET_ELEMENTS, `sorted set "${sortedSet}" would hold ${count} elements; at most ${max} are allowed`);
}

/** The refusal of a sorted-set write whose score would not be a finite number. */
export function scoreNotFinite(sortedSet: string, score: number): TidingsError {
  return new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, `sorted set "${sortedSet}": the score would be ${score}; scores must be finite numbers`);
}

/** The refusal of a set write that would leave more than store.maxSetElements elements. */
export function tooManyElements(set: string, count: number, max: number): TidingsError {
  return limitExceeded(LimitCause.SET_ELEMENTS, `set "${set}" would hold ${count} elements; at most ${max} are allowed`);
}
