/** Cache data requests: Momento-shaped lists (listPushBack ... listLength, listErase), dictionaries
 * (dictionarySetFields ... dictionaryLength), sets (setAddElements ... setSample), sorted sets
 * (sortedSetPutElements ... sortedSetUnionStore: a union needs read on each source), scalar items (get, set, delete, itemGetTtl,
 * itemGetType, updateTtl, increment, setIf, getWithHash, setIfHash) and pubAppend (publish + capped append in one step).
 * Every request is checked against the token's cache permissions on (cache, key); reads need
 * `read`, writes `write`; pops (setPop too), increments and setIf both: pops return and remove, and Momento's
 * write-only role refuses increments (they return the value) and conditional writes (their answer
 * tells what the key holds). Replies: `{ hit: false }` is Momento's Miss. */
import {
  LimitCause,
  type GetResult, type ItemGetTtlResult, type ListFetchResult, type ListFetchWithMetaResult, type ListLengthResult, type ListPopResult,
  type ListWriteResult, type PubAppendResult, type UpdateTtlResult, type Value,
  type ChangeTtlResult, type IncrementResult, type ListEraseRange, type ListEraseResult, type SetIfCondition, type SetIfResult,
  type GetWithHashResult, type SetIfHashCondition, type SetIfHashResult,
  type DictionaryFetchResult, type DictionaryGetFieldsResult, type DictionaryItem, type DictionaryLengthResult,
  type ItemGetTypeResult, type SetContainsElementsResult, type SetElementsResult, type SetLengthResult,
  type ScoredElement, type SortedSetAggregate, type SortedSetFetchResult, type SortedSetGetRankResult, type SortedSetGetScoresResult,
  type SortedSetLengthResult, type SortedSetOrder, type SortedSetSource,
  isWellFormed, utf8Length,
} from '../../protocol/index.js';
import { invalidArgument, limitExceeded, permissionDenied } from '../../core/errors.js';
import type { StoreConfig } from '../../core/config.js';
import type { CollectionTtl, Maybe, Range, ScoreBound, ScoreRange, SortedSetInput, StoreCondition } from '../../store/cache-store.js';
import { rangeProblem } from '../../store/list-ops.js';
import { COMPARING, INT64_MAX, INT64_MIN, valueHash } from '../../store/scalar-ops.js';
import type { Session } from '../session.js';
import { map, type BrokerDeps, type HandlerTable } from '../handler.js';
import { nameField, optionalInt, valueField } from '../validate.js';

type Frame = Record<string, unknown>;
type Access = 'read' | 'write';

const MAX_INDEX = 2 ** 31 - 1;
const MAX_UINT32 = 2 ** 32 - 1;
const SET_IF_CONDITIONS: readonly SetIfCondition[] = ['absent', 'present', 'equal', 'notEqual', 'presentAndNotEqual', 'absentOrEqual'];
/** Each setIfHash condition as the setIf condition it is on the stored value's hash (Momento's
 * SetIfHash; 'unconditional' is a set). */
const SET_IF_HASH_CONDITIONS: Readonly<Record<SetIfHashCondition, SetIfCondition | undefined>> = {
  unconditional: undefined, presentAndHashEqual: 'equal', presentAndNotHashEqual: 'presentAndNotEqual',
  absentOrHashEqual: 'absentOrEqual', absentOrNotHashEqual: 'notEqual',
};
const ORDERS: readonly SortedSetOrder[] = ['ascending', 'descending'];
const AGGREGATES: readonly SortedSetAggregate[] = ['sum', 'min', 'max'];

