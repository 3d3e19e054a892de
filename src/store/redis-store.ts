/** Cache data (scalars, lists, dictionaries, sets, sorted sets) in Redis, shared by every node of a deployment: the CacheEngine of cache-store.ts
 * with the memory store's Momento semantics, limits and TTL rules. Each operation is one Lua
 * script (scripts.ts): one round trip, atomic, and a refused write changes nothing. Values are
 * stored with their kind and, for pubAppend, their topic origin (element.ts).
 *
 * What differs from the memory store, by design:
 * - no LRU byte bound (store.maxBytes, store.fetchCacheBytes): Redis's maxmemory and its policy
 *   own memory (docs/operations.md); a Redis out of memory refuses writes with SERVER_UNAVAILABLE;
 * - a Redis that is down or slow fails requests with SERVER_UNAVAILABLE or TIMEOUT_ERROR
 *   (connection.ts), both retryable;
 * - pubAppend's topic half lives in the Redis topic engine (RedisPubAppender), which runs the list
 *   append and the publish as one script; without one it is refused, never done in two steps. */
import {
  ErrorCode, LimitCause, type DictionaryItem, type ItemType, type ListEraseRange, type PubAppendResult, type ScoredElement, type SortedSetAggregate,
  type SortedSetOrder, type SortedSetSource, type Value,
} from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import type { StoreConfig } from '../core/config.js';
import { TidingsError, limitExceeded, notFound } from '../core/errors.js';
import type { RedisConnection } from '../core/redis-connection.js';
import {
  incrementedFieldTooLarge, scoreNotFinite, tooManyElements, tooManyFields, tooManySortedSetElements, wrongKind,
  type CacheEngine, type CollectionTtl, type ListItem, type PushOptions, type Range, type ScoreBound, type ScoreRange, type SortedSetInput, type StoreCondition, type StoreStats,
} from './cache-store.js';
import { COMPARING, notAnInteger, overflow } from './scalar-ops.js';
import { TEXT_TAG, decodeItem, decodeValue, encodeValue, payloadBytes } from './redis/element.js';
import { textBytes } from './text-bytes.js';
import { SCRIPTS, type ScriptName } from './redis/scripts.js';

type Reply = Array<Buffer | number | null>;

/** The scripts that change nothing: a timed-out one says so (core/redis-connection.ts). */
const READS: ReadonlySet<ScriptName> = new Set(['tidingsGet', 'tidingsListFetch', 'tidingsListLength', 'tidingsItemGetTtl', 'tidingsDictionaryGet', 'tidingsDictionaryFetch', 'tidingsDictionaryLength', 'tidingsItemGetType', 'tidingsSetsRead', 'tidingsSortedRead']);

/** The kind of item a script applies to, by its name's prefix (the rest: scalars). */
const SCRIPT_KINDS: ReadonlyArray<[string, ItemType]> = [['tidingsList', 'list'], ['tidingsDictionary', 'dictionary'], ['tidingsSets', 'set'], ['tidingsSorted', 'sortedSet']];

/** How old the Redis figures stats() answers may be. */
const STATS_MAX_AGE_MS = 5000;

/** The topic half of pubAppend: runs the list append described by `list` and the publish in one
 * script (engine/redis/topic-engine.ts). `reply` is the list half's status reply; seq 0 = refused. */
export interface RedisPubAppender {
  pubAppend(cache: string, topic: string, value: Value, tokenId: string | undefined,
    list: { listKeys: [string, string]; listArgs: Array<string | number | Uint8Array>; guard?: PubAppendGuard | undefined }): Promise<{ seq: number; page: number; ts: number; reply: Reply }>;
}

/** A step that must hold for the pubAppend to run, checked and settled in the same script (a
 * moderator's accept: the node still holds the delivery). Refused: FAILED_PRECONDITION_ERROR. */
export interface PubAppendGuard { keys: string[]; args: Array<string | number>; refusal: string }

