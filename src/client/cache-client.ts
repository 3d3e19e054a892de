/** Lists and scalar items, named and shaped like Momento's CacheClient. TTLs are seconds in the
 * API (as Momento's) and milliseconds on the wire. */
import type { GetResult, ItemGetTtlResult, ListFetchResult, ListFetchWithMetaResult, ListLengthResult, ListPopResult, ListWriteResult, PubAppendResult, UpdateTtlResult, Value } from '../protocol/index.js';
import type { Connection, RequestOptions } from './connection.js';
import { asClientError } from './errors.js';
import { GenericWrite, ItemGetTtl, ListFetch, ListLength, ListWrite, PubAppend, UpdateTtl, ValueRead } from './responses.js';

/** Momento's CollectionTtl: the whole collection's TTL, refreshed on each write unless told not to. */
export class CollectionTtl {
  constructor(private readonly seconds: number | null = null, private readonly refresh = true) {}
  static fromCacheTtl(): CollectionTtl { return new CollectionTtl(null, true); }
  static of(seconds: number): CollectionTtl { return new CollectionTtl(seconds, true); }
  static refreshTtlIfProvided(seconds?: number): CollectionTtl { return new CollectionTtl(seconds ?? null, seconds !== undefined); }
  withRefreshTtlOnUpdates(): CollectionTtl { return new CollectionTtl(this.seconds, true); }
  withNoRefreshTtlOnUpdates(): CollectionTtl { return new CollectionTtl(this.seconds, false); }
  ttlSeconds(): number | null { return this.seconds; }
  refreshTtl(): boolean { return this.refresh; }
  /** @internal wire fields */
  fields(): { ttlMs?: number; refreshTtl: boolean } {
    return this.seconds === null ? { refreshTtl: this.refresh } : { ttlMs: this.seconds * 1000, refreshTtl: this.refresh };
  }
}

export interface ListWriteOptions extends RequestOptions { ttl?: CollectionTtl }
export interface ListRangeOptions extends RequestOptions { startIndex?: number; endIndex?: number }

export interface CacheClientOptions { connection: Connection }

export class CacheClient {
  readonly connection: Connection;
  constructor(options: CacheClientOptions) { this.connection = options.connection; }