export function cacheHandlers({ engine, config }: BrokerDeps): HandlerTable {
  const store = engine.cache;
  const limits = config.store;
  const fields = new StoreFields(limits);

  /** Checks the token may do every access given on (cache, key). */
  const allow = (session: Session, cache: string, key: string, access: Access[]): void => {
    const permissions = session.grant!.permissions;
    for (const a of access) {
      if (!permissions.allowsCache(a, cache, key)) throw permissionDenied(`token may not ${a} key "${key}" in cache "${cache}"`);
    }
  };

  /** Parses cache + key (field `list`, `dictionary`, `set`, `sortedSet` or `key`) and checks the token may do every access given. */
  const target = (session: Session, frame: Frame, keyField: 'list' | 'dictionary' | 'set' | 'sortedSet' | 'key', ...access: Access[]): [string, string] => {
    const cache = nameField(frame, 'cache', 'cache');
    const key = nameField(frame, keyField, 'key');
    allow(session, cache, key, access);
    return [cache, key];
  };

  return {
    listPushBack({ session, frame, once }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const value = fields.element(frame, 'value');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateFrontToSize') };
      return once([cache, list], () => map(store.listPushBack(cache, list, [value], options), (length): ListWriteResult => ({ length })));
    },

    listPushFront({ session, frame, once }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const value = fields.element(frame, 'value');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateBackToSize') };
      return once([cache, list], () => map(store.listPushFront(cache, list, [value], options), (length): ListWriteResult => ({ length })));
    },

    listConcatenateBack({ session, frame, once }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const values = fields.elements(frame, 'values');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateFrontToSize') };
      return once([cache, list], () => map(store.listPushBack(cache, list, values, options), (length): ListWriteResult => ({ length })));
    },

    listConcatenateFront({ session, frame, once }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      const values = fields.elements(frame, 'values');
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateBackToSize') };
      return once([cache, list], () => map(store.listPushFront(cache, list, values, options), (length): ListWriteResult => ({ length })));
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

    listErase({ session, frame }) {
      const [cache, list] = target(session, frame, 'list', 'write');
      return map(store.listErase(cache, list, fields.eraseRanges(frame)), (length) => (length === undefined ? { hit: false } : { hit: true, length }) satisfies ListEraseResult);
    },

    dictionarySetFields({ session, frame }) {
      const [cache, dictionary] = target(session, frame, 'dictionary', 'write');
      return map(store.dictionarySetFields(cache, dictionary, fields.dictionaryItems(frame), fields.collectionTtl(frame)), () => ({}));
    },

    dictionaryGetFields({ session, frame }) {
      const [cache, dictionary] = target(session, frame, 'dictionary', 'read');
      return map(store.dictionaryGetFields(cache, dictionary, fields.fieldNames(frame)),
        (values) => (values ? { hit: true, values: values.map((v) => v ?? null) } : { hit: false }) satisfies DictionaryGetFieldsResult);
    },

    dictionaryFetch({ session, frame }) {
      const [cache, dictionary] = target(session, frame, 'dictionary', 'read');
      return map(store.dictionaryFetch(cache, dictionary), (items) => (items ? { hit: true, items } : { hit: false }) satisfies DictionaryFetchResult);
    },

    dictionaryIncrement({ session, frame, once }) {
      const [cache, dictionary] = target(session, frame, 'dictionary', 'read', 'write');
      const field = fields.fieldName(frame['field'], 'field');
      return once([cache, dictionary], () => map(store.dictionaryIncrement(cache, dictionary, field, fields.amount(frame), fields.collectionTtl(frame)), incrementResult));
    },

    dictionaryRemoveFields({ session, frame }) {
      const [cache, dictionary] = target(session, frame, 'dictionary', 'write');
      const names = frame['fields'] === undefined || frame['fields'] === null ? undefined : fields.fieldNames(frame);
      return map(store.dictionaryRemoveFields(cache, dictionary, names), () => ({}));
    },

    dictionaryLength({ session, frame }) {
      const [cache, dictionary] = target(session, frame, 'dictionary', 'read');
      return map(store.dictionaryLength(cache, dictionary), (length) => (length === undefined ? { hit: false } : { hit: true, length }) satisfies DictionaryLengthResult);
    },

    setAddElements({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'write');
      return map(store.setAddElements(cache, set, fields.elements(frame, 'elements'), fields.collectionTtl(frame)), () => ({}));
    },

    setRemoveElements({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'write');
      const all = frame['elements'] === undefined || frame['elements'] === null;
      return map(store.setRemoveElements(cache, set, all ? undefined : fields.elements(frame, 'elements')), () => ({}));
    },

    setFetch({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'read');
      return map(store.setFetch(cache, set), setElements);
    },

    setContainsElements({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'read');
      return map(store.setContainsElements(cache, set, fields.elements(frame, 'elements')),
        (contains) => (contains ? { hit: true, contains } : { hit: false }) satisfies SetContainsElementsResult);
    },

    setLength({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'read');
      return map(store.setLength(cache, set), (length) => (length === undefined ? { hit: false } : { hit: true, length }) satisfies SetLengthResult);
    },

    setPop({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'read', 'write');
      return map(store.setPop(cache, set, fields.count(frame, 'count', 1)), setElements);
    },

    setSample({ session, frame }) {
      const [cache, set] = target(session, frame, 'set', 'read');
      return map(store.setSample(cache, set, fields.count(frame, 'limit', 0)), setElements);
    },

    sortedSetPutElements({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'write');
      return map(store.sortedSetPutElements(cache, sortedSet, fields.scoredElements(frame), fields.collectionTtl(frame)), () => ({}));
    },

    sortedSetFetchByRank({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read');
      return map(store.sortedSetFetchByRank(cache, sortedSet, fields.ranks(frame), fields.order(frame)), sortedSetElements);
    },

    sortedSetFetchByScore({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read');
      const offset = optionalInt(frame, 'offset', 0, MAX_INDEX) ?? 0;
      const count = optionalInt(frame, 'count', 0, MAX_INDEX);
      return map(store.sortedSetFetchByScore(cache, sortedSet, fields.scoreRange(frame), fields.order(frame), offset, count), sortedSetElements);
    },

    sortedSetGetScores({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read');
      return map(store.sortedSetGetScores(cache, sortedSet, fields.elements(frame, 'values')),
        (scores) => (scores ? { hit: true, scores: scores.map((s) => s ?? null) } : { hit: false }) satisfies SortedSetGetScoresResult);
    },

    sortedSetGetRank({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read');
      return map(store.sortedSetGetRank(cache, sortedSet, fields.element(frame, 'value'), fields.order(frame)),
        (rank) => (rank === undefined ? { hit: false } : { hit: true, rank }) satisfies SortedSetGetRankResult);
    },

    sortedSetIncrementScore({ session, frame, once }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read', 'write');
      const amount = fields.score(frame['amount'] ?? 1, 'amount');
      return once([cache, sortedSet], () => map(store.sortedSetIncrementScore(cache, sortedSet, fields.element(frame, 'value'), amount, fields.collectionTtl(frame)), (score) => ({ score })));
    },

    sortedSetRemoveElements({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'write');
      const all = frame['values'] === undefined || frame['values'] === null;
      return map(store.sortedSetRemoveElements(cache, sortedSet, all ? undefined : fields.elements(frame, 'values')), () => ({}));
    },

    sortedSetLength({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read');
      return map(store.sortedSetLength(cache, sortedSet), sortedSetLength);
    },

    sortedSetLengthByScore({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'read');
      return map(store.sortedSetLength(cache, sortedSet, fields.scoreRange(frame)), sortedSetLength);
    },

    sortedSetUnionStore({ session, frame }) {
      const [cache, sortedSet] = target(session, frame, 'sortedSet', 'write');
      const sources = fields.sources(frame);
      for (const source of sources) allow(session, cache, source.sortedSet, ['read']);
      const aggregate = fields.oneOf(frame, 'aggregate', AGGREGATES) ?? 'sum';
      return map(store.sortedSetUnionStore(cache, sortedSet, sources, aggregate, fields.ttl(frame, 'ttlMs')), (length) => ({ length }));
    },

    itemGetType({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'read');
      return map(store.itemGetType(cache, key), (type) => (type === undefined ? { hit: false } : { hit: true, type }) satisfies ItemGetTypeResult);
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

    // Read and write, as updateTtl needs write: Momento's write-only role answers no state, and
    // whether the TTL was changed tells how long the item had left.
    increaseTtl({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'read', 'write');
      return map(store.changeTtl(cache, key, fields.requiredTtl(frame), 'increase'), changeTtlResult);
    },

    decreaseTtl({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'read', 'write');
      return map(store.changeTtl(cache, key, fields.requiredTtl(frame), 'decrease'), changeTtlResult);
    },

    increment({ session, frame, once }) {
      const [cache, key] = target(session, frame, 'key', 'read', 'write');
      const amount = fields.amount(frame);
      return once([cache, key], () => map(store.increment(cache, key, amount, fields.ttl(frame, 'ttlMs')), incrementResult));
    },

    setIf({ session, frame, once }) {
      const [cache, key] = target(session, frame, 'key', 'read', 'write');
      const value = valueField(frame, 'value', limits.maxItemBytes, LimitCause.ITEM_SIZE);
      const condition = fields.condition(frame);
      return once([cache, key], () => map(store.setIf(cache, key, value, condition, fields.ttl(frame, 'ttlMs')), (stored): SetIfResult => ({ stored })));
    },

    // The hash is computed from the value when asked (scalar-ops.ts valueHash): nothing more is stored.
    getWithHash({ session, frame }) {
      const [cache, key] = target(session, frame, 'key', 'read');
      return map(store.get(cache, key), (value): GetWithHashResult => (value === undefined ? { hit: false } : { hit: true, value, hash: valueHash(value) }));
    },

    // Unconditional, it is a set that answers the new hash (write, as set); otherwise a setIf on the
    // stored value's hash (read and write, as setIf).
    setIfHash({ session, frame, once }) {
      const condition = fields.hashCondition(frame);
      const [cache, key] = condition === undefined ? target(session, frame, 'key', 'write') : target(session, frame, 'key', 'read', 'write');
      const value = valueField(frame, 'value', limits.maxItemBytes, LimitCause.ITEM_SIZE);
      const ttlMs = fields.ttl(frame, 'ttlMs');
      // Hashed now: a binary value may be a view of the received frame, gone after the first await.
      const stored: SetIfHashResult = { stored: true, hash: valueHash(value) };
      return once([cache, key], () => (condition === undefined
        ? map(store.set(cache, key, value, ttlMs), () => stored)
        : map(store.setIf(cache, key, value, condition, ttlMs), (done): SetIfHashResult => (done ? stored : { stored: false }))));
    },

    /** Publish to `topic` and append to `list` (same cache) as one step; see docs/history.md. */
    pubAppend({ session, frame, once }): Maybe<PubAppendResult> {
      const [cache, list] = target(session, frame, 'list', 'write');
      const topic = nameField(frame, 'topic', 'topic');
      const grant = session.grant!;
      if (!grant.permissions.allowsTopic('publish', cache, topic)) {
        throw permissionDenied(`token may not publish to topic "${topic}" in cache "${cache}"`);
      }
      const value = fields.element(frame, 'value');
      valueField(frame, 'value', config.topics.maxValueBytes);
      const options = { ttl: fields.collectionTtl(frame), truncateToSize: fields.truncate(frame, 'truncateFrontToSize') };
      return once([cache, list, topic], () => store.pubAppend(cache, topic, list, value, grant.tokenId, options));
    },
  };
}

function setElements(elements: Uint8Array[] | undefined): SetElementsResult {
  return elements ? { hit: true, elements } : { hit: false };
}

function sortedSetElements(elements: ScoredElement[] | undefined): SortedSetFetchResult {
  return elements ? { hit: true, elements } : { hit: false };
}

function sortedSetLength(length: number | undefined): SortedSetLengthResult {
  return length === undefined ? { hit: false } : { hit: true, length };
}

function changeTtlResult(outcome: 'set' | 'notSet' | 'miss'): ChangeTtlResult {
  return outcome === 'miss' ? { hit: false } : { hit: true, set: outcome === 'set' };
}

/** A msgpack or JSON number holds a sum past ±(2^53 − 1) only approximately: then `exact` too. */
function incrementResult(sum: bigint): IncrementResult {
  const value = Number(sum);
  return Number.isSafeInteger(value) ? { value } : { value, exact: sum.toString() };
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

  /** A dictionary field name: text without lone surrogates (it has a UTF-8 form, as the SDKs and
   * Redis carry it), at most store.maxElementBytes of it. */
  fieldName(value: unknown, field: string): string {
    if (typeof value !== 'string') throw invalidArgument(`${field} must be a string (a dictionary field name)`);
    if (!isWellFormed(value)) throw invalidArgument(`${field} must be well-formed Unicode (no lone surrogates)`);
    if (utf8Length(value) > this.limits.maxElementBytes) throw limitExceeded(LimitCause.ELEMENT_SIZE, `${field} is larger than ${this.limits.maxElementBytes} bytes`);
    return value;
  }

  /** `fields`: a non-empty array of field names. */
  fieldNames(frame: Frame): string[] {
    const names = frame['fields'];
    if (!Array.isArray(names) || names.length === 0) throw invalidArgument('fields must be a non-empty array of field names');
    return names.map((name, i) => this.fieldName(name, `fields[${i}]`));
  }

  /** dictionarySetFields' `items`: a non-empty array of { field, value }, each pair one element
   * (name plus value at most store.maxElementBytes). */
  dictionaryItems(frame: Frame): DictionaryItem[] {
    const items = frame['items'];
    if (!Array.isArray(items) || items.length === 0) throw invalidArgument('items must be a non-empty array of { field, value }');
    return items.map((item: unknown, i) => {
      if (typeof item !== 'object' || item === null) throw invalidArgument(`items[${i}] must be { field, value }`);
      const field = this.fieldName((item as Frame)['field'], `items[${i}].field`);
      const value = valueField({ [`items[${i}].value`]: (item as Frame)['value'] }, `items[${i}].value`, this.limits.maxElementBytes, LimitCause.ELEMENT_SIZE);
      const bytes = utf8Length(field) + (typeof value === 'string' ? utf8Length(value) : value.byteLength);
      if (bytes > this.limits.maxElementBytes) throw limitExceeded(LimitCause.ELEMENT_SIZE, `items[${i}]: field and value are ${bytes} bytes, more than ${this.limits.maxElementBytes}`);
      return { field, value };
    });
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

  /** ttlMs that must be there (updateTtl, increaseTtl, decreaseTtl). */
  requiredTtl(frame: Frame): number {
    const ttlMs = this.ttl(frame, 'ttlMs');
    if (ttlMs === undefined) throw invalidArgument('ttlMs is required');
    return ttlMs;
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

  /** setPop's count (at least 1) or setSample's limit (at least 0): a required integer of 32 bits. */
  count(frame: Frame, field: string, min: number): number {
    const value = optionalInt(frame, field, min, MAX_UINT32);
    if (value === undefined) throw invalidArgument(`${field} is required (an integer of at least ${min})`);
    return value;
  }

  /** increment's amount: an integer (default 1) within 64 bits. */
  amount(frame: Frame): number {
    const value = frame['amount'];
    if (value === undefined || value === null) return 1;
    if (typeof value !== 'number' || !Number.isInteger(value) || BigInt(value) < INT64_MIN || BigInt(value) > INT64_MAX) {
      throw invalidArgument('amount must be an integer (a signed 64-bit one)');
    }
    return value;
  }

  /** setIf's condition and, for the comparing ones, the value to compare to. */
  condition(frame: Frame): StoreCondition {
    const kind = frame['condition'];
    if (typeof kind !== 'string' || !SET_IF_CONDITIONS.includes(kind as SetIfCondition)) {
      throw invalidArgument(`condition must be one of ${SET_IF_CONDITIONS.join(', ')}`);
    }
    const condition = kind as SetIfCondition;
    if (!COMPARING.has(condition)) {
      this.comparand(frame, 'compare', condition, false);
      return { kind: condition };
    }
    return { kind: condition, compare: this.comparand(frame, 'compare', condition, true) };
  }

  /** setIfHash's condition as the setIf condition on the stored value's hash, or undefined for
   * `unconditional`. */
  hashCondition(frame: Frame): StoreCondition | undefined {
    const kind = frame['condition'];
    if (typeof kind !== 'string' || !Object.hasOwn(SET_IF_HASH_CONDITIONS, kind)) {
      throw invalidArgument(`condition must be one of ${Object.keys(SET_IF_HASH_CONDITIONS).join(', ')}`);
    }
    const condition = SET_IF_HASH_CONDITIONS[kind as SetIfHashCondition];
    if (condition === undefined) {
      this.comparand(frame, 'hash', kind, false);
      return undefined;
    }
    return { kind: condition, compare: this.comparand(frame, 'hash', kind, true), hashed: true };
  }

  /** The value (`compare`) or hash (`hash`) a condition compares to: required when it compares,
   * refused when it does not. */
  private comparand(frame: Frame, field: 'compare' | 'hash', condition: string, compares: boolean): Value | undefined {
    const absent = frame[field] === undefined || frame[field] === null;
    const what = field === 'hash' ? 'hash' : 'value';
    if (!compares) {
      if (!absent) throw invalidArgument(`condition ${condition} compares no ${what}: ${field} must be absent`);
      return undefined;
    }
    if (absent) throw invalidArgument(`condition ${condition} needs ${field} (the ${what} to compare the stored value's ${what === 'hash' ? 'hash ' : ''}to)`);
    return valueField(frame, field, this.limits.maxItemBytes, LimitCause.ITEM_SIZE);
  }

  /** listErase's ranges: absent = all; else an array of { beginIndex, count ≥ 0 } (as many as the
   * frame holds: the store's work is linear in the list plus the ranges). */
  eraseRanges(frame: Frame): ListEraseRange[] | undefined {
    const ranges = frame['ranges'];
    if (ranges === undefined || ranges === null) return undefined;
    if (!Array.isArray(ranges)) throw invalidArgument('ranges must be an array of { beginIndex, count }');
    return ranges.map((r: unknown, i) => {
      if (typeof r !== 'object' || r === null) throw invalidArgument(`ranges[${i}] must be { beginIndex, count }`);
      // Momento's ListRange fields are uint32: a count of 2^32 - 1 means "to the end".
      const beginIndex = optionalInt(r as Frame, 'beginIndex', 0, MAX_UINT32);
      const count = optionalInt(r as Frame, 'count', 0, MAX_UINT32);
      if (beginIndex === undefined || count === undefined) throw invalidArgument(`ranges[${i}] must be { beginIndex, count }`);
      return { beginIndex, count };
    });
  }

  /** A sorted-set score (or increment amount): a finite number (JSON has no others, and Momento's
   * SDKs send none). */
  score(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(`${field} must be a finite number`);
    return value;
  }

  /** sortedSetPutElements' `elements`: a non-empty array of { value, score }. */
  scoredElements(frame: Frame): SortedSetInput[] {
    const elements = frame['elements'];
    if (!Array.isArray(elements) || elements.length === 0) throw invalidArgument('elements must be a non-empty array of { value, score }');
    return elements.map((e: unknown, i) => {
      if (typeof e !== 'object' || e === null) throw invalidArgument(`elements[${i}] must be { value, score }`);
      return { value: this.element({ [`elements[${i}].value`]: (e as Frame)['value'] }, `elements[${i}].value`), score: this.score((e as Frame)['score'], `elements[${i}].score`) };
    });
  }

  /** An optional field holding one of `allowed`. */
  oneOf<T extends string>(frame: Frame, field: string, allowed: readonly T[]): T | undefined {
    const value = frame[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || !allowed.includes(value as T)) throw invalidArgument(`${field} must be one of ${allowed.join(', ')}`);
    return value as T;
  }

  /** A sorted-set read's `order`: ascending (the default) or descending. */
  order(frame: Frame): SortedSetOrder {
    return this.oneOf(frame, 'order', ORDERS) ?? 'ascending';
  }

  /** startRank / endRank: a rank range as a list fetch's, refused as the SDKs refuse it (same-sign
   * bounds out of order). */
  ranks(frame: Frame): Range {
    const startIndex = optionalInt(frame, 'startRank', -MAX_INDEX, MAX_INDEX);
    const endIndex = optionalInt(frame, 'endRank', -MAX_INDEX, MAX_INDEX);
    if (startIndex !== undefined && endIndex !== undefined) {
      if (startIndex > 0 && endIndex > 0 && startIndex > endIndex) throw invalidArgument('startRank must not be greater than endRank');
      if (startIndex < 0 && endIndex < 0 && startIndex >= endIndex) throw invalidArgument('a negative startRank must be less than a negative endRank');
    }
    return { startIndex, endIndex };
  }

  /** minScore / maxScore (absent: unbounded; any number but NaN), each inclusive unless
   * exclusiveMin / exclusiveMax; minScore above maxScore is refused, as the SDKs refuse it. */
  scoreRange(frame: Frame): ScoreRange {
    const bound = (field: string, exclusiveField: string): ScoreBound | undefined => {
      const score = frame[field];
      const exclusive = this.optionalBoolean(frame, exclusiveField) ?? false;
      if (score === undefined || score === null) return undefined;
      if (typeof score !== 'number' || Number.isNaN(score)) throw invalidArgument(`${field} must be a number`);
      return { score, exclusive };
    };
    const min = bound('minScore', 'exclusiveMin');
    const max = bound('maxScore', 'exclusiveMax');
    if (min && max && min.score > max.score) throw invalidArgument('minScore must not be greater than maxScore');
    return { min, max };
  }

  /** sortedSetUnionStore's `sources`: a non-empty array of { sortedSet, weight (a finite number) }. */
  sources(frame: Frame): SortedSetSource[] {
    const sources = frame['sources'];
    if (!Array.isArray(sources) || sources.length === 0) throw invalidArgument('sources must be a non-empty array of { sortedSet, weight }');
    return sources.map((source: unknown, i) => {
      if (typeof source !== 'object' || source === null) throw invalidArgument(`sources[${i}] must be { sortedSet, weight }`);
      const named = { [`sources[${i}].sortedSet`]: (source as Frame)['sortedSet'] };
      return { sortedSet: nameField(named, `sources[${i}].sortedSet`, 'key'), weight: this.score((source as Frame)['weight'], `sources[${i}].weight`) };
    });
  }

  optionalBoolean(frame: Frame, field: string): boolean | undefined {
    const value = frame[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw invalidArgument(`${field} must be a boolean`);
    return value;
  }
}
