/** The memory and Redis engines answer alike: a model-based property test (fast-check) runs the SAME
 * random sequence of operations against a memory-engine server, a Redis-engine server (real
 * redis-server) and a Redis-engine server on two shards (redis.shards), over real WebSockets (raw
 * protocol) and, for keysExist, the official Momento SDK over gRPC, and compares every answer:
 * results, Hit / Miss, lengths, TTLs, positions, replayed and live frames, and error codes with
 * their causes, with their messages where those name no server-specific number.
 *
 * Covered: list push / concatenate at both ends with truncation, pops, fetch with slices (negative,
 * out of range) with and without meta, retain, remove value, length; set / get / delete with TTLs,
 * updateTtl, itemGetTtl, keysExist, itemGetType; dictionaries (set, get, fetch, increment, remove,
 * length), sets (add, remove, fetch, contains, length, pop of all, sample by size) and sorted sets
 * (put, fetch by rank and by score, increment, rank, remove, union) on the same keys; the item-size, element-size, list-length, dictionary-field and set-element limits; a cache not
 * in store.caches; publish, pubAppend, retract (also on a topic that expired meanwhile), resume from
 * a (page, seq), live subscriptions (items, retracts, discs), idempotency keys, tokens with and
 * without a tokenId, the per-topic window bounds; a moderator group (its input refusing pubAppend,
 * accept into the history, reject); the clock.
 * Not covered, by design: store.maxBytes (the memory store's LRU bound; Redis's maxmemory governs
 * the Redis engine instead, docs/operations.md "Memory"), and node-local bounds (topics.maxTopics,
 * topics.windowTotalBytes, server.maxPendingRequests).
 *
 * Pages are compared by order, per topic: each server's pages of one topic are numbered in order of
 * first appearance within a run (values differ between servers, and between topics on two shards).
 * The servers run on ManualClocks moved together, so ts and TTLs match exactly. A failure is shrunk
 * to a minimal sequence; keep it below as a regression case.
 * TIDINGS_PARITY_RUNS sets the number of sequences (default small for CI). */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import type { CacheClient, CacheKeysExist } from '@gomomento/sdk';
import { ManualClock, PermissionScopes, type MemoryEngine, type TidingsServer } from '../../src/index.js';
import { TopicKeys } from '../../src/engine/redis/keys.js';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis } from '../helpers/redis.js';
import { shardOf } from '../../src/engine/shards/rendezvous.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { apiKeyFor, momentoClients } from '../helpers/momento.js';

const RUNS = Number(process.env['TIDINGS_PARITY_RUNS'] ?? 80);
const CACHE = 'c';
/** A cache without cache data; with two Redis shards it lives on the other one than CACHE. */
const OTHER = 'b';
const START = 1_800_000_000_000;

const config = {
  // Cache data exists in cache c only (NOT_FOUND_ERROR elsewhere); topics exist in every cache.
  store: { caches: ['c'], maxListLength: 5, maxDictionaryFields: 3, maxSetElements: 3, maxItemBytes: 24, maxElementBytes: 12, maxTtlSec: 3600, defaultTtlSec: 600 },
  // Each window item counts its frame + 320 B: about three fit in windowBytes, four in windowItems.
  topics: { maxValueBytes: 12, windowItems: 4, windowBytes: 1300, idleTopicMs: 20 * 3600_000 },
  // Deliveries are never taken back for want of an answer while a run lasts.
  moderation: { historyTtlSec: 3600, historyLength: 5, ackTimeoutMs: 3600_000 },
  momento: { enabled: true, port: 0 },
  // Kept in Redis by Redis's own clock, in memory by the server's: longer than a run moves the clock.
  server: { idempotencyWindowMs: 3600_000 },
};

// Keys shared by lists, scalars and history lists (pubAppend writes the list named like its topic).
// `x:longkey` is a key of cache x, which has no cache data (store.caches); with a 13-byte value
// a long key is past store.maxItemBytes.
const keys = ['a', 't', 'u', 'in:u', 'longkey', 'x:longkey'];
// `x:t` is topic t of cache x, which has no cache data (store.caches). `in:u` is the input topic of
// u once the run's moderator group exists: its pattern is the prefix `<run>in`, the topic
// `<run>in<run>u`, whose output (topic and history list) is `<run>u`.
const topics = ['t', 'u', 'x:t', 'in:u'];
// Mostly values that fit; now and then one past maxElementBytes / maxValueBytes (12 bytes).
const value = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('x', 'yy', '', 'é', 'zzzzzzzzzz', 'x') },
  // Lone surrogates: kept, counted and compared as WTF-8 by both stores (store/text-bytes.ts).
  { weight: 1, arbitrary: fc.constantFrom('\uD800', '\uDC00\uD800', '\uD800é') },
  { weight: 4, arbitrary: fc.constantFrom(new Uint8Array([0x78]), new Uint8Array(0), new Uint8Array([0xc3, 0xa9]), new Uint8Array([1, 2, 3])) },
  { weight: 1, arbitrary: fc.constantFrom('w'.repeat(13), new Uint8Array(13)) },
);
// Mostly absent or valid; now and then refused (0, a fraction, past store.maxTtlSec).
const ttlMs = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.constantFrom(1000, 5000, 100_000) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1.5, 3600_001) },
);
const index = fc.option(fc.integer({ min: -8, max: 8 }), { nil: undefined });
const k = fc.constantFrom(...keys);
const topic = fc.constantFrom(...topics);
/** A position one server saw in this run, by index (taken modulo how many it saw), shifted. */
const position = fc.record({ i: fc.nat(20), seqShift: fc.constantFrom<number>(0, 0, -1, 1, 5), pageShift: fc.constantFrom<number>(0, 0, 0, -1, 1) });
const often = <T>(arbitrary: fc.Arbitrary<T>) => ({ weight: 4, arbitrary });
const sometimes = <T>(arbitrary: fc.Arbitrary<T>) => ({ weight: 1, arbitrary });
const idem = fc.option(fc.constantFrom('i1', 'i2'), { nil: undefined, freq: 3 });