export class RedisCacheStore implements CacheEngine {
  private readonly caches: ReadonlySet<string> | undefined;
  private readonly defaultTtlMs: number;
  private lastStats: StoreStats = { items: 0, bytes: 0, maxBytes: 0 };
  private statsAt = -Infinity;
  private statsLoading = false;
  /** The write's idempotency key and window as script ARGV ('' and 0 when none; core/idempotency-key.ts). */
  idempotencyArgs: () => [string, number] = () => ['', 0];

  constructor(
    private readonly config: StoreConfig,
    private readonly clock: Clock,
    private readonly connection: RedisConnection,
    private readonly keyPrefix: string,
    private readonly appender?: RedisPubAppender,
  ) {
    this.defaultTtlMs = config.defaultTtlSec * 1000;
    this.caches = config.caches.length > 0 ? new Set(config.caches) : undefined;
    for (const [name, lua] of Object.entries(SCRIPTS)) connection.defineScript(name, lua, 2);
    this.refreshStats();
  }

  start(): void {
    // Nothing to sweep: Redis expires items itself.
  }

  close(): void {
    // The engine owns the connection and closes it.
  }

  /** Redis holds the data and its bound, so these are Redis's own figures (docs/operations.md,
   * metrics): keys in its database (DBSIZE: cache items, topics, groups, of every deployment
   * sharing it), used_memory and maxmemory (INFO memory; 0 = no bound). Synchronous, so the last
   * figures are answered and a refresh starts when they are older than STATS_MAX_AGE_MS. */
  stats(): StoreStats {
    if (this.clock.now() - this.statsAt >= STATS_MAX_AGE_MS) this.refreshStats();
    return { ...this.lastStats };
  }

  private refreshStats(): void {
    if (this.statsLoading || !this.connection.ready) return;
    this.statsLoading = true;
    this.statsAt = this.clock.now();
    this.connection.run((r) => r.pipeline().dbsize().info('memory').exec()).then((results) => {
      const items = Number(results?.[0]?.[1] ?? 0);
      const info = String(results?.[1]?.[1] ?? '');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      this.lastStats = { items, bytes: field('used_memory'), maxBytes: field('maxmemory') };
    }, () => { /* Redis away: the last figures stay */ }).finally(() => { this.statsLoading = false; });
  }

  // -- lists -------------------------------------------------------------------------------------

  listPushBack(cache: string, list: string, values: Value[], options: PushOptions): Promise<number> {
    return this.push(cache, list, values, options, 'back');
  }

  listPushFront(cache: string, list: string, values: Value[], options: PushOptions): Promise<number> {
    return this.push(cache, list, values, options, 'front');
  }

  async listFetch(cache: string, list: string, range: Range): Promise<Value[] | undefined> {
    const elements = await this.fetch(cache, list, range);
    return elements?.map(decodeValue);
  }

  async listFetchWithMeta(cache: string, list: string, range: Range): Promise<ListItem[] | undefined> {
    const elements = await this.fetch(cache, list, range);
    return elements?.map(decodeItem);
  }

  async listRetain(cache: string, list: string, range: Range, ttl: CollectionTtl | undefined): Promise<void> {
    const refresh = ttl?.refresh === true;
    await this.script('tidingsListRetain', cache, list, bound(range.startIndex), bound(range.endIndex), this.ttlOf(ttl?.ttlMs), refresh ? 1 : 0);
  }

  async listRemoveValue(cache: string, list: string, value: Value): Promise<void> {
    // The needle is the payload bytes: text compares equal to the binary of its UTF-8.
    await this.script('tidingsListRemoveValue', cache, list, encodeValue(value).subarray(1));
  }

  async listRemoveOrigin(cache: string, list: string, origin: { page: number; seq: number }): Promise<boolean> {
    const reply = await this.script('tidingsListRemoveOrigin', cache, list, String(origin.page), String(origin.seq));
    return Number(reply[1]) > 0;
  }

