/** Lists, dictionaries, sets, sorted sets and scalar items over several shards: each cache's items live on its shard. */
import type { DictionaryItem, ItemType, ListEraseRange, ListItem, PubAppendResult, ScoredElement, SortedSetAggregate, SortedSetOrder, SortedSetSource, Value } from '../../protocol/index.js';
import type { Maybe } from '../../core/maybe.js';
import type { CacheEngine, CollectionTtl, PushOptions, Range, ScoreRange, SortedSetInput, StoreCondition, StoreStats } from '../../store/cache-store.js';

export class ShardedCache implements CacheEngine {
  /** The fast path only when every shard has it (they are all one kind of store). */
  readonly listFetchResult: CacheEngine['listFetchResult'];

  constructor(private readonly shards: readonly CacheEngine[], private readonly of: (cache: string) => number) {
    if (shards.every((s) => s.listFetchResult)) {
      this.listFetchResult = (cache, list, range, withMeta) => this.on(cache).listFetchResult!(cache, list, range, withMeta);
    }
  }

  private on(cache: string): CacheEngine {
    return this.shards[this.of(cache)]!;
  }

  listPushBack(cache: string, list: string, values: Value[], options: PushOptions): Maybe<number> {
    return this.on(cache).listPushBack(cache, list, values, options);
  }

  listPushFront(cache: string, list: string, values: Value[], options: PushOptions): Maybe<number> {
    return this.on(cache).listPushFront(cache, list, values, options);
  }

  listFetch(cache: string, list: string, range: Range): Maybe<Value[] | undefined> {
    return this.on(cache).listFetch(cache, list, range);
  }

  listFetchWithMeta(cache: string, list: string, range: Range): Maybe<ListItem[] | undefined> {
    return this.on(cache).listFetchWithMeta(cache, list, range);
  }

  listRetain(cache: string, list: string, range: Range, ttl: CollectionTtl | undefined): Maybe<void> {
    return this.on(cache).listRetain(cache, list, range, ttl);
  }

  listRemoveValue(cache: string, list: string, value: Value): Maybe<void> {
    return this.on(cache).listRemoveValue(cache, list, value);
  }

  listPop(cache: string, list: string, end: 'back' | 'front'): Maybe<{ value: Value; length: number } | undefined> {
    return this.on(cache).listPop(cache, list, end);
  }

  dictionarySetFields(cache: string, dictionary: string, items: readonly DictionaryItem[], ttl: CollectionTtl): Maybe<void> {
    return this.on(cache).dictionarySetFields(cache, dictionary, items, ttl);
  }

  dictionaryGetFields(cache: string, dictionary: string, fields: readonly string[]): Maybe<Array<Value | undefined> | undefined> {
    return this.on(cache).dictionaryGetFields(cache, dictionary, fields);
  }

  dictionaryFetch(cache: string, dictionary: string): Maybe<DictionaryItem[] | undefined> {
    return this.on(cache).dictionaryFetch(cache, dictionary);
  }

  dictionaryIncrement(cache: string, dictionary: string, field: string, amount: number, ttl: CollectionTtl): Maybe<bigint> {
    return this.on(cache).dictionaryIncrement(cache, dictionary, field, amount, ttl);
  }

  dictionaryRemoveFields(cache: string, dictionary: string, fields: readonly string[] | undefined): Maybe<void> {
    return this.on(cache).dictionaryRemoveFields(cache, dictionary, fields);
  }

  dictionaryLength(cache: string, dictionary: string): Maybe<number | undefined> {
    return this.on(cache).dictionaryLength(cache, dictionary);
  }

  setAddElements(cache: string, set: string, elements: readonly Value[], ttl: CollectionTtl): Maybe<void> {
    return this.on(cache).setAddElements(cache, set, elements, ttl);
  }

  setRemoveElements(cache: string, set: string, elements: readonly Value[] | undefined): Maybe<void> {
    return this.on(cache).setRemoveElements(cache, set, elements);
  }

  setFetch(cache: string, set: string): Maybe<Uint8Array[] | undefined> {
    return this.on(cache).setFetch(cache, set);
  }

  setContainsElements(cache: string, set: string, elements: readonly Value[]): Maybe<boolean[] | undefined> {
    return this.on(cache).setContainsElements(cache, set, elements);
  }

  setLength(cache: string, set: string): Maybe<number | undefined> {
    return this.on(cache).setLength(cache, set);
  }

  setPop(cache: string, set: string, count: number): Maybe<Uint8Array[] | undefined> {
    return this.on(cache).setPop(cache, set, count);
  }

  setSample(cache: string, set: string, limit: number): Maybe<Uint8Array[] | undefined> {
    return this.on(cache).setSample(cache, set, limit);
  }

  sortedSetPutElements(cache: string, sortedSet: string, elements: readonly SortedSetInput[], ttl: CollectionTtl): Maybe<void> {
    return this.on(cache).sortedSetPutElements(cache, sortedSet, elements, ttl);
  }