const op = fc.oneof(
  often(fc.record({ op: fc.constant('push' as const), end: fc.constantFrom('back', 'front'), k, vs: fc.array(value, { minLength: 1, maxLength: 3 }), concat: fc.boolean(), ttlMs, refresh: fc.option(fc.boolean(), { nil: undefined }), trunc: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }), idem })),
  sometimes(fc.record({ op: fc.constant('pop' as const), end: fc.constantFrom('back', 'front'), k })),
  often(fc.record({ op: fc.constant('fetch' as const), k, s: index, e: index, withMeta: fc.boolean() })),
  sometimes(fc.record({ op: fc.constant('retain' as const), k, s: index, e: index, ttlMs, refresh: fc.option(fc.boolean(), { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('removeValue' as const), k, v: value })),
  sometimes(fc.record({ op: fc.constant('length' as const), k })),
  sometimes(fc.record({ op: fc.constant('set' as const), k, v: value, ttlMs })),
  sometimes(fc.record({ op: fc.constant('get' as const), k })),
  sometimes(fc.record({ op: fc.constant('delete' as const), k })),
  sometimes(fc.record({ op: fc.constant('itemGetTtl' as const), k })),
  sometimes(fc.record({ op: fc.constant('updateTtl' as const), k, ms: fc.constantFrom(1000, 5000, 100_000, 0) })),
  sometimes(fc.record({ op: fc.constant('keysExist' as const), ks: fc.uniqueArray(fc.constantFrom('a', 't', 'u', 'b'), { minLength: 1, maxLength: 3 }) })),
  sometimes(fc.record({ op: fc.constant('itemGetType' as const), k })),
  sometimes(fc.record({ op: fc.constant('dictSet' as const), k, items: fc.array(fc.record({ field: fc.constantFrom('f', 'g', 'é', 'h'), value: fc.oneof(value, fc.constantFrom('7', '-2', '+0')) }), { minLength: 1, maxLength: 3 }), ttlMs, refresh: fc.option(fc.boolean(), { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('dictGet' as const), k, fields: fc.array(fc.constantFrom('f', 'g', 'é', 'h'), { minLength: 1, maxLength: 3 }) })),
  sometimes(fc.record({ op: fc.constant('dictFetch' as const), k })),
  sometimes(fc.record({ op: fc.constant('dictIncrement' as const), k, field: fc.constantFrom('f', 'g', 'n'), by: fc.constantFrom(1, -3, 0), ttlMs, idem })),
  sometimes(fc.record({ op: fc.constant('dictRemove' as const), k, fields: fc.option(fc.array(fc.constantFrom('f', 'g', 'é', 'n'), { minLength: 1, maxLength: 2 }), { nil: undefined, freq: 4 }) })),
  sometimes(fc.record({ op: fc.constant('dictLength' as const), k })),
  // Pops and samples choose at random: a pop takes more than a set can hold, a sample is compared by size.
  sometimes(fc.record({ op: fc.constant('setAdd' as const), k, vs: fc.array(value, { minLength: 1, maxLength: 3 }), ttlMs, refresh: fc.option(fc.boolean(), { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('setRemove' as const), k, vs: fc.option(fc.array(value, { minLength: 1, maxLength: 2 }), { nil: undefined, freq: 4 }) })),
  sometimes(fc.record({ op: fc.constant('setFetch' as const), k })),
  sometimes(fc.record({ op: fc.constant('setContains' as const), k, vs: fc.array(value, { minLength: 1, maxLength: 3 }) })),
  sometimes(fc.record({ op: fc.constant('setLength' as const), k })),
  sometimes(fc.record({ op: fc.constant('setPopAll' as const), k })),
  sometimes(fc.record({ op: fc.constant('setSample' as const), k, n: fc.integer({ min: 0, max: 4 }) })),
  // Sorted sets: ties broken by bytes, both orders, score bounds, an increment past the largest double, unions.
  sometimes(fc.record({ op: fc.constant('zPut' as const), k, es: fc.array(fc.record({ value, score: fc.constantFrom(0, 1, -2.5, 1e308) }), { minLength: 1, maxLength: 2 }), ttlMs, refresh: fc.option(fc.boolean(), { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('zByRank' as const), k, start: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }), order: fc.constantFrom('ascending', 'descending') })),
  sometimes(fc.record({ op: fc.constant('zByScore' as const), k, min: fc.option(fc.constantFrom(-1, 0, 1), { nil: undefined }), exclusive: fc.boolean(), order: fc.constantFrom('ascending', 'descending'), count: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('zIncrement' as const), k, v: value, by: fc.constantFrom(1, -0.5, 1e308) })),
  sometimes(fc.record({ op: fc.constant('zRank' as const), k, v: value })),
  sometimes(fc.record({ op: fc.constant('zRemove' as const), k, vs: fc.option(fc.array(value, { minLength: 1, maxLength: 2 }), { nil: undefined, freq: 4 }) })),
  sometimes(fc.record({ op: fc.constant('zUnion' as const), k, sources: fc.array(fc.record({ k, weight: fc.constantFrom(1, -1, 0.5) }), { minLength: 1, maxLength: 2 }), aggregate: fc.constantFrom('sum', 'min', 'max') })),
  sometimes(fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(1, 999, 1000, 1001, 4000) })),
  sometimes(fc.record({ op: fc.constant('pub' as const), topic, v: value, idem, anonymous: fc.boolean() })),
  often(fc.record({ op: fc.constant('pubAppend' as const), topic, v: value, ttlMs, trunc: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), idem, anonymous: fc.boolean() })),
  sometimes(fc.record({ op: fc.constant('retract' as const), topic, target: position, anonymous: fc.boolean() })),
  sometimes(fc.record({ op: fc.constant('resume' as const), topic, from: fc.option(position, { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('expire' as const), topic })),
  // A subscription that stays: live items, retracts and discs are compared after every operation.
  sometimes(fc.record({ op: fc.constant('sub' as const), topic, from: fc.option(position, { nil: undefined }) })),
  sometimes(fc.record({ op: fc.constant('unsub' as const), topic })),
  sometimes(fc.record({ op: fc.constant('gsub' as const) })),
  // The moderator settles the oldest delivery it holds: accept (maybe edited, maybe with keep) or reject.
  sometimes(fc.record({ op: fc.constant('settle' as const), accept: fc.boolean(), edit: fc.option(value, { nil: undefined }), keep: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }) })),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** One engine under test: a server on its own ManualClock, a raw WebSocket client, a Momento SDK client. */
interface Side {
  name: Engine;
  server: TidingsServer;
  clock: ManualClock;
  client: RawClient;
  /** A client whose token has no tokenId: its items and history elements carry none. */
  anonymous: RawClient;
  /** A moderator: joins the run's group (gsub); its deliveries are not compared. */
  moderator: RawClient;
  /** Whether the moderator is in the current run's group. */
  joined: boolean;
  /** Items the group took (pubs to its input acknowledged) and the moderator has not settled. */
  unsettled: number;
  momento: CacheClient;
  /** Engine redis: a client of its Redis, to expire a topic as Redis does (its keys' PEXPIRE). */
  redisFor?: (cache: string) => Redis;
  /** Positions this server answered in the current run, in order. */
  positions: Map<string, Array<{ page: number; seq: number }>>;
  /** Its pages in the current run, per topic (`cache/topic`), by order of first appearance: pages
   * order one topic's incarnations, and two topics may share a value (on two Redis shards). */
  pages: Map<string, Map<number, number>>;
  /** The topic (or the history list named like it) the current operation is about. */
  context: string;
  /** Idempotency keys acknowledged in the current run (a repeat feeds no group again). */
  keysUsed: Set<string>;
  /** Topics (`cache/topic`) its client is subscribed to now. */
  subs: Set<string>;
}

type Engine = 'memory' | 'redis' | 'redis, 2 shards';

async function side(tt: Test, name: Engine): Promise<Side> {
  const clock = new ManualClock(START);
  const shards = name === 'redis, 2 shards' ? await Promise.all([startRedis(tt), startRedis(tt)]) : undefined;
  const server = await startServer(tt, {
    engine: name === 'memory' ? 'memory' : 'redis', clock,
    config: shards ? { ...config, redis: { shards: shards.map((r) => r.url) } } : config,
    ...(shards ? { redisUrl: shards[0]!.url } : {}),
  });
  const scope = PermissionScopes.allDataReadWrite();
  const client = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'p', expiresInSec: 24 * 3600 }));
  const anonymous = await RawClient.open(server, await tokenFor(server, scope, { expiresInSec: 24 * 3600 }));
  const moderator = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'mod', expiresInSec: 24 * 3600 }));
  tt.teardown(() => { client.close(); anonymous.close(); moderator.close(); });
  const { cache: momento } = await momentoClients(tt, server, await apiKeyFor(server, scope));
  const s: Side = { name, server, clock, client, anonymous, moderator, joined: false, unsettled: 0, momento, positions: new Map(), pages: new Map(), context: '', subs: new Set(), keysUsed: new Set() };
  if (name !== 'memory') {
    const clients = (shards?.map((r) => r.url) ?? [server.config.redis.url]).map((url) => new Redis(url));
    s.redisFor = (cache) => clients[shardOf(cache, clients.length)]!;
    tt.teardown(() => { for (const c of clients) c.disconnect(); });
  }
  return s;
}