  async listPop(cache: string, list: string, end: 'back' | 'front'): Promise<{ value: Value; length: number } | undefined> {
    const reply = await this.script('tidingsListPop', cache, list, end);
    if (status(reply) === 'miss') return undefined;
    return { value: decodeValue(reply[1] as Buffer), length: Number(reply[2]) };
  }

  async listLength(cache: string, list: string): Promise<number | undefined> {
    const reply = await this.script('tidingsListLength', cache, list);
    return status(reply) === 'miss' ? undefined : Number(reply[1]);
  }

  async listErase(cache: string, list: string, ranges: readonly ListEraseRange[] | undefined): Promise<number | undefined> {
    const pairs = ranges?.flatMap((r) => [r.beginIndex, r.count]) ?? [];
    const reply = await this.script('tidingsListErase', cache, list, ranges === undefined ? 'all' : 'some', ...pairs);
    return status(reply) === 'miss' ? undefined : Number(reply[1]);
  }

  // -- dictionaries ------------------------------------------------------------------------------

  async dictionarySetFields(cache: string, dictionary: string, items: readonly DictionaryItem[], ttl: CollectionTtl): Promise<void> {
    // Encoded (and so copied) before the first await, as list elements are.
    const pairs = items.flatMap(({ field, value }) => [encodeValue(field), encodeValue(value)]);
    await this.script('tidingsDictionarySet', cache, dictionary, this.ttlOf(ttl.ttlMs), ttl.refresh ? 1 : 0,
      this.config.maxDictionaryFields, this.config.maxItemBytes, Buffer.byteLength(dictionary, 'utf8'), ...pairs);
  }

  async dictionaryGetFields(cache: string, dictionary: string, fields: readonly string[]): Promise<Array<Value | undefined> | undefined> {
    const reply = await this.script('tidingsDictionaryGet', cache, dictionary, ...fields.map(encodeValue));
    if (status(reply) === 'miss') return undefined;
    return reply.slice(1).map((stored) => (stored === null ? undefined : decodeValue(stored as Buffer)));
  }

  async dictionaryFetch(cache: string, dictionary: string): Promise<DictionaryItem[] | undefined> {
    const reply = await this.script('tidingsDictionaryFetch', cache, dictionary);
    if (status(reply) === 'miss') return undefined;
    const items: DictionaryItem[] = [];
    for (let i = 1; i < reply.length; i += 2) items.push({ field: decodeValue(reply[i] as Buffer) as string, value: decodeValue(reply[i + 1] as Buffer) });
    return items;
  }

  async dictionaryIncrement(cache: string, dictionary: string, field: string, amount: number, ttl: CollectionTtl): Promise<bigint> {
    const reply = await this.script('tidingsDictionaryIncrement', cache, dictionary, this.ttlOf(ttl.ttlMs), ttl.refresh ? 1 : 0, encodeValue(field),
      BigInt(amount).toString(), this.config.maxDictionaryFields, this.config.maxItemBytes, Buffer.byteLength(dictionary, 'utf8'), this.config.maxElementBytes, ...this.idempotencyArgs());
    if (status(reply) === 'element_size') throw incrementedFieldTooLarge(dictionary, field, Number(reply[1]), this.config.maxElementBytes);
    if (status(reply) === 'not_integer') throw notAnInteger(cache, dictionary, field);
    if (status(reply) === 'overflow') throw overflow(cache, dictionary, field);
    return BigInt(String(reply[1]));
  }

  async dictionaryRemoveFields(cache: string, dictionary: string, fields: readonly string[] | undefined): Promise<void> {
    await this.script('tidingsDictionaryRemove', cache, dictionary, fields === undefined ? 'all' : 'some', ...(fields ?? []).map(encodeValue));
  }

  async dictionaryLength(cache: string, dictionary: string): Promise<number | undefined> {
    const reply = await this.script('tidingsDictionaryLength', cache, dictionary);
    return status(reply) === 'miss' ? undefined : Number(reply[1]);
  }

  // -- sets --------------------------------------------------------------------------------------