  sortedSetFetchByRank(cache: string, sortedSet: string, range: Range, order: SortedSetOrder): Maybe<ScoredElement[] | undefined> {
    return this.on(cache).sortedSetFetchByRank(cache, sortedSet, range, order);
  }

  sortedSetFetchByScore(cache: string, sortedSet: string, scores: ScoreRange, order: SortedSetOrder, offset: number, count: number | undefined): Maybe<ScoredElement[] | undefined> {
    return this.on(cache).sortedSetFetchByScore(cache, sortedSet, scores, order, offset, count);
  }

  sortedSetGetScores(cache: string, sortedSet: string, values: readonly Value[]): Maybe<Array<number | undefined> | undefined> {
    return this.on(cache).sortedSetGetScores(cache, sortedSet, values);
  }

  sortedSetGetRank(cache: string, sortedSet: string, value: Value, order: SortedSetOrder): Maybe<number | null | undefined> {
    return this.on(cache).sortedSetGetRank(cache, sortedSet, value, order);
  }

  sortedSetIncrementScore(cache: string, sortedSet: string, value: Value, amount: number, ttl: CollectionTtl): Maybe<number> {
    return this.on(cache).sortedSetIncrementScore(cache, sortedSet, value, amount, ttl);
  }

  sortedSetRemoveElements(cache: string, sortedSet: string, values: readonly Value[] | undefined): Maybe<void> {
    return this.on(cache).sortedSetRemoveElements(cache, sortedSet, values);
  }

  sortedSetLength(cache: string, sortedSet: string, scores?: ScoreRange): Maybe<number | undefined> {
    return this.on(cache).sortedSetLength(cache, sortedSet, scores);
  }

  /** Sources are sorted sets of the same cache, so on the same shard. */
  sortedSetUnionStore(cache: string, sortedSet: string, sources: readonly SortedSetSource[], aggregate: SortedSetAggregate, ttlMs: number | undefined): Maybe<number> {
    return this.on(cache).sortedSetUnionStore(cache, sortedSet, sources, aggregate, ttlMs);
  }

  itemGetType(cache: string, key: string): Maybe<ItemType | undefined> {
    return this.on(cache).itemGetType(cache, key);
  }

  listLength(cache: string, list: string): Maybe<number | undefined> {
    return this.on(cache).listLength(cache, list);
  }

  listErase(cache: string, list: string, ranges: readonly ListEraseRange[] | undefined): Maybe<number | undefined> {
    return this.on(cache).listErase(cache, list, ranges);
  }

  get(cache: string, key: string): Maybe<Value | undefined> {
    return this.on(cache).get(cache, key);
  }

  set(cache: string, key: string, value: Value, ttlMs: number | undefined): Maybe<void> {
    return this.on(cache).set(cache, key, value, ttlMs);
  }

  delete(cache: string, key: string): Maybe<void> {
    return this.on(cache).delete(cache, key);
  }

  itemGetTtl(cache: string, key: string): Maybe<number | undefined> {
    return this.on(cache).itemGetTtl(cache, key);
  }

  updateTtl(cache: string, key: string, ttlMs: number): Maybe<boolean> {
    return this.on(cache).updateTtl(cache, key, ttlMs);
  }

  changeTtl(cache: string, key: string, ttlMs: number, only: 'increase' | 'decrease'): Maybe<'set' | 'notSet' | 'miss'> {
    return this.on(cache).changeTtl(cache, key, ttlMs, only);
  }

  increment(cache: string, key: string, amount: number, ttlMs: number | undefined): Maybe<bigint> {
    return this.on(cache).increment(cache, key, amount, ttlMs);
  }

  setIf(cache: string, key: string, value: Value, condition: StoreCondition, ttlMs: number | undefined): Maybe<boolean> {
    return this.on(cache).setIf(cache, key, value, condition, ttlMs);
  }

  pubAppend(cache: string, topic: string, list: string, value: Value, tokenId: string | undefined, options: PushOptions): Maybe<PubAppendResult> {
    return this.on(cache).pubAppend(cache, topic, list, value, tokenId, options);
  }

  listRemoveOrigin(cache: string, list: string, origin: { page: number; seq: number }): Maybe<boolean> {
    return this.on(cache).listRemoveOrigin(cache, list, origin);
  }

  /** Summed over the shards, each its own Redis's figures; maxBytes 0 (no bound) when any shard
   * has none. */
  stats(): StoreStats {
    const total: StoreStats = { items: 0, bytes: 0, maxBytes: 0 };
    let unbounded = false;
    for (const s of this.shards) {
      const one = s.stats();
      total.items += one.items;
      total.bytes += one.bytes;
      total.maxBytes += one.maxBytes;
      unbounded ||= one.maxBytes === 0;
    }
    if (unbounded) total.maxBytes = 0;
    return total;
  }

  start(): void {
    for (const s of this.shards) s.start();
  }

  close(): void {
    for (const s of this.shards) s.close();
  }
}