/** What a reply or a pushed frame says, with this server's pages numbered and binaries spelled out. */
function normalize(s: Side, v: unknown, key?: string, context = s.context): unknown {
  if (v instanceof Uint8Array) return { bin: [...v] };
  if (Array.isArray(v)) return v.map((x) => normalize(s, x, undefined, context));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // A frame names its topic (a delivery: the input topic its position is on).
    if (typeof o['cache'] === 'string' && typeof o['topic'] === 'string') context = `${o['cache']}/${o['topic']}`;
    const out: Record<string, unknown> = {};
    // Keys sorted: the order of a map's fields is no part of the contract.
    for (const [k2, x] of Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) out[k2] = normalize(s, x, k2, context);
    return out;
  }
  if (key === 'page' && typeof v === 'number' && v > 0) {
    let pages = s.pages.get(context);
    if (!pages) s.pages.set(context, pages = new Map());
    if (!pages.has(v)) pages.set(v, pages.size + 1);
    return `P${pages.get(v)}`;
  }
  return v;
}

function remember(s: Side, reply: Frame): void {
  const r = reply['r'] as Frame | undefined;
  if (reply['t'] !== 'ok' || !r || typeof r['page'] !== 'number' || typeof r['seq'] !== 'number') return;
  let positions = s.positions.get(s.context);
  if (!positions) s.positions.set(s.context, positions = []);
  positions.push({ page: r['page'], seq: r['seq'] });
}