  async setAddElements(cache: string, set: string, elements: readonly Value[], ttl: CollectionTtl): Promise<void> {
    await this.script('tidingsSetsAdd', cache, set, this.ttlOf(ttl.ttlMs), ttl.refresh ? 1 : 0,
      this.config.maxSetElements, this.config.maxItemBytes, Buffer.byteLength(set, 'utf8'), ...elements.map(memberBytes));
  }

  async setRemoveElements(cache: string, set: string, elements: readonly Value[] | undefined): Promise<void> {
    await this.script('tidingsSetsRemove', cache, set, elements === undefined ? 'all' : 'some', ...(elements ?? []).map(memberBytes));
  }

  async setFetch(cache: string, set: string): Promise<Uint8Array[] | undefined> {
    return members(await this.script('tidingsSetsRead', cache, set, 'fetch'));
  }

  async setContainsElements(cache: string, set: string, elements: readonly Value[]): Promise<boolean[] | undefined> {
    const reply = await this.script('tidingsSetsRead', cache, set, 'contains', ...elements.map(memberBytes));
    return status(reply) === 'miss' ? undefined : reply.slice(1).map((found) => Number(found) === 1);
  }

  async setLength(cache: string, set: string): Promise<number | undefined> {
    const reply = await this.script('tidingsSetsRead', cache, set, 'length');
    return status(reply) === 'miss' ? undefined : Number(reply[1]);
  }

  async setPop(cache: string, set: string, count: number): Promise<Uint8Array[] | undefined> {
    return members(await this.script('tidingsSetsPop', cache, set, count));
  }

  async setSample(cache: string, set: string, limit: number): Promise<Uint8Array[] | undefined> {
    return members(await this.script('tidingsSetsRead', cache, set, 'sample', limit));
  }

  // -- sorted sets -------------------------------------------------------------------------------

  async sortedSetPutElements(cache: string, sortedSet: string, elements: readonly SortedSetInput[], ttl: CollectionTtl): Promise<void> {
    await this.script('tidingsSortedPut', cache, sortedSet, this.ttlOf(ttl.ttlMs), ttl.refresh ? 1 : 0, this.config.maxSortedSetElements,
      this.config.maxItemBytes, Buffer.byteLength(sortedSet, 'utf8'), ...elements.flatMap(({ value, score }) => [String(score), memberBytes(value)]));
  }

  async sortedSetFetchByRank(cache: string, sortedSet: string, range: Range, order: SortedSetOrder): Promise<ScoredElement[] | undefined> {
    return scoredElements(await this.script('tidingsSortedRead', cache, sortedSet, 'rank', bound(range.startIndex), bound(range.endIndex), order));
  }

  async sortedSetFetchByScore(cache: string, sortedSet: string, scores: ScoreRange, order: SortedSetOrder, offset: number, count: number | undefined): Promise<ScoredElement[] | undefined> {
    return scoredElements(await this.script('tidingsSortedRead', cache, sortedSet, 'score', ...scoreBounds(scores), order, offset, count ?? -1));
  }

  async sortedSetGetScores(cache: string, sortedSet: string, values: readonly Value[]): Promise<Array<number | undefined> | undefined> {
    const reply = await this.script('tidingsSortedRead', cache, sortedSet, 'scores', ...values.map(memberBytes));
    return status(reply) === 'miss' ? undefined : values.map((_, i) => (reply[i + 1] == null ? undefined : Number(String(reply[i + 1]))));
  }

  async sortedSetGetRank(cache: string, sortedSet: string, value: Value, order: SortedSetOrder): Promise<number | null | undefined> {
    const reply = await this.script('tidingsSortedRead', cache, sortedSet, 'getrank', memberBytes(value), order);
    return status(reply) === 'miss' ? undefined : reply[1] == null ? null : Number(reply[1]);
  }

  async sortedSetIncrementScore(cache: string, sortedSet: string, value: Value, amount: number, ttl: CollectionTtl): Promise<number> {
    const member = memberBytes(value);
    const reply = await this.script('tidingsSortedIncrement', cache, sortedSet, this.ttlOf(ttl.ttlMs), ttl.refresh ? 1 : 0, this.config.maxSortedSetElements,
      this.config.maxItemBytes, Buffer.byteLength(sortedSet, 'utf8'), String(amount), member, ...this.idempotencyArgs());
    return Number(String(reply[1]));
  }

