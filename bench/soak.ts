/** Soak: a Tidings server process under churning, mixed load for minutes, its memory sampled after
 * forced full GCs, and the drift reported. Load: connections that open, subscribe to a few topics,
 * publish, write and read capped lists, resubscribe, then close and are replaced; all on 127.0.0.1.
 * Topic windows and lists are filled to their caps before the clock starts.
 *
 *   node --import tsx bench/soak.ts [--minutes 3] [--clients 50] [--rate 500] [--sample-sec 10]
 *                                  [--topics 50] [--max-heap-drift-mb N] [--no-fetch-cache]
 *
 * Memory: every --sample-sec the server gets SIGUSR2 (bench/targets/servers/lifecycle.ts: a full GC,
 * then heap and RSS on stdout). The first fifth of the run is warm-up; drift is the last sample minus
 * the first sample after warm-up, and the slope is a least-squares fit over the samples after
 * warm-up, per minute. Bounded: --minutes ≤ 1440, --clients ≤ 2000, --rate ≤ 50,000 ops/s. With
 * --max-heap-drift-mb the exit code is 1 when the heap drifted more than that. */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PermissionScopes } from '../src/protocol/index.js';
import { TokenAuthority, generateSigningKey } from '../src/auth/tokens.js';
import { DEFAULTS } from '../src/core/config.js';
import { systemClock } from '../src/core/clock.js';
import { BenchSocket } from './lib/bench-socket.js';
import { freePort, memoryKb, spawnServer, stopProcess } from './lib/proc.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = 'soak';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' }, clients: { type: 'string' }, rate: { type: 'string' }, 'sample-sec': { type: 'string' },
    topics: { type: 'string' }, 'max-heap-drift-mb': { type: 'string' }, 'no-fetch-cache': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('usage: node --import tsx bench/soak.ts [--minutes 3] [--clients 50] [--rate 500] [--sample-sec 10] [--topics 50] [--max-heap-drift-mb N] [--no-fetch-cache]\n');
  process.exit(0);
}
const bounded = (raw: string | undefined, fallback: number, min: number, max: number, flag: string): number => {
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${flag} must be between ${min} and ${max}`);
  return n;
};
const minutes = bounded(values.minutes, 3, 0.1, 1440, 'minutes');
const clients = Math.round(bounded(values.clients, 50, 1, 2000, 'clients'));
const rate = bounded(values.rate, 500, 1, 50_000, 'rate');
const sampleSec = bounded(values['sample-sec'], 10, 1, 3600, 'sample-sec');
const topics = Math.round(bounded(values.topics, 50, 1, 100_000, 'topics'));
const maxHeapDriftMb = values['max-heap-drift-mb'] === undefined ? undefined : bounded(values['max-heap-drift-mb'], 0, 0, 1e6, 'max-heap-drift-mb');

interface Sample { atMs: number; heap: number; rss: number; connections: number; ops: number; windowBytes: number; storeBytes: number }

const signingKey = generateSigningKey();
const authority = new TokenAuthority({ ...DEFAULTS.auth, signingKeys: [signingKey] }, [signingKey], systemClock);
const port = await freePort();
const server = await spawnServer(process.execPath, ['--expose-gc', '--max-semi-space-size=4', '--import', 'tsx', 'bench/targets/servers/tidings-server.ts', String(port)], {
  ready: /READY (\d+)/, cwd: ROOT,
  env: { ...process.env, BENCH_SIGNING_KEY: signingKey, ...(values['no-fetch-cache'] ? { BENCH_STORE_JSON: '{"fetchCacheBytes":0}' } : {}) },
});
const url = `ws://127.0.0.1:${port}/v1/ws`;

// Full-GC samples arrive on the server's stdout as `GC n heap=… rss=…`.
const gcWaiters: Array<(m: { heap: number; rss: number }) => void> = [];
server.child.stdout!.on('data', (d: Buffer) => {
  for (const match of d.toString().matchAll(/^GC \d+ heap=(\d+) external=\d+ rss=(\d+)/gm)) gcWaiters.shift()?.({ heap: Number(match[1]), rss: Number(match[2]) });
});
// Bounded state the server reports, to tell caches filling up from a leak.
const adminKey = (await authority.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
async function serverGauges(): Promise<{ windowBytes: number; storeBytes: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { windowBytes: read('tidings_window_bytes'), storeBytes: read('tidings_store_bytes') };
}
const gcSample = () => new Promise<{ heap: number; rss: number }>((resolve) => { gcWaiters.push(resolve); server.child.kill('SIGUSR2'); });

const stats = { ops: 0, errors: new Map<string, number>(), connects: 0, open: 0, pushes: 0 };
const countError = (err: unknown) => {
  const code = /"code":"([A-Z_]+)"/.exec(String((err as Error).message))?.[1] ?? 'CONNECTION';
  stats.errors.set(code, (stats.errors.get(code) ?? 0) + 1);
};
const rand = (n: number) => Math.floor(Math.random() * n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const token = (await authority.mintDisposableToken({
  scope: PermissionScopes.combine(PermissionScopes.topicPublishSubscribe(CACHE, '*'), PermissionScopes.cacheReadWrite(CACHE)),
  expiresInSec: Math.ceil(minutes * 60) + 600, tokenId: 'soak',
})).token;

/** Fills every topic's recent-items window and every list to its cap first, so growth measured
 * later is not the server's caches filling up (a 1000-item window at a few items per second per
 * topic would otherwise fill for minutes and read as drift). */
async function prefill(): Promise<void> {
  const socket = await BenchSocket.open(url, token);
  const requests: Array<Record<string, unknown>> = [];
  for (let i = 0; i < topics; i++) {
    for (let n = 0; n < DEFAULTS.topics.windowItems; n++) requests.push({ t: 'pub', cache: CACHE, topic: `t${i}`, value: 'x'.repeat(16 + rand(512)) });
    for (let n = 0; n < 100; n++) {
      requests.push({ t: 'listPushBack', cache: CACHE, list: `l${i}`, value: 'y'.repeat(16 + rand(256)), truncateFrontToSize: 100, ttlMs: 60_000 });
      requests.push({ t: 'listPushBack', cache: CACHE, list: `t${i}`, value: 'z'.repeat(16 + rand(256)), truncateFrontToSize: 100, ttlMs: 60_000 });
    }
  }
  for (let i = 0; i < requests.length; i += 500) await Promise.all(requests.slice(i, i + 500).map((r) => socket.request(r)));
  socket.close();
  process.stderr.write(`prefilled ${topics} topic windows and ${2 * topics} lists (${requests.length} requests)\n`);
}
await prefill();

const startedAt = Date.now();
const endAt = startedAt + minutes * 60_000;
// Each client spends 1/rate × clients seconds per operation on average.
const opIntervalMs = (clients * 1000) / rate;

/** One client slot: connect, work for a random number of operations, close, repeat until the end. */
async function slot(): Promise<void> {
  while (Date.now() < endAt) {
    let socket: BenchSocket;
    try {
      socket = await BenchSocket.open(url, token);
    } catch (err) {
      countError(err);
      await sleep(500);
      continue;
    }
    stats.connects++;
    stats.open++;
    socket.onPush = () => { stats.pushes++; };
    const subscribed = new Set<string>();
    const lifetimeOps = 20 + rand(200);
    for (let i = 0; i < lifetimeOps && Date.now() < endAt; i++) {
      const topic = `t${rand(topics)}`;
      const roll = rand(100);
      let request: Record<string, unknown>;
      if (roll < 10 && subscribed.size < 3 && !subscribed.has(topic)) { request = { t: 'sub', cache: CACHE, topic }; subscribed.add(topic); }
      else if (roll < 15 && subscribed.size > 0) { const [first] = subscribed; subscribed.delete(first!); request = { t: 'unsub', cache: CACHE, topic: first }; }
      else if (roll < 55) request = { t: 'pub', cache: CACHE, topic, value: 'x'.repeat(16 + rand(512)) };
      else if (roll < 75) request = { t: 'listPushBack', cache: CACHE, list: `l${rand(topics)}`, value: 'y'.repeat(16 + rand(256)), truncateFrontToSize: 100, ttlMs: 60_000 };
      else if (roll < 85) request = { t: 'pubAppend', cache: CACHE, topic, list: topic, value: 'z'.repeat(16 + rand(256)), truncateFrontToSize: 100, ttlMs: 60_000 };
      else if (roll < 95) request = { t: 'listFetch', cache: CACHE, list: `l${rand(topics)}`, startIndex: -20 };
      else request = { t: 'set', cache: CACHE, key: `k${rand(topics * 10)}`, value: 'v'.repeat(rand(1024)), ttlMs: 30_000 };
      try {
        await socket.request(request);
        stats.ops++;
      } catch (err) {
        countError(err);
      }
      await sleep(opIntervalMs * (0.5 + Math.random()));
    }
    socket.close();
    stats.open--;
  }
}

const samples: Sample[] = [];
async function sampler(): Promise<void> {
  while (Date.now() < endAt) {
    await sleep(Math.min(sampleSec * 1000, Math.max(0, endAt - Date.now())));
    const m = await gcSample();
    samples.push({ atMs: Date.now() - startedAt, heap: m.heap, rss: m.rss, connections: stats.open, ops: stats.ops, ...(await serverGauges()) });
    const last = samples[samples.length - 1]!;
    process.stderr.write(`[${(last.atMs / 1000).toFixed(0)} s] heap ${mb(last.heap)} MB, rss ${mb(last.rss)} MB, windows ${mb(last.windowBytes)} MB, store ${mb(last.storeBytes)} MB, ops ${last.ops}, open ${last.connections}, connects ${stats.connects}, errors ${[...stats.errors.values()].reduce((a, b) => a + b, 0)}\n`);
  }
}

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(2);
function slopePerMin(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60_000;
}

process.stderr.write(`soak: ${minutes} min, ${clients} clients, ~${rate} ops/s, ${topics} topics, server pid ${server.pid} on 127.0.0.1:${port}\n`);
try {
  await Promise.all([sampler(), ...Array.from({ length: clients }, () => slot())]);
  const final = await gcSample();
  samples.push({ atMs: Date.now() - startedAt, heap: final.heap, rss: final.rss, connections: stats.open, ops: stats.ops, ...(await serverGauges()) });
} finally {
  const hwm = memoryKb(server.pid).hwmKb;
  await stopProcess(server.child);
  process.stderr.write(`server peak RSS (VmHWM): ${(hwm / 1024).toFixed(1)} MB\n`);
}

const warm = samples.filter((s) => s.atMs >= minutes * 60_000 * 0.2);
const base = warm[0] ?? samples[0]!;
const last = samples[samples.length - 1]!;
const report = {
  minutes, clients, targetOpsPerSec: rate, topics,
  ops: stats.ops, opsPerSec: Math.round(stats.ops / ((last.atMs || 1) / 1000)), connects: stats.connects, pushes: stats.pushes,
  errors: Object.fromEntries(stats.errors),
  heapMb: { afterWarmup: Number(mb(base.heap)), end: Number(mb(last.heap)), drift: Number(mb(last.heap - base.heap)), slopePerMin: Number(mb(slopePerMin(warm.map((s) => [s.atMs, s.heap])))) },
  rssMb: { afterWarmup: Number(mb(base.rss)), end: Number(mb(last.rss)), drift: Number(mb(last.rss - base.rss)), slopePerMin: Number(mb(slopePerMin(warm.map((s) => [s.atMs, s.rss])))) },
  windowMb: { afterWarmup: Number(mb(base.windowBytes)), end: Number(mb(last.windowBytes)) },
  storeMb: { afterWarmup: Number(mb(base.storeBytes)), end: Number(mb(last.storeBytes)) },
  fetchCache: values['no-fetch-cache'] ? 'off' : `on (store.fetchCacheBytes ${mb(DEFAULTS.store.fetchCacheBytes)} MB, fills with stale list versions up to that bound)`,
  samples: samples.map((s) => ({ s: Math.round(s.atMs / 1000), heapMb: Number(mb(s.heap)), rssMb: Number(mb(s.rss)), windowMb: Number(mb(s.windowBytes)), storeMb: Number(mb(s.storeBytes)), open: s.connections, ops: s.ops })),
};
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
if (maxHeapDriftMb !== undefined && report.heapMb.drift > maxHeapDriftMb) {
  process.stderr.write(`heap drifted ${report.heapMb.drift} MB, more than --max-heap-drift-mb ${maxHeapDriftMb}\n`);
  process.exitCode = 1;
}
