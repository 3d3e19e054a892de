/** Cache data (scalars, lists, dictionaries, sets, sorted sets) in process memory: one lru-cache over every cache, keyed `${cache}\u0000${key}`,
 * bounded by footprint bytes (store.maxBytes) with least-recently-used eviction and per-item TTLs
 * read from the injected Clock. Every operation runs synchronously inside its call, so each is
 * atomic with respect to every other (and pubAppend's publish + append is one step). */
import { LRUCache } from 'lru-cache';
import {
  ErrorCode, LimitCause, type DictionaryItem, type ItemType, type ListEraseRange, type ListFetchResult, type ListFetchWithMetaResult, type PublishResult,
  type ScoredElement, type SortedSetAggregate, type SortedSetOrder, type SortedSetSource, type Value,
} from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import type { StoreConfig } from '../core/config.js';
import { TidingsError, limitExceeded, notFound } from '../core/errors.js';
import {
  incrementedFieldTooLarge, scoreNotFinite, tooManyElements, tooManyFields, tooManySortedSetElements, wrongKind,
  type CacheEngine, type CollectionTtl, type ElementOrigin, type ListItem, type PubAppendResult, type PushOptions, type Range, type ScoreRange,
  type SortedSetInput, type StoreCondition, type StoreStats,
} from './cache-store.js';
import { SortedSetState, rankedFootprint, rankedPayload, type Ranked } from './sorted-set-state.js';
import { Tally } from './tally.js';
import { Deque } from '../lib/deque.js';
import { equalTo, eraseRanges, fetchRange, planPush, pushBack, pushFront, removeWhere, retainRange, type PushPlan } from './list-ops.js';
import { conditionHolds, incremented } from './scalar-ops.js';
import { DICTIONARY_FIELD_OVERHEAD, ELEMENT_OVERHEAD, ENTRY_OVERHEAD, ORIGIN_OVERHEAD, SET_ELEMENT_OVERHEAD, SLOT_BYTES, flatText, measureText, ownValue } from './sizes.js';
import { textBytes } from './text-bytes.js';

/** Publishes one item synchronously (the memory topic engine), so pubAppend can append in the same step. */
export interface SyncPublisher {
  /** Throws when pubAppend may not publish to `topic` at all (a moderator group's input): checked
   * before the list's state, as the Redis engine does, so the refusal does not depend on it.
   * Absent: every topic may be. */
  checkTopic?(cache: string, topic: string): void;
  publishNow(cache: string, topic: string, value: Value, tokenId: string | undefined): PublishResult & { ts: number };
}

interface Element {
  v: Value;
  /** Payload bytes of v. */
  n: number;
  /** Footprint bytes of this element, origin included. */
  f: number;
  /** Set by pubAppend. Always present (maybe undefined) so every element has one hidden class. */
  o: ElementOrigin | undefined;
}

/** A list's mutable state. The LRU entry wrapping it is replaced on every write, because lru-cache
 * recomputes an entry's size only when the stored object changes. */
class ListState extends Tally {
  readonly items = new Deque<Element>();
  /** Changes on every committed write; keys the encoded-fetch cache. */
  version = 0;

  add(elements: readonly Element[], from = 0, to = elements.length): void {
    for (let i = from; i < to; i++) this.count(elements[i]!.n, elements[i]!.f);
  }

  remove(elements: readonly Element[]): void {
    for (const e of elements) this.count(e.n, e.f, -1);
  }
}

/** A dictionary field's value. */
interface FieldValue {
  v: Value;
  /** Payload bytes of the field name plus v. */
  n: number;
  /** Footprint bytes of the map entry, the field name and v. */
  f: number;
}

/** A dictionary's mutable state; replaced in its LRU wrapper on every write, as a list's. */
class DictionaryState extends Tally {
  readonly fields = new Map<string, FieldValue>();

  put(field: string, value: FieldValue): void {
    const old = this.fields.get(field);
    if (old) this.count(old.n, old.f, -1);
    this.fields.set(field, value);
    this.count(value.n, value.f);
  }

  remove(field: string): void {
    const old = this.fields.get(field);
    if (!old) return;
    this.fields.delete(field);
    this.count(old.n, old.f, -1);
  }
}

/** A set's mutable state: each element's bytes as a one-byte (latin1) string, which is both the
 * membership key and, at one heap byte per element byte, the cheapest way to keep them. Replaced
 * in its LRU wrapper on every write, as a list's. */
class SetState extends Tally {
  readonly members = new Set<string>();