/** A reply as compared: the result, or the error's code and cause. */
function answer(s: Side, reply: Frame): unknown {
  remember(s, reply);
  if (reply['t'] === 'ok') return normalize(s, { ok: reply['r'] });
  const e = reply['e'] as { code: string; cause?: string; message: string };
  // Messages too where they name no number that differs between servers (pages, sizes in memory).
  const worded = e.code === 'FAILED_PRECONDITION_ERROR' || e.code === 'NOT_FOUND_ERROR' || e.code === 'ALREADY_EXISTS_ERROR';
  return { err: e.code, ...(e.cause ? { cause: e.cause } : {}), ...(worded ? { message: e.message } : {}) };
}

type Shifted = { i: number; seqShift: number; pageShift: number };

function pick(s: Side, p: Shifted): { page: number; seq: number } {
  // Positions of the operation's own topic: page values compare only within one topic.
  const positions = s.positions.get(s.context) ?? [];
  const base = positions.length === 0 ? { page: 1, seq: 1 } : positions[p.i % positions.length]!;
  return { page: Math.max(1, base.page + p.pageShift), seq: Math.max(1, base.seq + p.seqShift) };
}

async function apply(s: Side, o: Op, tag: string): Promise<unknown> {
  const c = s.client;
  const ttl = (ms: number | undefined) => (ms === undefined ? {} : { ttlMs: ms });
  const about = 'k' in o ? where(tag, o.k) : 'topic' in o ? where(tag, o.topic) : undefined;
  s.context = about ? `${about.cache}/${about.topic}` : '';
  // A key of its own per target: a repeat elsewhere would be answered another topic's position.
  const key = (i: string | undefined) => (i === undefined ? {} : { idempotencyKey: `${i}:${s.context}` });
  switch (o.op) {
    case 'push': {
      const single = !o.concat && o.vs.length === 1;
      const t = single ? (o.end === 'back' ? 'listPushBack' : 'listPushFront') : (o.end === 'back' ? 'listConcatenateBack' : 'listConcatenateFront');
      const trunc = o.trunc === undefined ? {} : { [o.end === 'back' ? 'truncateFrontToSize' : 'truncateBackToSize']: o.trunc };
      const refresh = o.refresh === undefined ? {} : { refreshTtl: o.refresh };
      return answer(s, await c.request({ t, ...item(tag, o.k, 'list'), ...(single ? { value: o.vs[0] } : { values: o.vs }), ...ttl(o.ttlMs), ...refresh, ...trunc, ...key(o.idem) }));
    }
    case 'pop': return answer(s, await c.request({ t: o.end === 'back' ? 'listPopBack' : 'listPopFront', ...item(tag, o.k, 'list') }));
    case 'fetch': return answer(s, await c.request({ t: 'listFetch', ...item(tag, o.k, 'list'), startIndex: o.s, endIndex: o.e, withMeta: o.withMeta }));
    case 'retain': {
      const refresh = o.refresh === undefined ? {} : { refreshTtl: o.refresh };
      return answer(s, await c.request({ t: 'listRetain', ...item(tag, o.k, 'list'), startIndex: o.s, endIndex: o.e, ...ttl(o.ttlMs), ...refresh }));
    }
    case 'removeValue': return answer(s, await c.request({ t: 'listRemoveValue', ...item(tag, o.k, 'list'), value: o.v }));
    case 'length': return answer(s, await c.request({ t: 'listLength', ...item(tag, o.k, 'list') }));
    case 'set': return answer(s, await c.request({ t: 'set', ...item(tag, o.k, 'key'), value: o.v, ...ttl(o.ttlMs) }));
    case 'get': return answer(s, await c.request({ t: 'get', ...item(tag, o.k, 'key') }));
    case 'delete': return answer(s, await c.request({ t: 'delete', ...item(tag, o.k, 'key') }));
    case 'itemGetTtl': return answer(s, await c.request({ t: 'itemGetTtl', ...item(tag, o.k, 'key') }));
    case 'updateTtl': return answer(s, await c.request({ t: 'updateTtl', ...item(tag, o.k, 'key'), ttlMs: o.ms }));
    case 'keysExist': {
      const r = await s.momento.keysExist(CACHE, o.ks.map((x) => tag + x));
      const exists = (r as CacheKeysExist.Success).exists?.();
      return exists ?? { err: (r as unknown as { errorCode(): string }).errorCode() };
    }
    case 'itemGetType': return answer(s, await c.request({ t: 'itemGetType', ...item(tag, o.k, 'key') }));
    case 'dictSet': {
      const refresh = o.refresh === undefined ? {} : { refreshTtl: o.refresh };
      return answer(s, await c.request({ t: 'dictionarySetFields', ...item(tag, o.k, 'dictionary'), items: o.items, ...ttl(o.ttlMs), ...refresh }));
    }
    case 'dictGet': return answer(s, await c.request({ t: 'dictionaryGetFields', ...item(tag, o.k, 'dictionary'), fields: o.fields }));
    case 'dictFetch': {
      // Fields come in no particular order (docs/protocol.md): compared sorted.
      const reply = await c.request({ t: 'dictionaryFetch', ...item(tag, o.k, 'dictionary') });
      const items = (reply['r'] as { items?: Array<{ field: string }> } | undefined)?.items;
      items?.sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
      return answer(s, reply);
    }
    case 'dictIncrement': return answer(s, await c.request({ t: 'dictionaryIncrement', ...item(tag, o.k, 'dictionary'), field: o.field, amount: o.by, ...ttl(o.ttlMs), ...key(o.idem) }));
    case 'dictRemove': return answer(s, await c.request({ t: 'dictionaryRemoveFields', ...item(tag, o.k, 'dictionary'), ...(o.fields ? { fields: o.fields } : {}) }));
    case 'dictLength': return answer(s, await c.request({ t: 'dictionaryLength', ...item(tag, o.k, 'dictionary') }));
    case 'setAdd': {
      const refresh = o.refresh === undefined ? {} : { refreshTtl: o.refresh };
      return answer(s, await c.request({ t: 'setAddElements', ...item(tag, o.k, 'set'), elements: o.vs, ...ttl(o.ttlMs), ...refresh }));
    }
    case 'setRemove': return answer(s, await c.request({ t: 'setRemoveElements', ...item(tag, o.k, 'set'), ...(o.vs ? { elements: o.vs } : {}) }));
    case 'setContains': return answer(s, await c.request({ t: 'setContainsElements', ...item(tag, o.k, 'set'), elements: o.vs }));
    case 'setLength': return answer(s, await c.request({ t: 'setLength', ...item(tag, o.k, 'set') }));
    // Elements come in no particular order: compared sorted.
    case 'setFetch': return answer(s, sortElements(await c.request({ t: 'setFetch', ...item(tag, o.k, 'set') })));
    case 'setPopAll': return answer(s, sortElements(await c.request({ t: 'setPop', ...item(tag, o.k, 'set'), count: 100 })));
    case 'setSample': {
      const reply = await c.request({ t: 'setSample', ...item(tag, o.k, 'set'), limit: o.n });
      const elements = (reply['r'] as { elements?: Uint8Array[] } | undefined)?.elements;
      if (elements) (reply['r'] as Record<string, unknown>)['elements'] = elements.length;
      return answer(s, reply);
    }
    case 'zPut': {
      const refresh = o.refresh === undefined ? {} : { refreshTtl: o.refresh };
      return answer(s, await c.request({ t: 'sortedSetPutElements', ...item(tag, o.k, 'sortedSet'), elements: o.es, ...ttl(o.ttlMs), ...refresh }));
    }
    case 'zByRank': return answer(s, await c.request({ t: 'sortedSetFetchByRank', ...item(tag, o.k, 'sortedSet'), ...(o.start === undefined ? {} : { startRank: o.start }), order: o.order }));
    case 'zByScore': {
      const min = o.min === undefined ? {} : { minScore: o.min, exclusiveMin: o.exclusive };
      return answer(s, await c.request({ t: 'sortedSetFetchByScore', ...item(tag, o.k, 'sortedSet'), ...min, order: o.order, ...(o.count === undefined ? {} : { count: o.count }) }));
    }
    case 'zIncrement': return answer(s, await c.request({ t: 'sortedSetIncrementScore', ...item(tag, o.k, 'sortedSet'), value: o.v, amount: o.by }));
    case 'zRank': return answer(s, await c.request({ t: 'sortedSetGetRank', ...item(tag, o.k, 'sortedSet'), value: o.v }));
    case 'zRemove': return answer(s, await c.request({ t: 'sortedSetRemoveElements', ...item(tag, o.k, 'sortedSet'), ...(o.vs ? { values: o.vs } : {}) }));
    case 'zUnion': {
      // Sources of the destination's cache (another cache's would be another shard's).
      const sources = o.sources.map((x) => ({ sortedSet: item(tag, x.k, 'sortedSet')['sortedSet'], weight: x.weight }));
      return answer(s, await c.request({ t: 'sortedSetUnionStore', ...item(tag, o.k, 'sortedSet'), sources, aggregate: o.aggregate }));
    }
    case 'advance': s.clock.advance(o.ms); return null;
    case 'pub': {
      const reply = await (o.anonymous ? s.anonymous : c).request({ t: 'pub', ...where(tag, o.topic), value: o.v, ...key(o.idem) });
      const used = `${o.anonymous ? 'anonymous' : 'p'} ${o.idem}`;
      if (reply['t'] === 'ok' && s.joined && o.topic === 'in:u' && !(o.idem && s.keysUsed.has(used))) s.unsettled++;
      if (reply['t'] === 'ok' && o.idem) s.keysUsed.add(used);
      return answer(s, reply);
    }
    case 'pubAppend': {
      const trunc = o.trunc === undefined ? {} : { truncateFrontToSize: o.trunc };
      return answer(s, await (o.anonymous ? s.anonymous : c).request({ t: 'pubAppend', ...where(tag, o.topic), list: where(tag, o.topic).topic, value: o.v, ...ttl(o.ttlMs), ...trunc, ...key(o.idem) }));
    }
    case 'retract': return answer(s, await (o.anonymous ? s.anonymous : c).request({ t: 'retract', ...where(tag, o.topic), target: pick(s, o.target), reason: 'r' }));
    case 'resume': // subscribe from a position, take the catch-up (drain), leave
      return { sub: await subscribe(s, where(tag, o.topic), o.from), unsub: await unsubscribe(s, where(tag, o.topic)) };
    case 'sub': return subscribe(s, where(tag, o.topic), o.from);
    case 'settle': {
      // The group hands items out in order; the Redis engine does so asynchronously: wait for one.
      if (s.unsettled === 0) return 'nothing to settle';
      const d = await s.moderator.next((f) => f['t'] === 'delivery' && f['group'] === `${tag}g`, 5000);
      const { delivery: id, ...delivered } = d;
      const settle = o.accept
        ? { t: 'accept', delivery: id, ...(o.edit === undefined ? {} : { value: o.edit }), ...(o.keep === undefined ? {} : { keep: o.keep }) }
        : { t: 'reject', delivery: id, reason: 'no' };
      const reply = await s.moderator.request(settle);
      if (reply['t'] === 'ok') s.unsettled--;
      s.context = `${CACHE}/${String(d['output'])}`;
      return { delivered: normalize(s, delivered), reply: answer(s, reply) };
    }
    case 'gsub': {
      const reply = await s.moderator.request({ t: 'gsub', cache: CACHE, group: `${tag}g`, pattern: { namePrefix: `${tag}in` } });
      if (reply['t'] === 'ok') s.joined = true;
      return answer(s, reply);
    }
    case 'unsub': return unsubscribe(s, where(tag, o.topic));
    case 'expire': {
      // A topic unused past topics.idleTopicMs: the memory engine's sweep drops it; Redis expires its keys.
      const { cache, topic: name } = where(tag, o.topic);
      if (s.subs.has(`${cache}/${name}`)) return null; // a topic with subscribers never goes idle
      if (s.redisFor) {
        const keys = new TopicKeys(s.server.config.redis.keyPrefix, cache, name);
        await s.redisFor(cache).del(keys.topic, keys.recent);
      } else {
        (s.server.broker['deps'].engine as MemoryEngine).topics.registry.drop(cache, name);
      }
      return null;
    }
  }
}