  async sortedSetRemoveElements(cache: string, sortedSet: string, values: readonly Value[] | undefined): Promise<void> {
    await this.script('tidingsSortedRemove', cache, sortedSet, values === undefined ? 'all' : 'some', ...(values ?? []).map(memberBytes));
  }

  async sortedSetLength(cache: string, sortedSet: string, scores?: ScoreRange): Promise<number | undefined> {
    const reply = await (scores
      ? this.script('tidingsSortedRead', cache, sortedSet, 'count', ...scoreBounds(scores))
      : this.script('tidingsSortedRead', cache, sortedSet, 'length'));
    return status(reply) === 'miss' ? undefined : Number(reply[1]);
  }

  async sortedSetUnionStore(cache: string, sortedSet: string, sources: readonly SortedSetSource[], aggregate: SortedSetAggregate, ttlMs: number | undefined): Promise<number> {
    const quads = sources.flatMap((source) => [...this.keys(cache, source.sortedSet), String(source.weight), source.sortedSet]);
    const reply = await this.script('tidingsSortedUnion', cache, sortedSet, this.ttlOf(ttlMs), this.config.maxSortedSetElements, this.config.maxItemBytes,
      Buffer.byteLength(sortedSet, 'utf8'), aggregate.toUpperCase(), ...quads);
    return Number(reply[1]);
  }

  async itemGetType(cache: string, key: string): Promise<ItemType | undefined> {
    const reply = await this.script('tidingsItemGetType', cache, key);
    return status(reply) === 'miss' ? undefined : String(reply[1]) as ItemType;
  }

  // -- scalars -----------------------------------------------------------------------------------

  async get(cache: string, key: string): Promise<Value | undefined> {
    const reply = await this.script('tidingsGet', cache, key);
    return status(reply) === 'miss' ? undefined : decodeValue(reply[1] as Buffer);
  }

  async set(cache: string, key: string, value: Value, ttlMs: number | undefined): Promise<void> {
    this.keys(cache, key); // NOT_FOUND_ERROR before the size, as for every cache operation
    const encoded = encodeValue(value);
    const size = Buffer.byteLength(key, 'utf8') + payloadBytes(encoded);
    if (size > this.config.maxItemBytes) {
      throw limitExceeded(LimitCause.ITEM_SIZE, `item "${key}" would be ${size} bytes; at most ${this.config.maxItemBytes} are allowed`);
    }
    await this.script('tidingsSet', cache, key, this.ttlOf(ttlMs), encoded, ...this.idempotencyArgs());
  }

  async changeTtl(cache: string, key: string, ttlMs: number, only: 'increase' | 'decrease'): Promise<'set' | 'notSet' | 'miss'> {
    const reply = await this.script('tidingsChangeTtl', cache, key, ttlMs, only);
    return status(reply) === 'miss' ? 'miss' : Number(reply[1]) === 1 ? 'set' : 'notSet';
  }

  async increment(cache: string, key: string, amount: number, ttlMs: number | undefined): Promise<bigint> {
    const reply = await this.script('tidingsIncrement', cache, key, this.ttlOf(ttlMs), BigInt(amount).toString(),
      this.config.maxItemBytes, Buffer.byteLength(key, 'utf8'), ...this.idempotencyArgs());
    if (status(reply) === 'not_integer') throw notAnInteger(cache, key);
    if (status(reply) === 'overflow') throw overflow(cache, key);
    return BigInt(String(reply[1]));
  }