  /** Adds a member not held: setAddElements passes only those (its planned tally counts each). */
  add(member: string): void {
    this.members.add(member);
    this.count(member.length, memberFootprint(member));
  }

  remove(member: string): void {
    if (!this.members.delete(member)) return;
    this.count(member.length, memberFootprint(member), -1);
  }
}

type Entry =
  | { kind: 'scalar'; value: Value; payload: number; footprint: number }
  | { kind: 'list'; state: ListState }
  | { kind: 'dictionary'; state: DictionaryState }
  | { kind: 'set'; state: SetState }
  | { kind: 'sortedSet'; state: SortedSetState };

type CollectionEntry = Extract<Entry, { kind: 'dictionary' | 'set' | 'sortedSet' }>;
interface CollectionStates { dictionary: DictionaryState; set: SetState; sortedSet: SortedSetState }

export class MemoryCacheStore implements CacheEngine {
  private readonly lru: LRUCache<string, Entry>;
  private readonly caches: ReadonlySet<string> | undefined;
  private readonly defaultTtlMs: number;
  private purgeTimer: NodeJS.Timeout | undefined;
  /** listFetch replies by list, version and range (store.fetchCacheBytes), frozen so replies share them. */
  private readonly fetchResults: LRUCache<string, SharedFetch> | undefined;
  private versions = 0;

  constructor(private readonly config: StoreConfig, clock: Clock, private readonly publisher?: SyncPublisher) {
    this.defaultTtlMs = config.defaultTtlSec * 1000;
    this.caches = config.caches.length > 0 ? new Set(config.caches) : undefined;
    this.fetchResults = config.fetchCacheBytes > 0
      ? new LRUCache<string, SharedFetch>({ maxSize: config.fetchCacheBytes, sizeCalculation: (shared, key) => shared.bytes + key.length * 2 + 64 })
      : undefined;
    this.lru = new LRUCache<string, Entry>({
      maxSize: config.maxBytes,
      sizeCalculation: (entry, key) => entryFootprint(entry, key),
      ttl: this.defaultTtlMs,
      // Read the clock on every staleness check: the default caches it for 1 ms of real time,
      // which a test's ManualClock would outrun.
      ttlResolution: 0,
      perf: { now: () => clock.now() },
      updateAgeOnGet: false,
      allowStale: false,
    });
  }

  start(): void {
    this.purgeTimer = setInterval(() => this.lru.purgeStale(), this.config.purgeIntervalMs);
    this.purgeTimer.unref();
  }

  close(): void {
    clearInterval(this.purgeTimer);
    this.lru.clear();
    this.fetchResults?.clear();
  }

  stats(): StoreStats {
    return { items: this.lru.size, bytes: this.lru.calculatedSize, maxBytes: this.config.maxBytes };
  }

  /** Expired items still in memory are dropped now (tests; the timer does it in production). */
  purgeStale(): void {
    this.lru.purgeStale();
  }

  // -- lists -------------------------------------------------------------------------------------

  listPushBack(cache: string, list: string, values: Value[], options: PushOptions): number {
    return this.push(cache, list, values.map((v) => element(v)), options, 'back');
  }

  listPushFront(cache: string, list: string, values: Value[], options: PushOptions): number {
    return this.push(cache, list, values.map((v) => element(v)), options, 'front');
  }

  listFetch(cache: string, list: string, range: Range): Value[] | undefined {
    const state = this.readList(cache, list);
    return state && fetchRange(state.items, range.startIndex, range.endIndex).map((e) => e.v);
  }

  /** A room's history is fetched by every joiner between two writes, and encoding a fetch of 100
   * elements costs several times the fetch itself: one frozen reply per list version and range, which
   * every reply shares and the msgpack reply writer encodes once (it caches encodings of frozen
   * results by identity). */
  listFetchResult(cache: string, list: string, range: Range, withMeta: boolean): Readonly<ListFetchResult | ListFetchWithMetaResult> | undefined {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    if (!state) return undefined;
    const memoKey = `${k}\u0000${state.version}\u0000${range.startIndex ?? ''}\u0000${range.endIndex ?? ''}\u0000${withMeta ? 1 : 0}`;
    let shared = this.fetchResults?.get(memoKey);
    if (!shared) {
      const elements = fetchRange(state.items, range.startIndex, range.endIndex);
      const result = withMeta ? { hit: true as const, items: elements.map(withOrigin) } : { hit: true as const, values: elements.map((e) => e.v) };
      let bytes = 0;
      for (const e of elements) bytes += e.n + SHARED_ELEMENT_BYTES;
      shared = { result: deepFreeze(result), bytes: 2 * bytes };
      this.fetchResults?.set(memoKey, shared);
    }
    return shared.result;
  }