/** A set reply with its elements in byte order. */
function sortElements(reply: Frame): Frame {
  (reply['r'] as { elements?: Uint8Array[] } | undefined)?.elements?.sort((a, b) => Buffer.compare(a, b));
  return reply;
}

/** The cache and the run's name of a key of the model, as request fields. */
function item(tag: string, k: string, field: 'list' | 'key' | 'dictionary' | 'set' | 'sortedSet'): Record<string, string> {
  const { cache, topic } = where(tag, k);
  return { cache, [field]: topic };
}

/** The cache and the run's name of a topic (or key) of the model. */
function where(tag: string, topic: string): { cache: string; topic: string } {
  if (topic.startsWith('x:')) return { cache: OTHER, topic: tag + topic.slice(2) };
  if (topic.startsWith('in:')) return { cache: CACHE, topic: `${tag}in${tag}${topic.slice(3)}` };
  return { cache: CACHE, topic: tag + topic };
}

async function subscribe(s: Side, at: { cache: string; topic: string }, from: Shifted | undefined): Promise<unknown> {
  const reply = await s.client.request({ t: 'sub', ...at, ...(from ? { after: pick(s, from) } : {}) });
  if (reply['t'] === 'ok') s.subs.add(`${at.cache}/${at.topic}`);
  return answer(s, reply);
}