  async setIf(cache: string, key: string, value: Value, condition: StoreCondition, ttlMs: number | undefined): Promise<boolean> {
    // Encoded (and so copied) before the first await, as in set().
    const encoded = encodeValue(value);
    const size = Buffer.byteLength(key, 'utf8') + payloadBytes(encoded);
    if (size > this.config.maxItemBytes) {
      throw limitExceeded(LimitCause.ITEM_SIZE, `item "${key}" would be ${size} bytes; at most ${this.config.maxItemBytes} are allowed`);
    }
    // The stored payload (or its hash) is compared bytewise: text equals the binary of its UTF-8 (list-ops.ts valuesEqual).
    const compare = COMPARING.has(condition.kind) ? encodeValue(condition.compare!).subarray(1) : '';
    const reply = await this.script('tidingsSetIf', cache, key, this.ttlOf(ttlMs), condition.kind, encoded, compare,
      condition.hashed === true ? 'hash' : '', ...this.idempotencyArgs());
    return Number(reply[1]) === 1;
  }

  async delete(cache: string, key: string): Promise<void> {
    const [k, m] = this.keys(cache, key);
    await this.connection.run((redis) => redis.del(k, m), 'write');
  }

  async itemGetTtl(cache: string, key: string): Promise<number | undefined> {
    const reply = await this.script('tidingsItemGetTtl', cache, key);
    return status(reply) === 'miss' ? undefined : Math.max(0, Math.floor(Number(String(reply[1]))));
  }

  async updateTtl(cache: string, key: string, ttlMs: number): Promise<boolean> {
    return status(await this.script('tidingsUpdateTtl', cache, key, ttlMs)) === 'ok';
  }

  // -- publish + append --------------------------------------------------------------------------

  async pubAppend(cache: string, topic: string, list: string, value: Value, tokenId: string | undefined, options: PushOptions, guard?: PubAppendGuard): Promise<PubAppendResult> {
    const listKeys = this.keys(cache, list);
    if (!this.appender) throw new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, 'pubAppend needs a topic engine that can publish in the same step');
    // Encoded (copied) before the first await; the element's origin header is built in the script.
    const encoded = encodeValue(value);
    const listArgs = [
      this.ttlOf(options.ttl.ttlMs), options.ttl.refresh ? 1 : 0, options.truncateToSize ?? 0, this.config.maxListLength, this.config.maxItemBytes,
      Buffer.byteLength(list, 'utf8'), encoded[0] === TEXT_TAG ? 'S' : 'B', encoded.subarray(1), tokenId === undefined ? 0 : 1, tokenId ?? '',
    ];
    const { seq, page, ts, reply } = await this.appender.pubAppend(cache, topic, value, tokenId, { listKeys, listArgs, guard });
    if (guard && status(reply) === 'not_held') throw new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, guard.refusal);
    this.refusal(reply, cache, list, 'list');
    return { seq, page, ts, length: Number(reply[1]) };
  }

  // -- internals ---------------------------------------------------------------------------------

  private async push(cache: string, list: string, values: Value[], options: PushOptions, end: 'back' | 'front'): Promise<number> {
    // Encoded (and so copied) before the first await: binary values may be views into a frame.
    const elements = values.map(encodeValue);
    const reply = await this.script('tidingsListPush', cache, list,
      this.ttlOf(options.ttl.ttlMs), options.ttl.refresh ? 1 : 0, end, options.truncateToSize ?? 0,
      this.config.maxListLength, this.config.maxItemBytes, Buffer.byteLength(list, 'utf8'), ...elements, ...this.idempotencyArgs());
    return Number(reply[1]);
  }

  private async fetch(cache: string, list: string, range: Range): Promise<Buffer[] | undefined> {
    const reply = await this.script('tidingsListFetch', cache, list, bound(range.startIndex), bound(range.endIndex));
    return status(reply) === 'miss' ? undefined : (reply.slice(1) as Buffer[]);
  }

  /** Runs one script on (cache, key) with `now` first, and turns refusals into typed errors. */
  private async script(name: ScriptName, cache: string, key: string, ...argv: Array<string | number | Buffer>): Promise<Reply> {
    const [k, m] = this.keys(cache, key);
    const now = this.clock.now();
    const reply = await this.connection.script<Reply>(name, [k, m, now, ...argv], true, READS.has(name) ? 'read' : 'write');
    this.refusal(reply, cache, key, SCRIPT_KINDS.find(([prefix]) => name.startsWith(prefix))?.[1] ?? 'scalar');
    return reply;
  }

  /** Throws the typed error for a script's refusal status; returns for any other. `wanted`: the
   * kind of item the operation applies to. */
  private refusal(reply: Reply, cache: string, key: string, wanted: ItemType): void {
    switch (status(reply)) {
      case 'wrongtype':
        throw wrongKind(cache, key, String(reply[1]), wanted);
      case 'list_length':
        throw limitExceeded(LimitCause.LIST_LENGTH, `list "${key}" would hold ${Number(reply[1])} elements; at most ${this.config.maxListLength} are allowed`);
      case 'dictionary_fields':
        throw tooManyFields(key, Number(reply[1]), this.config.maxDictionaryFields);
      case 'set_elements':
        throw tooManyElements(key, Number(reply[1]), this.config.maxSetElements);
      case 'sorted_set_elements':
        throw tooManySortedSetElements(key, Number(reply[1]), this.config.maxSortedSetElements);
      case 'not_finite':
        throw scoreNotFinite(key, luaNumber(String(reply[1])));
      case 'source_wrongtype':
        throw wrongKind(cache, String(reply[2]), String(reply[1]), 'sortedSet');
      case 'item_size':
        throw limitExceeded(LimitCause.ITEM_SIZE, `item "${key}" would be ${Number(reply[1])} bytes; at most ${this.config.maxItemBytes} are allowed`);
      default:
    }
  }

  private ttlOf(ttlMs: number | undefined): number {
    return ttlMs ?? this.defaultTtlMs;
  }

  /** The Redis keys of a list, for a script that changes it together with a topic (retract). */
  listKeys(cache: string, list: string): [string, string] {
    return this.keys(cache, list);
  }

  /** The item's key and its list-metadata key (scripts.ts); names cannot contain U+0000. */
  private keys(cache: string, key: string): [string, string] {
    if (this.caches && !this.caches.has(cache)) throw notFound(`cache "${cache}" does not exist`);
    const k = `${this.keyPrefix}${cache}\u0000${key}`;
    return [k, `${k}\u0000m`];
  }
}

