/** Cache data requests: Momento-shaped lists (listPushBack ... listLength), scalar items (get, set,
 * delete, itemGetTtl, updateTtl) and pubAppend (publish + capped append in one step). Every request
 * is checked against the token's cache permissions on (cache, key); reads need `read`, writes
 * `write`, pops both (they return and remove). Replies: `{ hit: false }` is Momento's Miss. */
import {
  LimitCause,
  type GetResult, type ItemGetTtlResult, type ListFetchResult, type ListFetchWithMetaResult, type ListLengthResult, type ListPopResult,
  type ListWriteResult, type PubAppendResult, type UpdateTtlResult, type Value,
} from '../../protocol/index.js';
import { invalidArgument, limitExceeded, permissionDenied } from '../../core/errors.js';
import type { StoreConfig } from '../../core/config.js';
import type { CollectionTtl, Maybe, Range } from '../../store/cache-store.js';
import { rangeProblem } from '../../store/list-ops.js';
import type { Session } from '../session.js';
import { map, type BrokerDeps, type HandlerTable } from '../handler.js';
import { nameField, optionalInt, valueField } from '../validate.js';

type Frame = Record<string, unknown>;
type Access = 'read' | 'write';

const MAX_INDEX = 2 ** 31 - 1;

export function cacheHandlers({ engine, config }: BrokerDeps): HandlerTable {
  const store = engine.cache;
  const limits = config.store;
  const fields = new StoreFields(limits);

  /** Parses cache + key (field `list` or `key`) and checks the token may do every access given. */
  const target = (session: Session, frame: Frame, keyField: 'list' | 'key', ...access: Access[]): [string, string] => {
    const cache = nameField(frame, 'cache', 'cache');
    const key = nameField(frame, keyField, 'key');
    const permissions = session.grant!.permissions;
    for (const a of access) {
      if (!permissions.allowsCache(a, cache, key)) throw permissionDenied(`token may not ${a} key "${key}" in cache "${cache}"`);
    }
    return [cache, key];
  };

  return {
    listPushBack({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const value = fields.element(frame, 'value');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateFrontToSize') };
      return map(store.listPushBack(cache, list, [value], options), (length): ListWriteResult => ({ length }));
    },

    listPushFront({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const value = fields.element(frame, 'value');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateBackToSize') };
      return map(store.listPushFront(cache, list, [value], options), (length): ListWriteResult => ({ length }));
    },

    listConcatenateBack({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const values = fields.elements(frame, 'values');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateFrontToSize') };
      return map(store.listPushBack(cache, list, values, options), (length): ListWriteResult => ({ length }));
    },

    listConcatenateFront({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const values = fields.elements(frame, 'values');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateBackToSize') };
      return map(store.listPushFront(cache, list, values, options), (length): ListWriteResult => ({ length }));
    },

    listFetch({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'read');
      const range = fields.range(frame);
      const withMeta = fields.optionalBoolean(frame, 'withMeta') ?? false;
      if (store.listFetchResult) {
        return map(store.listFetchResult(cache, list, range, withMeta), (shared) => shared ?? { hit: false });
      }
      if (withMeta) {
        return map(store.listFetchWithMeta(cache, list, range), (items) => (items ? { hit: true, items } : { hit: false }) satisfies ListFetchWithMetaResult);
      }
      return map(store.listFetch(cache, list, range), (values) => (values ? { hit: true, values } : { hit: false }) satisfies ListFetchResult);
    },

    listRetain({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      return map(store.listRetain(cache, list, fields.range(frame), fields.collectionTtl(frame)), () => ({}));
    },

    listRemoveValue({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      return map(store.listRemoveValue(cache, list, fields.element(frame, 'value')), () => ({}));
    },

    listPopBack({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'read', 'write');
      return map(store.listPop(cache, list, 'back'), (popped) => (popped ? { hit: true, ...popped } : { hit: false }) satisfies ListPopResult);
    },

    listPopFront({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'read', 'write');
      return map(store.listPop(cache, list, 'front'), (popped) => (popped ? { hit: true, ...popped } : { hit: false }) satisfies ListPopResult);
    },

    listLength({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'read');
      return map(store.listLength(cache, list), (length) => (length === undefined ? { hit: false } : { hit: true, length }) satisfies ListLengthResult);
    },

    get({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'read');
      return map(store.get(cache, key), (value) => (value === undefined ? { hit: false } : { hit: true, value }) satisfies GetResult);
    },

    set({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'write');
      const value = valueField(frame, 'value', limits.maxItemBytes, LimitCause.ITEM_SIZE);
      return map(store.set(cache, key, value, fields.ttl(frame, 'ttlMs')), () => ({}));
    },

    delete({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'write');
      return map(store.delete(cache, key), () => ({}));
    },

    itemGetTtl({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'read');
      return map(store.itemGetTtl(cache, key), (remainingTtlMs) => (remainingTtlMs === undefined ? { hit: false } : { hit: true, remainingTtlMs }) satisfies ItemGetTtlResult);
    },

    updateTtl({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'write');
      const ttlMs = fields.ttl(frame, 'ttlMs');
      if (ttlMs === undefined) throw invalidArgument('ttlMs is required');
      return map(store.updateTtl(cache, key, ttlMs), (hit): UpdateTtlResult => ({ hit }));
    },

    /** Publish to `topic` and append to `list` (same cache) as one step; see docs/history.md. */
    pubAppend({ session, frame }): Maybe<PubAppendResult> {
      const [cache, list] = target(session, frame, 'list', 'write');
      const topic = nameField(frame, 'topic', 'topic');
      const grant = session.grant!;
      if (!grant.permissions.allowsTopic('publish', cache, topic)) {
        throw permissionDenied(`token may not publish to topic "${topic}" in cache "${cache}"`);
      }
      const value = fields.element(frame, 'value');
      valueField(frame, 'value', config.topics.maxValueBytes);
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateFrontToSize') };
      return store.pubAppend(cache, topic, list, value, grant.tokenId, options);
    },
  };
}

/** Field parsing for cache requests; failures are typed errors naming the field. */
class StoreFields {
  constructor(private readonly limits: StoreConfig) {}

  element(frame: Frame, field: string): Value {
    return valueField(frame, field, this.limits.maxElementBytes, LimitCause.ELEMENT_SIZE);
  }

  elements(frame: Frame, field: string): Value[] {
    const values = frame[field];
    if (!Array.isArray(values) || values.length === 0) throw invalidArgument(`${field} must be a non-empty array of values`);
    return values.map((v, i) => valueField({ [`${field}[${i}]`]: v }, `${field}[${i}]`, this.limits.maxElementBytes, LimitCause.ELEMENT_SIZE));
  }

  /** A TTL in ms: a positive integer, at most store.maxTtlSec. */
  ttl(frame: Frame, field: string): number | undefined {
    const value = frame[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalidArgument(`${field} must be a positive integer (milliseconds)`);
    if (value > this.limits.maxTtlSec * 1000) {
      throw limitExceeded(LimitCause.TTL, `${field} may be at most ${this.limits.maxTtlSec * 1000} ms (store.maxTtlSec)`);
    }
    return value;
  }

  collectionTtl(frame: Frame): CollectionTtl {
    return { ttlMs: this.ttl(frame, 'ttlMs'), refresh: this.optionalBoolean(frame, 'refreshTtl') ?? true };
  }

  /** A truncate-to size: absent, or an integer ≥ 1. */
  truncate(frame: Frame, field: string): number | undefined {
    return optionalInt(frame, field, 1, MAX_INDEX);
  }

  range(frame: Frame): Range {
    const startIndex = optionalInt(frame, 'startIndex', -MAX_INDEX, MAX_INDEX);
    const endIndex = optionalInt(frame, 'endIndex', -MAX_INDEX, MAX_INDEX);
    const problem = rangeProblem(startIndex, endIndex);
    if (problem) throw invalidArgument(problem);
    return { startIndex, endIndex };
  }

  optionalBoolean(frame: Frame, field: string): boolean | undefined {
    const value = frame[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw invalidArgument(`${field} must be a boolean`);
    return value;
  }
}