async function unsubscribe(s: Side, at: { cache: string; topic: string }): Promise<unknown> {
  const reply = await s.client.request({ t: 'unsub', ...at });
  if (reply['t'] === 'ok') s.subs.delete(`${at.cache}/${at.topic}`);
  return answer(s, reply);
}

/** Topic frames the client got since the last drain. Redis's engine fans out what its subscription
 * delivers: settle() waits for everything published so far; a ping then follows every frame sent. */
async function drain(s: Side): Promise<unknown[]> {
  await s.server.engine.topics.settle?.();
  await s.client.ok({ t: 'ping' });
  const frames = s.client.frames.splice(0).filter((f) => ['item', 'retract', 'disc'].includes(f['t']));
  return frames.map((f) => normalize(s, f));
}

let run = 0;

/** Runs `ops` on both sides under a fresh key prefix; returns the first divergence, if any. */
async function compare(sides: Side[], ops: Op[]): Promise<string | undefined> {
  const tag = `r${String(++run).padStart(5, '0')}`; // one width: item sizes count the key
  for (const s of sides) { s.positions = new Map(); s.pages = new Map(); s.keysUsed = new Set(); s.unsettled = 0; }
  const log: string[] = [];
  try {
    for (const o of ops) {
      const answers: string[] = [];
      for (const s of sides) answers.push(JSON.stringify(await step(s, o, tag)));
      log.push(`${JSON.stringify(o)} -> ${answers[0]}`);
      if (answers.some((a) => a !== answers[0])) {
        const each = sides.map((s, i) => `  ${s.name}: ${answers[i]}`).join('\n');
        return `diverged at ${JSON.stringify(o)}:\n${each}\nafter:\n  ${log.slice(0, -1).join('\n  ')}`;
      }
    }
    return undefined;
  } finally {
    // Leave what the run subscribed and joined, whatever happened, so that the next run starts clean.
    for (const s of sides) {
      for (const sub of [...s.subs]) {
        const [cache, topic] = sub.split('/') as [string, string];
        await unsubscribe(s, { cache, topic });
      }
      if (s.joined) await s.moderator.request({ t: 'gunsub', cache: CACHE, group: `${tag}g` });
      s.joined = false;
      s.moderator.frames.splice(0);
      await drain(s);
    }
  }
}