  listPushBack(cache: string, list: string, value: Value, options: ListWriteOptions & { truncateFrontToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listPushBack', cache, list, value, ...opt('truncateFrontToSize', options.truncateFrontToSize) }, options);
  }
  listPushFront(cache: string, list: string, value: Value, options: ListWriteOptions & { truncateBackToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listPushFront', cache, list, value, ...opt('truncateBackToSize', options.truncateBackToSize) }, options);
  }
  listConcatenateBack(cache: string, list: string, values: Value[], options: ListWriteOptions & { truncateFrontToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listConcatenateBack', cache, list, values, ...opt('truncateFrontToSize', options.truncateFrontToSize) }, options);
  }
  listConcatenateFront(cache: string, list: string, values: Value[], options: ListWriteOptions & { truncateBackToSize?: number } = {}): Promise<ListWrite.Response> {
    return this.listWrite({ t: 'listConcatenateFront', cache, list, values, ...opt('truncateBackToSize', options.truncateBackToSize) }, options);
  }

  /** `withMeta` adds, per element, the (page, seq, tokenId, ts) of the topic item it was published as
   * (pubAppend / moderated chats): subscribe with `resumeFrom` the last one to join without a gap. */
  async listFetch(cache: string, list: string, options: ListRangeOptions & { withMeta?: boolean } = {}): Promise<ListFetch.Response> {
    try {
      const frame = { t: 'listFetch', cache, list, ...range(options), ...(options.withMeta ? { withMeta: true } : {}) };
      const r = await this.connection.request<ListFetchResult | ListFetchWithMetaResult>(frame, options);
      if (!r.hit) return new ListFetch.Miss();
      if ('items' in r) return new ListFetch.Hit(r.items.map((i) => i.value), r.items);
      return new ListFetch.Hit(r.values, undefined);
    } catch (err) {
      return new ListFetch.Error(asClientError(err));
    }
  }

  listRetain(cache: string, list: string, options: ListRangeOptions & { ttl?: CollectionTtl } = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'listRetain', cache, list, ...range(options), ...(options.ttl?.fields() ?? {}) }, options);
  }
  listRemoveValue(cache: string, list: string, value: Value, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'listRemoveValue', cache, list, value }, options);
  }
  listPopBack(cache: string, list: string, options: RequestOptions = {}): Promise<ValueRead.Response> {
    return this.read({ t: 'listPopBack', cache, list }, options);
  }
  listPopFront(cache: string, list: string, options: RequestOptions = {}): Promise<ValueRead.Response> {
    return this.read({ t: 'listPopFront', cache, list }, options);
  }
  async listLength(cache: string, list: string, options: RequestOptions = {}): Promise<ListLength.Response> {
    try {
      const r = await this.connection.request<ListLengthResult>({ t: 'listLength', cache, list }, options);
      return r.hit ? new ListLength.Hit(r.length) : new ListLength.Miss();
    } catch (err) {
      return new ListLength.Error(asClientError(err));
    }
  }

  get(cache: string, key: string, options: RequestOptions = {}): Promise<ValueRead.Response> {
    return this.read({ t: 'get', cache, key }, options);
  }
  set(cache: string, key: string, value: Value, options: RequestOptions & { ttl?: number } = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'set', cache, key, value, ...(options.ttl !== undefined ? { ttlMs: options.ttl * 1000 } : {}) }, options);
  }
  delete(cache: string, key: string, options: RequestOptions = {}): Promise<GenericWrite.Response> {
    return this.write({ t: 'delete', cache, key }, options);
  }
  async itemGetTtl(cache: string, key: string, options: RequestOptions = {}): Promise<ItemGetTtl.Response> {
    try {
      const r = await this.connection.request<ItemGetTtlResult>({ t: 'itemGetTtl', cache, key }, options);
      return r.hit ? new ItemGetTtl.Hit(r.remainingTtlMs) : new ItemGetTtl.Miss();
    } catch (err) {
      return new ItemGetTtl.Error(asClientError(err));
    }
  }
  /** `ttlMillis` as in Momento's updateTtl. */
  async updateTtl(cache: string, key: string, ttlMillis: number, options: RequestOptions = {}): Promise<UpdateTtl.Response> {
    try {
      const r = await this.connection.request<UpdateTtlResult>({ t: 'updateTtl', cache, key, ttlMs: ttlMillis }, options);
      return r.hit ? new UpdateTtl.Set() : new UpdateTtl.Miss();
    } catch (err) {
      return new UpdateTtl.Error(asClientError(err));
    }
  }

  /** Publishes to `topic` and appends to `list` in one step (docs/history.md). */
  async pubAppend(cache: string, topic: string, list: string, value: Value, options: ListWriteOptions & { truncateFrontToSize?: number } = {}): Promise<PubAppend.Response> {
    try {
      const frame = { t: 'pubAppend', cache, topic, list, value, ...opt('truncateFrontToSize', options.truncateFrontToSize), ...(options.ttl?.fields() ?? {}) };
      const r = await this.connection.request<PubAppendResult>(frame, options);
      return new PubAppend.Success(r.seq, r.page, r.length);
    } catch (err) {
      return new PubAppend.Error(asClientError(err));
    }
  }

  private async listWrite(frame: Record<string, unknown> & { t: string }, options: ListWriteOptions): Promise<ListWrite.Response> {
    try {
      const r = await this.connection.request<ListWriteResult>({ ...frame, ...(options.ttl?.fields() ?? {}) }, options);
      return new ListWrite.Success(r.length);
    } catch (err) {
      return new ListWrite.Error(asClientError(err));
    }
  }

  private async write(frame: Record<string, unknown> & { t: string }, options: RequestOptions): Promise<GenericWrite.Response> {
    try {
      await this.connection.request(frame, options);
      return new GenericWrite.Success();
    } catch (err) {
      return new GenericWrite.Error(asClientError(err));
    }
  }

  private async read(frame: Record<string, unknown> & { t: string }, options: RequestOptions): Promise<ValueRead.Response> {
    try {
      const r = await this.connection.request<GetResult | ListPopResult>(frame, options);
      return r.hit ? new ValueRead.Hit(r.value) : new ValueRead.Miss();
    } catch (err) {
      return new ValueRead.Error(asClientError(err));
    }
  }
}

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

function range(options: ListRangeOptions): { startIndex?: number; endIndex?: number } {
  return { ...opt('startIndex', options.startIndex), ...opt('endIndex', options.endIndex) };
}