  listFetchWithMeta(cache: string, list: string, range: Range): ListItem[] | undefined {
    const state = this.readList(cache, list);
    return state && fetchRange(state.items, range.startIndex, range.endIndex).map(withOrigin);
  }

  listRetain(cache: string, list: string, range: Range, ttl: CollectionTtl): void {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    if (!state) return;
    state.remove(retainRange(state.items, range.startIndex, range.endIndex));
    this.commitList(k, state, ttl, true);
  }

  listRemoveValue(cache: string, list: string, value: Value): void {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    if (!state) return;
    const matches = equalTo(value);
    const removed = removeWhere(state.items, (e) => matches(e.v));
    if (removed.length === 0) return;
    state.remove(removed);
    this.commitList(k, state, undefined, true);
  }

  listRemoveOrigin(cache: string, list: string, origin: { page: number; seq: number }): boolean {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    if (!state) return false;
    const removed = removeWhere(state.items, (e) => e.o !== undefined && e.o.seq === origin.seq && e.o.page === origin.page);
    if (removed.length === 0) return false;
    state.remove(removed);
    this.commitList(k, state, undefined, true);
    return true;
  }

  listPop(cache: string, list: string, end: 'back' | 'front'): { value: Value; length: number } | undefined {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    if (!state) return undefined;
    const e = (end === 'back' ? state.items.popBack() : state.items.popFront())!;
    state.remove([e]);
    this.commitList(k, state, undefined, true);
    return { value: e.v, length: state.items.length };
  }

  listLength(cache: string, list: string): number | undefined {
    return this.readList(cache, list)?.items.length;
  }

  listErase(cache: string, list: string, ranges: readonly ListEraseRange[] | undefined): number | undefined {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    if (!state) return undefined;
    const removed = eraseRanges(state.items, ranges);
    if (removed.length === 0) return state.items.length;
    state.remove(removed);
    this.commitList(k, state, undefined, true);
    return state.items.length;
  }

  // -- dictionaries ------------------------------------------------------------------------------

  dictionarySetFields(cache: string, dictionary: string, items: readonly DictionaryItem[], ttl: CollectionTtl): void {
    const k = this.key(cache, dictionary);
    const state = this.collectionAt('dictionary', k, cache, dictionary);
    const next = new Map<string, FieldValue>();
    for (const { field, value } of items) next.set(field, fieldValue(field, value));
    this.checkDictionary(k, dictionary, state, next);
    const target = state ?? new DictionaryState();
    for (const [field, value] of next) target.put(flatText(field), value);
    this.commitCollection(k, { kind: 'dictionary', state: target }, target.fields.size, ttl, state !== undefined);
  }

  dictionaryGetFields(cache: string, dictionary: string, fields: readonly string[]): Array<Value | undefined> | undefined {
    const state = this.collectionAt('dictionary', this.key(cache, dictionary), cache, dictionary);
    return state && fields.map((field) => state.fields.get(field)?.v);
  }

  dictionaryFetch(cache: string, dictionary: string): DictionaryItem[] | undefined {
    const state = this.collectionAt('dictionary', this.key(cache, dictionary), cache, dictionary);
    return state && [...state.fields].map(([field, { v }]) => ({ field, value: v }));
  }

  dictionaryIncrement(cache: string, dictionary: string, field: string, amount: number, ttl: CollectionTtl): bigint {
    const k = this.key(cache, dictionary);
    const state = this.collectionAt('dictionary', k, cache, dictionary);
    const sum = incremented(cache, dictionary, state?.fields.get(field)?.v, amount, field);
    const value = fieldValue(field, sum.toString());
    if (value.n > this.config.maxElementBytes) throw incrementedFieldTooLarge(dictionary, field, value.n, this.config.maxElementBytes);
    this.checkDictionary(k, dictionary, state, new Map([[field, value]]));
    const target = state ?? new DictionaryState();
    target.put(flatText(field), value);
    this.commitCollection(k, { kind: 'dictionary', state: target }, target.fields.size, ttl, state !== undefined);
    return sum;
  }

  dictionaryRemoveFields(cache: string, dictionary: string, fields: readonly string[] | undefined): void {
    const k = this.key(cache, dictionary);
    const state = this.collectionAt('dictionary', k, cache, dictionary);
    const removed = fields ?? (state ? [...state.fields.keys()] : []);
    if (!state || !removed.some((field) => state.fields.has(field))) return;
    for (const field of removed) state.remove(field);
    this.commitCollection(k, { kind: 'dictionary', state }, state.fields.size, undefined, true);
  }