function status(reply: Reply): string {
  return String(reply[0]);
}

/** A set element as the Redis SET holds it: its bytes, text as UTF-8 (copied before the first await). */
function memberBytes(value: Value): Buffer {
  return Buffer.from(typeof value === 'string' ? textBytes(value) : value);
}

/** The elements of a set reply, or undefined for a Miss. */
function members(reply: Reply): Uint8Array[] | undefined {
  return status(reply) === 'miss' ? undefined : reply.slice(1).map((e) => new Uint8Array(e as Buffer));
}

/** The element, score pairs of a sorted-set fetch, or undefined for a Miss. */
function scoredElements(reply: Reply): ScoredElement[] | undefined {
  if (status(reply) === 'miss') return undefined;
  const elements: ScoredElement[] = [];
  for (let i = 1; i < reply.length; i += 2) elements.push({ value: new Uint8Array(reply[i] as Buffer), score: Number(String(reply[i + 1])) });
  return elements;
}

/** ZRANGE BYSCORE / ZCOUNT bounds: '(' before an exclusive one, ±inf for none. */
function scoreBounds({ min, max }: ScoreRange): [string, string] {
  const bound = (b: ScoreBound | undefined, none: string) => (b === undefined ? none : `${b.exclusive ? '(' : ''}${b.score}`);
  return [bound(min, '-inf'), bound(max, '+inf')];
}

/** A number as Lua's tostring writes it ('inf', '-inf', 'nan', '-nan'). */
function luaNumber(text: string): number {
  return text.includes('nan') ? NaN : text === 'inf' ? Infinity : text === '-inf' ? -Infinity : Number(text);
}

function bound(index: number | undefined): string {
  return index === undefined ? '' : String(index);
}