/** One operation's answer, with the topic frames it brought when anything is subscribed. */
async function step(s: Side, o: Op, tag: string): Promise<unknown> {
  const result = await apply(s, o, tag);
  if (s.subs.size === 0 && o.op !== 'resume' && o.op !== 'unsub') return result;
  return { result, frames: await drain(s) };
}

t.test('engine parity - the same random operations get the same answers from memory and Redis', async (t) => {
  if (!requireRedis(t)) return;
  const sides = [await side(t, 'memory'), await side(t, 'redis'), await side(t, 'redis, 2 shards')];

  t.test('regression sequences', async (t) => {
    const at = (i: number, seqShift = 0, pageShift = 0) => ({ i, seqShift, pageShift });
    const cases: Array<[string, Op[]]> = [
      // Redis refused a retract on a topic it did not hold (INVALID_ARGUMENT_ERROR); memory stamped it
      // on the page the topic would get, as docs/protocol.md says (only a later page or seq is refused).
      ['retract on a topic never published', [{ op: 'retract', topic: 't', target: at(0), anonymous: false }]],
      ['retract on a topic that expired meanwhile: the history element still goes', [
        { op: 'pubAppend', topic: 't', v: 'x', ttlMs: undefined, trunc: undefined, idem: undefined, anonymous: false },
        { op: 'expire', topic: 't' },
        { op: 'retract', topic: 't', target: at(0), anonymous: false },
        { op: 'fetch', k: 't', s: undefined, e: undefined, withMeta: true },
        { op: 'resume', topic: 't', from: at(0) },
        { op: 'retract', topic: 't', target: at(1, 1), anonymous: false },
      ]],
      // The history key holds a scalar: memory published the retract, then answered
      // FAILED_PRECONDITION_ERROR; Redis published it and answered removed: false. Now both refuse
      // and publish nothing (the resume replays no retract).
      ['retract with a scalar at the history key', [
        { op: 'set', k: 't', v: 'x', ttlMs: undefined },
        { op: 'retract', topic: 't', target: at(0), anonymous: false },
        { op: 'resume', topic: 't', from: { i: 0, seqShift: -1, pageShift: -1 } },
      ]],
      // Cache x has no cache data: memory published the retract, then answered NOT_FOUND_ERROR from
      // the list removal; Redis refused first. With a target on a later page, memory answered
      // INVALID_ARGUMENT_ERROR where Redis answered NOT_FOUND_ERROR. Now both: NOT_FOUND_ERROR,
      // then FAILED_PRECONDITION_ERROR (a scalar at the history key), then the target.
      ['retract in a cache without cache data', [
        { op: 'retract', topic: 'x:t', target: at(0), anonymous: false },
        { op: 'pub', topic: 'x:t', v: 'x', idem: undefined, anonymous: false },
        { op: 'retract', topic: 'x:t', target: at(0, 0, 1), anonymous: false },
        { op: 'resume', topic: 'x:t', from: at(0, -1, -1) },
      ]],
      ['retract with a scalar at the history key and a target on a later page', [
        { op: 'set', k: 't', v: 'x', ttlMs: undefined },
        { op: 'pub', topic: 't', v: 'x', idem: undefined, anonymous: false },
        { op: 'retract', topic: 't', target: at(0, 0, 1), anonymous: false },
      ]],
      ['pubAppend to an input topic whose list is full', [
        { op: 'gsub' },
        { op: 'push', end: 'back', k: 'in:u', vs: ['x', 'x', 'x'], concat: true, ttlMs: undefined, refresh: undefined, trunc: undefined, idem: undefined },
        { op: 'push', end: 'back', k: 'in:u', vs: ['x', 'x'], concat: true, ttlMs: undefined, refresh: undefined, trunc: undefined, idem: undefined },
        { op: 'pubAppend', topic: 'in:u', v: 'x', ttlMs: undefined, trunc: undefined, idem: undefined, anonymous: false },
        { op: 'set', k: 'in:u', v: 'x', ttlMs: undefined },
        { op: 'pubAppend', topic: 'in:u', v: 'x', ttlMs: undefined, trunc: undefined, idem: undefined, anonymous: false },
      ]],
      // An item past store.maxItemBytes in a cache without cache data: memory answered
      // NOT_FOUND_ERROR, Redis item_size_limit_exceeded (it measured before naming the key).
      ['set of a too large item in a cache without cache data', [
        { op: 'set', k: 'x:longkey', v: 'w'.repeat(13), ttlMs: undefined },
      ]],
      // Text and its UTF-8 bytes are one element; the element limit (3) and the item size (24).
      ['sets: bytes identity, contains, the limits, sample, pop of all', [
        { op: 'setAdd', k: 'a', vs: ['x', new Uint8Array([0x78]), 'é'], ttlMs: undefined, refresh: undefined },
        { op: 'setContains', k: 'a', vs: [new Uint8Array([0xc3, 0xa9]), 'yy', 'x'] },
        { op: 'setAdd', k: 'a', vs: ['yy', ''], ttlMs: 5000, refresh: false },
        { op: 'setAdd', k: 'a', vs: ['zzzzzzzzzz', 'é'], ttlMs: undefined, refresh: undefined },
        { op: 'itemGetTtl', k: 'a' },
        { op: 'setFetch', k: 'a' },
        { op: 'setSample', k: 'a', n: 2 },
        { op: 'itemGetType', k: 'a' },
        { op: 'get', k: 'a' },
        { op: 'setPopAll', k: 'a' },
        { op: 'setLength', k: 'a' },
        { op: 'setAdd', k: 'x:longkey', vs: ['x'], ttlMs: undefined, refresh: undefined },
      ]],
      // Ties by bytes in both orders, bounds, an increment past the largest double, a weighted union.
      ['sorted sets: order, ties, bounds, increments, unions', [
        { op: 'zPut', k: 'a', es: [{ value: 'x', score: 1 }, { value: new Uint8Array([0x77]), score: 1 }], ttlMs: undefined, refresh: undefined },
        { op: 'zPut', k: 't', es: [{ value: 'x', score: 1e308 }], ttlMs: 5000, refresh: false },
        { op: 'zByRank', k: 'a', start: undefined, order: 'descending' },
        { op: 'zByScore', k: 'a', min: 1, exclusive: true, order: 'ascending', count: undefined },
        { op: 'zIncrement', k: 't', v: 'x', by: 1e308 },
        { op: 'zUnion', k: 'u', sources: [{ k: 'a', weight: 0.5 }, { k: 't', weight: -1 }, { k: 'longkey', weight: 1 }], aggregate: 'min' },
        { op: 'zByRank', k: 'u', start: -2, order: 'ascending' },
        { op: 'zRank', k: 'u', v: 'w' },
        { op: 'itemGetType', k: 'u' },
        { op: 'zRemove', k: 'u', vs: undefined },
        { op: 'zPut', k: 'x:longkey', es: [{ value: 'x', score: 0 }], ttlMs: undefined, refresh: undefined },
      ]],
      ['moderated: accept into the history, a refused accept hands the item back', [
        { op: 'gsub' },
        { op: 'pub', topic: 'in:u', v: 'x', idem: undefined, anonymous: false },
        { op: 'pub', topic: 'in:u', v: 'yy', idem: undefined, anonymous: true },
        { op: 'settle', accept: true, edit: 'é', keep: 2 },
        { op: 'set', k: 'u', v: 'x', ttlMs: undefined },
        { op: 'settle', accept: true, edit: undefined, keep: undefined },
        { op: 'delete', k: 'u' },
        { op: 'settle', accept: true, edit: undefined, keep: undefined },
        { op: 'fetch', k: 'u', s: undefined, e: undefined, withMeta: true },
        { op: 'settle', accept: false, edit: undefined, keep: undefined },
      ]],
    ];
    for (const [name, ops] of cases) t.equal(await compare(sides, ops), undefined, name);
  });

  t.test('random sequences', async (t) => {
    let last: string | undefined; // the divergence the shrunk sequence showed, should it not recur
    const out = await fc.check(fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 30 }), async (ops) => {
      const failure = await compare(sides, ops);
      if (failure !== undefined) last = failure;
      return failure === undefined;
    }), { numRuns: RUNS });
    if (!out.failed) { t.pass(`${RUNS} random sequences of 4 to 30 operations`); return; }
    const [ops] = out.counterexample!;
    const again = await compare(sides, ops);
    t.fail(`shrunk to ${ops.length} operations (seed ${out.seed}, path ${out.counterexamplePath}): ${again ?? `passed when run again; it had: ${last}`}`);
  });
});