  dictionaryLength(cache: string, dictionary: string): number | undefined {
    return this.collectionAt('dictionary', this.key(cache, dictionary), cache, dictionary)?.fields.size;
  }

  // -- sets --------------------------------------------------------------------------------------

  setAddElements(cache: string, set: string, elements: readonly Value[], ttl: CollectionTtl): void {
    const k = this.key(cache, set);
    const state = this.collectionAt('set', k, cache, set);
    const added = new Set<string>();
    for (const e of elements) {
      const member = memberOf(e);
      if (!state?.members.has(member)) added.add(member);
    }
    const planned = state?.plan() ?? new Tally();
    for (const member of added) planned.count(member.length, memberFootprint(member));
    const count = (state?.members.size ?? 0) + added.size;
    if (count > this.config.maxSetElements) throw tooManyElements(set, count, this.config.maxSetElements);
    this.checkCollection(k, set, planned);
    const target = state ?? new SetState();
    for (const member of added) target.add(member);
    this.commitCollection(k, { kind: 'set', state: target }, target.members.size, ttl, state !== undefined);
  }

  setRemoveElements(cache: string, set: string, elements: readonly Value[] | undefined): void {
    const k = this.key(cache, set);
    const state = this.collectionAt('set', k, cache, set);
    if (!state) return;
    const removed = elements?.map(memberOf) ?? [...state.members];
    if (!removed.some((member) => state.members.has(member))) return;
    for (const member of removed) state.remove(member);
    this.commitCollection(k, { kind: 'set', state }, state.members.size, undefined, true);
  }

  setFetch(cache: string, set: string): Uint8Array[] | undefined {
    const state = this.collectionAt('set', this.key(cache, set), cache, set);
    return state && [...state.members].map(memberBytes);
  }

  setContainsElements(cache: string, set: string, elements: readonly Value[]): boolean[] | undefined {
    const state = this.collectionAt('set', this.key(cache, set), cache, set);
    return state && elements.map((e) => state.members.has(memberOf(e)));
  }

  setLength(cache: string, set: string): number | undefined {
    return this.collectionAt('set', this.key(cache, set), cache, set)?.members.size;
  }

  setPop(cache: string, set: string, count: number): Uint8Array[] | undefined {
    const k = this.key(cache, set);
    const state = this.collectionAt('set', k, cache, set);
    if (!state) return undefined;
    const chosen = chooseMembers(state.members, count);
    for (const member of chosen) state.remove(member);
    this.commitCollection(k, { kind: 'set', state }, state.members.size, undefined, true);
    return chosen.map(memberBytes);
  }

  setSample(cache: string, set: string, limit: number): Uint8Array[] | undefined {
    const state = this.collectionAt('set', this.key(cache, set), cache, set);
    return state && chooseMembers(state.members, limit).map(memberBytes);
  }

  // -- sorted sets -------------------------------------------------------------------------------

  sortedSetPutElements(cache: string, sortedSet: string, elements: readonly SortedSetInput[], ttl: CollectionTtl): void {
    this.putRanked(cache, sortedSet, elements.map(({ value, score }) => ({ m: memberOf(value), s: score })), ttl);
  }

  sortedSetFetchByRank(cache: string, sortedSet: string, range: Range, order: SortedSetOrder): ScoredElement[] | undefined {
    return this.readSortedSet(cache, sortedSet)?.byRank(range.startIndex, range.endIndex, order).map(scored);
  }

  sortedSetFetchByScore(cache: string, sortedSet: string, scores: ScoreRange, order: SortedSetOrder, offset: number, count: number | undefined): ScoredElement[] | undefined {
    return this.readSortedSet(cache, sortedSet)?.byScore(scores, order, offset, count).map(scored);
  }

  sortedSetGetScores(cache: string, sortedSet: string, values: readonly Value[]): Array<number | undefined> | undefined {
    const state = this.readSortedSet(cache, sortedSet);
    return state && values.map((v) => state.score(memberOf(v)));
  }

  sortedSetGetRank(cache: string, sortedSet: string, value: Value, order: SortedSetOrder): number | null | undefined {
    const state = this.readSortedSet(cache, sortedSet);
    return state && (state.rank(memberOf(value), order) ?? null);
  }

  sortedSetIncrementScore(cache: string, sortedSet: string, value: Value, amount: number, ttl: CollectionTtl): number {
    const member = memberOf(value);
    const score = (this.readSortedSet(cache, sortedSet)?.score(member) ?? 0) + amount;
    if (!Number.isFinite(score)) throw scoreNotFinite(sortedSet, score);
    this.putRanked(cache, sortedSet, [{ m: member, s: score }], ttl);
    return score;
  }

