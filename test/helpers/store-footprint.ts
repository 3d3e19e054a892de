/** Measures what the memory store really holds against what it accounts (src/store/sizes.ts).
 * Run: node --expose-gc --import tsx test/helpers/store-footprint.ts [scenario...]
 * Prints one JSON line per scenario: retained bytes (heap + ArrayBuffers, after GC), the store's
 * accounted bytes, and their ratio. Values go through the real codec so strings are flat and binary
 * values are views into a frame, as on the wire. Also used by test/unit/store/byte-accounting.test.ts. */
import { encodeFrame, decodeFrame, type Value, type PublishResult } from '../../src/protocol/index.js';
import { DEFAULTS } from '../../src/core/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { MemoryCacheStore } from '../../src/store/memory-store.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap plus ArrayBuffer bytes after full collections; ArrayBuffer memory is released on a
 * background thread, so it waits a moment between rounds. */
async function retained(): Promise<number> {
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) { gc!(); await new Promise((r) => setTimeout(r, 20)); }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A value as the broker sees it after decoding a request frame. */
function wire(value: Value): Value {
  return decodeFrame(encodeFrame({ v: value }))['v'] as Value;
}

const text = (i: number, n: number) => wire(`${i}:`.padEnd(n, 'x'));
const wide = (i: number, n: number) => wire(`${i}:`.padEnd(n, 'ж'));
const bytes = (i: number, n: number) => { const b = new Uint8Array(n); b[0] = i & 0xff; return wire(b); };

const publisher = {
  seq: 0,
  publishNow(): PublishResult & { ts: number } { return { seq: ++this.seq, page: 1_700_000_000_000, ts: 1_700_000_000_000 + this.seq }; },
};

type Fill = (store: MemoryCacheStore, n: number) => Promise<void>;
const ttl = { refresh: true };
export const SCENARIOS: Record<string, { count: number; fill: Fill }> = {
  'scalar text 16 B': { count: 200_000, fill: async (s, n) => { for (let i = 0; i < n; i++) await s.set('c', `key-${i}`, text(i, 16), undefined); } },
  'scalar text 1 KiB': { count: 50_000, fill: async (s, n) => { for (let i = 0; i < n; i++) await s.set('c', `key-${i}`, text(i, 1024), undefined); } },
  'scalar binary 16 B': { count: 200_000, fill: async (s, n) => { for (let i = 0; i < n; i++) await s.set('c', `key-${i}`, bytes(i, 16), undefined); } },
  'scalar binary 1 KiB': { count: 50_000, fill: async (s, n) => { for (let i = 0; i < n; i++) await s.set('c', `key-${i}`, bytes(i, 1024), undefined); } },
  'list text 20 B x100': { count: 2_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j++) await s.listPushBack('c', `list-${i}`, [text(j, 20)], { ttl }); } },
  'list wide text 20 ch x100': { count: 2_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j++) await s.listPushBack('c', `list-${i}`, [wide(j, 20)], { ttl }); } },
  'list binary 32 B x100': { count: 2_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j++) await s.listPushBack('c', `list-${i}`, [bytes(j, 32)], { ttl }); } },
  'list capped text 20 B x100 of 300': { count: 2_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 300; j++) await s.listPushBack('c', `list-${i}`, [text(j, 20)], { ttl, truncateToSize: 100 }); } },
  // Fields set ten at a time, values text and binary in turn.
  'dictionary 20 B x100': { count: 1_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j += 10) await s.dictionarySetFields('c', `dict-${i}`, Array.from({ length: 10 }, (_, k) => ({ field: wire(`field-${j + k}`) as string, value: (j + k) % 2 ? text(j + k, 20) : bytes(j + k, 20) })), ttl); } },
  // Elements added ten at a time, text and binary in turn (a set keeps bytes either way).
  'set 20 B x100': { count: 1_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j += 10) await s.setAddElements('c', `set-${i}`, Array.from({ length: 10 }, (_, k) => ((j + k) % 2 ? text(j + k, 20) : bytes(j + k, 20))), ttl); } },
  // Elements put ten at a time, text and binary in turn, scores fractional (heap numbers).
  'sorted set 20 B x100': { count: 1_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j += 10) await s.sortedSetPutElements('c', `zset-${i}`, Array.from({ length: 10 }, (_, k) => ({ value: (j + k) % 2 ? text(j + k, 20) : bytes(j + k, 20), score: (j + k) / 3 })), ttl); } },
  'pubAppend text 40 B x100': { count: 2_000, fill: async (s, n) => { for (let i = 0; i < n; i++) for (let j = 0; j < 100; j++) await s.pubAppend('c', `room-${i}`, `hist-${i}`, text(j, 40), `user-${j % 7}`, { ttl }); } },
};