  sortedSetRemoveElements(cache: string, sortedSet: string, values: readonly Value[] | undefined): void {
    const k = this.key(cache, sortedSet);
    const state = this.collectionAt('sortedSet', k, cache, sortedSet);
    if (!state) return;
    if (values === undefined) {
      this.lru.delete(k);
      return;
    }
    const removed = values.map(memberOf);
    if (!removed.some((member) => state.has(member))) return;
    state.remove(removed);
    this.commitCollection(k, { kind: 'sortedSet', state }, state.size, undefined, true);
  }

  sortedSetLength(cache: string, sortedSet: string, scores?: ScoreRange): number | undefined {
    const state = this.readSortedSet(cache, sortedSet);
    return state && (scores ? state.countByScore(scores) : state.size);
  }

  sortedSetUnionStore(cache: string, sortedSet: string, sources: readonly SortedSetSource[], aggregate: SortedSetAggregate, ttlMs: number | undefined): number {
    const k = this.key(cache, sortedSet);
    const held = this.collectionAt('sortedSet', k, cache, sortedSet);
    const scores = new Map<string, number>();
    for (const source of sources) {
      for (const { m, s } of this.readSortedSet(cache, source.sortedSet)?.all() ?? []) {
        const weighted = zeroIfNaN(s * source.weight);
        const before = scores.get(m);
        scores.set(m, before === undefined ? weighted : combine(aggregate, before, weighted));
      }
    }
    const ranked: Ranked[] = [];
    for (const [m, s] of scores) {
      if (!Number.isFinite(s)) throw scoreNotFinite(sortedSet, s);
      ranked.push({ m, s });
    }
    this.checkSortedSet(k, sortedSet, undefined, ranked);
    const state = new SortedSetState();
    state.put(ranked);
    this.commitCollection(k, { kind: 'sortedSet', state }, state.size, { ttlMs, refresh: true }, held !== undefined);
    return state.size;
  }

  itemGetType(cache: string, key: string): ItemType | undefined {
    return this.lru.get(this.key(cache, key))?.kind;
  }

  // -- scalars -----------------------------------------------------------------------------------

  get(cache: string, key: string): Value | undefined {
    const entry = this.lru.get(this.key(cache, key));
    if (entry && entry.kind !== 'scalar') throw wrongKind(cache, key, entry.kind, 'scalar');
    return entry?.value;
  }

  set(cache: string, key: string, value: Value, ttlMs: number | undefined): void {
    const k = this.key(cache, key);
    this.lru.set(flatText(k), this.scalarEntry(k, key, value), { ttl: ttlMs ?? this.defaultTtlMs });
  }

  changeTtl(cache: string, key: string, ttlMs: number, only: 'increase' | 'decrease'): 'set' | 'notSet' | 'miss' {
    const k = this.key(cache, key);
    const entry = this.lru.get(k);
    if (entry === undefined) return 'miss';
    const remaining = Math.max(0, Math.floor(this.lru.getRemainingTTL(k)));
    if (only === 'increase' ? ttlMs <= remaining : ttlMs >= remaining) return 'notSet';
    this.lru.set(k, entry, { ttl: ttlMs });
    return 'set';
  }

  increment(cache: string, key: string, amount: number, ttlMs: number | undefined): bigint {
    const k = this.key(cache, key);
    const held = this.lru.get(k);
    if (held && held.kind !== 'scalar') throw wrongKind(cache, key, held.kind, 'scalar');
    const next = incremented(cache, key, held?.value, amount);
    this.lru.set(flatText(k), this.scalarEntry(k, key, next.toString()), { ttl: ttlMs ?? this.defaultTtlMs });
    return next;
  }

  setIf(cache: string, key: string, value: Value, condition: StoreCondition, ttlMs: number | undefined): boolean {
    const k = this.key(cache, key);
    const entry = this.scalarEntry(k, key, value);
    const held = this.lru.get(k);
    const state = held === undefined ? { kind: 'none' as const } : held.kind === 'scalar' ? { kind: 'scalar' as const, value: held.value } : { kind: held.kind };
    if (!conditionHolds(condition, state, () => wrongKind(cache, key, state.kind, 'scalar'))) return false;
    this.lru.set(flatText(k), entry, { ttl: ttlMs ?? this.defaultTtlMs });
    return true;
  }

  delete(cache: string, key: string): void {
    this.lru.delete(this.key(cache, key));
  }

  itemGetTtl(cache: string, key: string): number | undefined {
    const k = this.key(cache, key);
    if (this.lru.get(k) === undefined) return undefined;
    return Math.max(0, Math.floor(this.lru.getRemainingTTL(k)));
  }

  updateTtl(cache: string, key: string, ttlMs: number): boolean {
    const k = this.key(cache, key);
    const entry = this.lru.get(k);
    if (entry === undefined) return false;
    this.lru.set(k, entry, { ttl: ttlMs });
    return true;
  }

  // -- publish + append --------------------------------------------------------------------------

  pubAppend(cache: string, topic: string, list: string, value: Value, tokenId: string | undefined, options: PushOptions): PubAppendResult {
    if (!this.publisher) throw new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, 'pubAppend needs a topic engine in the same process');
    const publisher = this.publisher;
    this.key(cache, list); // NOT_FOUND_ERROR first, as for every cache operation
    publisher.checkTopic?.(cache, topic);
    const e = element(value, tokenId);
    let published: Required<PublishResult> = { seq: 0, page: 0, ts: 0 };
    // Publishing runs after every limit check and before the append; if it throws (e.g.
    // topics_limit_exceeded) nothing is appended.
    const length = this.push(cache, list, [e], options, 'back', () => {
      const { seq, page, ts } = publisher.publishNow(cache, topic, value, tokenId);
      published = { seq, page, ts };
      e.o = { page, seq, ts, tokenId };
    });
    return { ...published, length };
  }

  // -- internals ---------------------------------------------------------------------------------

  /** A scalar entry owning `value`, refused (before anything changes) when it breaks a limit. */
  private scalarEntry(k: string, key: string, value: Value): Entry {
    const { v, payload, footprint } = ownValue(value);
    this.checkItem(key, measureText(key).utf8 + payload, ENTRY_OVERHEAD + measureText(k).heap + footprint);
    return { kind: 'scalar', value: v, payload, footprint };
  }

  private push(cache: string, list: string, elements: Element[], options: PushOptions, end: 'back' | 'front', beforeApply?: () => void): number {
    const k = this.key(cache, list);
    const state = this.listAt(k, list);
    const target = state ?? new ListState();
    const plan = this.planChecked(k, list, target, elements, options.truncateToSize, end);
    beforeApply?.();
    if (end === 'back') {
      target.add(elements, plan.dropNew);
      target.remove(pushBack(target.items, elements, options.truncateToSize, plan));
    } else {
      target.add(elements, 0, elements.length - plan.dropNew);
      target.remove(pushFront(target.items, elements, options.truncateToSize, plan));
    }
    this.commitList(k, target, options.ttl, state !== undefined);
    return target.items.length;
  }

  /** Plans a push and refuses it, before anything changes, when the result would break a limit. */
  private planChecked(k: string, list: string, state: ListState, elements: readonly Element[], truncateToSize: number | undefined, end: 'back' | 'front'): PushPlan {
    const plan = planPush(state.items.length, elements.length, truncateToSize);
    if (plan.newLength > this.config.maxListLength) {
      throw limitExceeded(LimitCause.LIST_LENGTH, `list "${list}" would hold ${plan.newLength} elements; at most ${this.config.maxListLength} are allowed`);
    }
    let payload = state.payload;
    let footprint = state.footprint;
    const length = state.items.length;
    for (let i = 0; i < plan.dropExisting; i++) {
      const gone = state.items.at(end === 'back' ? i : length - 1 - i);
      payload -= gone.n;
      footprint -= gone.f;
    }
    const keptFrom = end === 'back' ? plan.dropNew : 0;
    const keptTo = end === 'back' ? elements.length : elements.length - plan.dropNew;
    for (let i = keptFrom; i < keptTo; i++) { payload += elements[i]!.n; footprint += elements[i]!.f; }
    // Capacity after the push is at most the larger of today's and the next power of two.
    const slots = Math.max(state.items.capacity, nextPowerOfTwo(plan.newLength));
    this.checkItem(list, measureText(list).utf8 + payload, ENTRY_OVERHEAD + measureText(k).heap + footprint + slots * SLOT_BYTES);
    return plan;
  }

  private checkItem(key: string, payload: number, footprint: number): void {
    if (payload > this.config.maxItemBytes) {
      throw limitExceeded(LimitCause.ITEM_SIZE, `item "${key}" would be ${payload} bytes; at most ${this.config.maxItemBytes} are allowed`);
    }
    if (footprint > this.config.maxBytes) {
      throw limitExceeded(LimitCause.ITEM_SIZE, `item "${key}" would take ${footprint} bytes of memory, more than the whole store (${this.config.maxBytes})`);
    }
  }

  /** Refuses, before anything changes, a dictionary write of `next` fields that would break a limit. */
  private checkDictionary(k: string, dictionary: string, state: DictionaryState | undefined, next: ReadonlyMap<string, FieldValue>): void {
    let count = state?.fields.size ?? 0;
    const planned = state?.plan() ?? new Tally();
    for (const [field, value] of next) {
      const old = state?.fields.get(field);
      if (old) planned.count(old.n, old.f, -1); else count++;
      planned.count(value.n, value.f);
    }
    if (count > this.config.maxDictionaryFields) {
      throw tooManyFields(dictionary, count, this.config.maxDictionaryFields);
    }
    this.checkCollection(k, dictionary, planned);
  }

  private readSortedSet(cache: string, sortedSet: string): SortedSetState | undefined {
    return this.collectionAt('sortedSet', this.key(cache, sortedSet), cache, sortedSet);
  }

  /** Puts the elements into the sorted set, creating it; refused before anything changes when the
   * result would break a limit. */
  private putRanked(cache: string, sortedSet: string, ranked: readonly Ranked[], ttl: CollectionTtl): void {
    const k = this.key(cache, sortedSet);
    const state = this.collectionAt('sortedSet', k, cache, sortedSet);
    this.checkSortedSet(k, sortedSet, state, ranked);
    const target = state ?? new SortedSetState();
    target.put(ranked);
    this.commitCollection(k, { kind: 'sortedSet', state: target }, target.size, ttl, state !== undefined);
  }

  /** Refuses, before anything changes, `state` (none: an empty one) with `ranked` put when it would
   * hold more than store.maxSortedSetElements elements or break an item limit. */
  private checkSortedSet(k: string, sortedSet: string, state: SortedSetState | undefined, ranked: readonly Ranked[]): void {
    const fresh = new Set<string>();
    for (const { m } of ranked) if (!state?.has(m)) fresh.add(m);
    const planned = state?.plan() ?? new Tally();
    for (const m of fresh) planned.count(rankedPayload(m), rankedFootprint(m));
    const count = (state?.size ?? 0) + fresh.size;
    if (count > this.config.maxSortedSetElements) throw tooManySortedSetElements(sortedSet, count, this.config.maxSortedSetElements);
    this.checkCollection(k, sortedSet, planned);
  }

  /** Refuses a dictionary, set or sorted set at `k` that would hold `planned` when it breaks an item limit. */
  private checkCollection(k: string, key: string, planned: Tally): void {
    this.checkItem(key, measureText(key).utf8 + planned.payload, ENTRY_OVERHEAD + measureText(k).heap + planned.footprint);
  }

  /** Stores the dictionary or set (holding `size` fields or elements) under a fresh wrapper (so its
   * size is recounted), or deletes it once empty; the TTL as commitList's. */
  private commitCollection(k: string, entry: CollectionEntry, size: number, ttl: CollectionTtl | undefined, existed: boolean): void {
    if (size === 0) {
      this.lru.delete(k);
      return;
    }
    const keepExpiry = existed && (ttl === undefined || !ttl.refresh);
    this.lru.set(existed ? k : flatText(k), entry, { ttl: ttl?.ttlMs ?? this.defaultTtlMs, noUpdateTTL: keepExpiry });
  }

  /** The live dictionary or set at `k`, or undefined; another kind there is FAILED_PRECONDITION_ERROR. */
  private collectionAt<K extends CollectionEntry['kind']>(kind: K, k: string, cache: string, key: string): CollectionStates[K] | undefined {
    const entry = this.lru.get(k);
    if (entry === undefined) return undefined;
    if (entry.kind !== kind) throw wrongKind(cache, key, entry.kind, kind);
    return (entry as CollectionEntry).state as CollectionStates[K];
  }

  /** Stores the list under a fresh wrapper (so its size is recounted), or deletes it once empty. */
  private commitList(k: string, state: ListState, ttl: CollectionTtl | undefined, existed: boolean): void {
    state.version = ++this.versions;
    if (state.items.length === 0) {
      this.lru.delete(k);
      return;
    }
    const keepExpiry = existed && (ttl === undefined || !ttl.refresh);
    // A new entry keeps its key string: make it one that pins no decoded frame.
    this.lru.set(existed ? k : flatText(k), { kind: 'list', state }, { ttl: ttl?.ttlMs ?? this.defaultTtlMs, noUpdateTTL: keepExpiry });
  }

  private readList(cache: string, list: string): ListState | undefined {
    return this.listAt(this.key(cache, list), list);
  }

  /** The live list at `k` (an expired one is dropped by the get), or undefined. */
  private listAt(k: string, list: string): ListState | undefined {
    const entry = this.lru.get(k);
    if (entry === undefined) return undefined;
    if (entry.kind !== 'list') throw wrongKind(k.slice(0, k.indexOf('\u0000')), list, entry.kind, 'list');
    return entry.state;
  }

  /** The LRU key (flattened where an entry is created: see flatText). */
  private key(cache: string, key: string): string {
    if (this.caches && !this.caches.has(cache)) throw notFound(`cache "${cache}" does not exist`);
    return `${cache}\u0000${key}`;
  }
}