export interface Measurement { scenario: string; items: number; accounted: number; retained: number; ratio: number }

export async function measure(scenario: string, count?: number): Promise<Measurement> {
  const spec = SCENARIOS[scenario];
  if (!spec) throw new Error(`unknown scenario ${scenario}`);
  const store = new MemoryCacheStore({ ...DEFAULTS.store, maxBytes: 2 ** 40, maxItemBytes: 2 ** 30, maxElementBytes: 2 ** 20 }, new ManualClock(), publisher);
  const before = await retained();
  await spec.fill(store, count ?? spec.count);
  const after = await retained();
  const { bytes, items } = store.stats();
  const result = { scenario, items, accounted: bytes, retained: after - before, ratio: (after - before) / bytes };
  store.close();
  return result;
}

export interface FillResult { maxBytes: number; written: number; items: number; accounted: number; retained: number; maxAccountedSeen: number; firstKeyPresent: boolean; touchedKeyPresent: boolean }

/** Writes about three times store.maxBytes of mixed scalars and capped lists, reading one early key
 * now and then so it stays recent; reports memory held once the store has evicted its way down. */
export async function fillPastBound(maxBytes: number): Promise<FillResult> {
  const store = new MemoryCacheStore({ ...DEFAULTS.store, maxBytes }, new ManualClock(), publisher);
  const before = await retained();
  let written = 0;
  let maxAccountedSeen = 0;
  await store.set('c', 'first', text(0, 100), undefined);
  await store.set('c', 'touched', text(0, 100), undefined);
  for (let i = 0; written < 3 * maxBytes; i++) {
    if (i % 3 === 0) {
      for (let j = 0; j < 50; j++) await store.listPushBack('c', `list-${i}`, [text(j, 200)], { ttl, truncateToSize: 40 });
      written += 50 * 200;
    } else {
      const value = i % 2 === 0 ? text(i, 2000) : bytes(i, 2000);
      await store.set('c', `key-${i}`, value, undefined);
      written += 2000;
    }
    if (i % 100 === 0) await store.get('c', 'touched');
    maxAccountedSeen = Math.max(maxAccountedSeen, store.stats().bytes);
  }
  const firstKeyPresent = (await store.get('c', 'first')) !== undefined;
  const touchedKeyPresent = (await store.get('c', 'touched')) !== undefined;
  const after = await retained();
  const { bytes: accounted, items } = store.stats();
  const result = { maxBytes, written, items, accounted, retained: after - before, maxAccountedSeen, firstKeyPresent, touchedKeyPresent };
  store.close();
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === '--fill') {
    console.log(JSON.stringify(await fillPastBound(Number(args[0]))));
  } else {
    const names = mode === '--scenario' ? [args[0]!] : mode ? [mode, ...args] : Object.keys(SCENARIOS);
    const count = mode === '--scenario' && args[1] ? Number(args[1]) : undefined;
    for (const name of names) {
      const m = await measure(name, count);
      console.log(JSON.stringify({ ...m, ratio: Number(m.ratio.toFixed(3)), retainedPerItem: Math.round(m.retained / m.items), accountedPerItem: Math.round(m.accounted / m.items) }));
    }
  }
}