/** A list element owning its value. `origin` = true (with the publisher's tokenId) reserves the
 * footprint of the origin pubAppend fills in once the publish has its (page, seq). */
function element(value: Value, ...origin: [tokenId: string | undefined] | []): Element {
  const { v, payload, footprint } = ownValue(value);
  let f = ELEMENT_OVERHEAD + footprint;
  if (origin.length > 0) f += ORIGIN_OVERHEAD + (origin[0] === undefined ? 0 : measureText(origin[0]).heap);
  return { v, n: payload, f, o: undefined };
}

/** A dictionary field's value owning its memory, with the field name's share of payload and footprint. */
function fieldValue(field: string, value: Value): FieldValue {
  const { v, payload, footprint } = ownValue(value);
  const name = measureText(field);
  return { v, n: name.utf8 + payload, f: DICTIONARY_FIELD_OVERHEAD + name.heap + footprint };
}

/** A set element's bytes (text as its UTF-8) as the one-byte string SetState keeps. */
function memberOf(value: Value): string {
  const bytes = typeof value === 'string' ? textBytes(value) : value;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function memberBytes(member: string): Uint8Array {
  return new Uint8Array(Buffer.from(member, 'latin1'));
}

function memberFootprint(member: string): number {
  return SET_ELEMENT_OVERHEAD + measureText(member).heap;
}

function scored({ m, s }: Ranked): ScoredElement {
  return { value: memberBytes(m), score: s };
}

/** A union's NaN (a weight of 0 times an infinity, or +inf plus -inf) counts 0, as in Redis. */
function zeroIfNaN(score: number): number {
  return Number.isNaN(score) ? 0 : score;
}

function combine(aggregate: SortedSetAggregate, a: number, b: number): number {
  if (aggregate === 'min') return Math.min(a, b);
  if (aggregate === 'max') return Math.max(a, b);
  return zeroIfNaN(a + b);
}

/** min(count, size) distinct members chosen uniformly at random (a partial Fisher-Yates shuffle). */
function chooseMembers(members: ReadonlySet<string>, count: number): string[] {
  const all = [...members];
  const n = Math.min(count, all.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(Math.random() * (all.length - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, n);
}

/** A memoized fetch reply and what it holds: the element array (values are shared with the list)
 * plus, counted twice, the payload for the encoding the reply writer keeps beside it. */
interface SharedFetch { result: Readonly<ListFetchResult | ListFetchWithMetaResult>; bytes: number }
/** Per element of a shared fetch: an array slot, or a ListItem object with its fields. */
const SHARED_ELEMENT_BYTES = 64;

function deepFreeze<T extends { hit: true; values?: Value[]; items?: ListItem[] }>(result: T): T {
  // Binary values are not frozen (typed arrays cannot be); nothing writes to them.
  if (result.items) for (const item of result.items) Object.freeze(item);
  Object.freeze(result.values ?? result.items);
  return Object.freeze(result);
}

function withOrigin(e: Element): ListItem {
  if (!e.o) return { value: e.v };
  const item: ListItem = { value: e.v, page: e.o.page, seq: e.o.seq, ts: e.o.ts };
  if (e.o.tokenId !== undefined) item.tokenId = e.o.tokenId;
  return item;
}

/** Footprint of one LRU entry: the key string, the entry, and its value or elements and slots. */
function entryFootprint(entry: Entry, key: string): number {
  const base = ENTRY_OVERHEAD + measureText(key).heap;
  if (entry.kind === 'scalar') return base + entry.footprint;
  if (entry.kind !== 'list') return base + entry.state.footprint;
  return base + entry.state.footprint + entry.state.items.capacity * SLOT_BYTES;
}

function nextPowerOfTwo(n: number): number {
  let p = 4;
  while (p < n) p *= 2;
  return p;
}

