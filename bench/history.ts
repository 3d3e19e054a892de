/** Chat-history throughput: append-and-cap (listPushBack with truncateFrontToSize 100) and
 * fetch-last-100 (listFetch startIndex -100) over ONE WebSocket with many requests in flight,
 * side by side with redis-server on the same machine (ioredis, one connection: a pipelined
 * RPUSH + LTRIM per append, LRANGE -100 -1 per fetch). Each server runs in its own process on
 * 127.0.0.1 (pinned to the same core when the machine has two or more); the client is this process.
 * Every phase is a fixed number of operations; the reported figure is the median of `runs`.
 *
 * Runnable alone: `node --import tsx bench/history.ts [--ops N] [--fetch-ops N] [--window W] [--runs R]`. */
import { fileURLToPath } from 'node:url';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { PermissionScopes } from '../src/protocol/index.js';
import { BenchSocket } from './lib/bench-socket.js';
import { TokenAuthority, generateSigningKey } from '../src/auth/tokens.js';
import { DEFAULTS } from '../src/core/config.js';
import { systemClock } from '../src/core/clock.js';
import { cpuCount, cpuMs, freePort, hasCommand, spawnServer, stopProcess, type Spawned } from './lib/proc.js';
import { startRedisServer } from './lib/redis-server.js';
import { median } from './lib/stats.js';
import { startNodeServer } from './targets/node-server.js';
import { TIDINGS_NODE_FLAGS } from './targets/tidings.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = 'bench';
const CAP = 100;

export interface HistoryBenchOptions {
  /** Append operations per run (after the list is warm). */
  appendOps?: number;
  /** Fetch operations per run. */
  fetchOps?: number;
  /** Requests in flight on the one connection (Tidings allows server.maxPendingRequests, 256). */
  window?: number;
  /** Runs per system; the median is reported. */
  runs?: number;
  /** Bytes per appended message. */
  valueBytes?: number;
  /** Skip redis even when redis-server is installed. */
  skipRedis?: boolean;
  verbose?: boolean;
}

export interface SystemResult {
  /** Median ops/s of append-and-cap. */
  appendOpsPerSec: number;
  /** Median ops/s of fetch-last-100. */
  fetchOpsPerSec: number;
  /** Server process CPU use during each phase, % of one core (near 100 = the server is the limit). */
  appendServerCpuPct: number;
  fetchServerCpuPct: number;
  /** Server process CPU per operation, µs (survives a client-bound run better than ops/s). */
  appendServerUsPerOp: number;
  fetchServerUsPerOp: number;
  runs: Array<{ appendOpsPerSec: number; fetchOpsPerSec: number; appendServerCpuPct: number; fetchServerCpuPct: number; appendServerUsPerOp: number; fetchServerUsPerOp: number }>;
}

export interface HistoryBenchResult {
  options: Required<Omit<HistoryBenchOptions, 'skipRedis' | 'verbose'>>;
  tidings: SystemResult;
  /** null when redis-server is not installed (or skipped). */
  redis: SystemResult | null;
  note: string;
}

/** A system under test: connect once, then append / fetch one op at a time (promises). */
interface Driver {
  append(value: string): Promise<unknown>;
  fetch(): Promise<unknown>;
  close(): Promise<void>;
}

export async function runHistoryBench(options: HistoryBenchOptions = {}): Promise<HistoryBenchResult> {
  const o = {
    appendOps: options.appendOps ?? 50_000,
    fetchOps: options.fetchOps ?? 20_000,
    window: Math.min(options.window ?? 128, DEFAULTS.server.maxPendingRequests),
    runs: options.runs ?? 3,
    valueBytes: options.valueBytes ?? 100,
  };
  const log = (m: string) => { if (options.verbose) process.stderr.write(`[history bench] ${m}\n`); };
  const cpus = cpuCount() >= 2 ? '0' : undefined;

  const tidings = await measureSystem('tidings', () => startTidings(cpus), o, log);
  let redis: SystemResult | null = null;
  if (!options.skipRedis && hasCommand('redis-server')) redis = await measureSystem('redis', () => startRedis(cpus), o, log);
  else log('redis-server not found: Tidings only');
  return {
    options: o,
    tidings,
    redis,
    note: `one client connection, ${o.window} requests in flight, ${o.valueBytes}-byte text values, list capped at ${CAP}; `
      + `servers ${cpus ? 'pinned to CPU 0' : 'unpinned (one CPU)'}, client in the bench process; medians of ${o.runs} runs`,
  };
}

interface Started { driver: Driver; pid: number; stop: () => Promise<void> }

async function measureSystem(name: string, start: () => Promise<Started>, o: { appendOps: number; fetchOps: number; window: number; runs: number; valueBytes: number }, log: (m: string) => void): Promise<SystemResult> {
  const runs: SystemResult['runs'] = [];
  for (let run = 0; run < o.runs; run++) {
    const { driver, pid, stop } = await start();
    try {
      const value = (i: number) => `${i}:`.padEnd(o.valueBytes, 'm');
      await pipelined(Math.min(5_000, o.appendOps), o.window, (i) => driver.append(value(i))); // warm-up, fills the list
      const cpu0 = cpuMs(pid);
      const a = await pipelined(o.appendOps, o.window, (i) => driver.append(value(i)));
      const cpu1 = cpuMs(pid);
      const f = await pipelined(o.fetchOps, o.window, () => driver.fetch());
      const cpu2 = cpuMs(pid);
      runs.push({
        appendOpsPerSec: Math.round(o.appendOps / a), fetchOpsPerSec: Math.round(o.fetchOps / f),
        appendServerCpuPct: Math.round((cpu1 - cpu0) / (a * 10)), fetchServerCpuPct: Math.round((cpu2 - cpu1) / (f * 10)),
        appendServerUsPerOp: round1(((cpu1 - cpu0) * 1000) / o.appendOps), fetchServerUsPerOp: round1(((cpu2 - cpu1) * 1000) / o.fetchOps),
      });
      const r = runs.at(-1)!;
      log(`${name} run ${run + 1}: append ${r.appendOpsPerSec} ops/s (server CPU ${r.appendServerCpuPct} %, ${r.appendServerUsPerOp} µs/op), fetch ${r.fetchOpsPerSec} ops/s (server CPU ${r.fetchServerCpuPct} %, ${r.fetchServerUsPerOp} µs/op)`);
    } finally {
      await driver.close();
      await stop();
    }
  }
  return {
    appendOpsPerSec: median(runs.map((r) => r.appendOpsPerSec)),
    fetchOpsPerSec: median(runs.map((r) => r.fetchOpsPerSec)),
    appendServerCpuPct: median(runs.map((r) => r.appendServerCpuPct)),
    fetchServerCpuPct: median(runs.map((r) => r.fetchServerCpuPct)),
    appendServerUsPerOp: median(runs.map((r) => r.appendServerUsPerOp)),
    fetchServerUsPerOp: median(runs.map((r) => r.fetchServerUsPerOp)),
    runs,
  };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Runs `total` operations keeping `window` in flight; returns elapsed seconds. */
async function pipelined(total: number, window: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    let done = 0;
    const next = (): void => {
      if (sent >= total) return;
      const i = sent++;
      op(i).then(() => { if (++done === total) resolve(); else next(); }, reject);
    };
    for (let k = 0; k < Math.min(window, total); k++) next();
  });
  return (performance.now() - t0) / 1000;
}

// -- Tidings -------------------------------------------------------------------------------------

async function startTidings(cpus: string | undefined): Promise<Started> {
  const signingKey = generateSigningKey();
  const main = process.env['BENCH_TIDINGS_MAIN'];
  const { port, pid, stop } = main ? await startCompiled(main, signingKey, cpus) : await startBundled(signingKey, cpus);
  const authority = new TokenAuthority(DEFAULTS.auth, [signingKey], systemClock);
  const token = (await authority.mintDisposableToken({ scope: PermissionScopes.cacheKeyReadWrite(CACHE, 'history'), expiresInSec: 3600 })).token;
  const socket = await BenchSocket.open(`ws://127.0.0.1:${port}/v1/ws`, token);
  return {
    driver: {
      append: (value) => socket.request({ t: 'listPushBack', cache: CACHE, list: 'history', value, truncateFrontToSize: CAP }),
      fetch: () => socket.request({ t: 'listFetch', cache: CACHE, list: 'history', startIndex: -CAP }),
      close: async () => socket.close(),
    },
    pid,
    stop,
  };
}

/** The suite's Tidings server (bench/targets/servers/tidings-server.ts: memory engine, default
 * store, the limits that protect a deployment lifted), run from its esbuild bundle like every other
 * Node server of the bench: under tsx every closure creation would call esbuild's `__name`. */
async function startBundled(signingKey: string, cpus: string | undefined): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const target = await startNodeServer('tidings-server.ts', 'tidings', { port: await freePort(), signingKey, ...(cpus ? { cpus } : {}) }, { BENCH_SIGNING_KEY: signingKey }, TIDINGS_NODE_FLAGS);
  return { port: target.info.port, pid: target.pid, stop: () => target.stop() };
}

/** BENCH_TIDINGS_MAIN: a compiled main.js (`tsc -p tsconfig.build.json`), as deployed. */
async function startCompiled(main: string, signingKey: string, cpus: string | undefined): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const env = { ...process.env, TIDINGS_SIGNING_KEY: signingKey, TIDINGS_LOG_LEVEL: 'warn' };
  // BENCH_SERVER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`) as for the suite's Node servers.
  const nodeArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  // One connection sends well over the per-connection request rate a deployment allows: lift the
  // rate limits (as bench/targets/servers/tidings-server.ts does) so the bench measures the store.
  const unlimited = 10_000_000;
  const configFile = join(tmpdir(), `tidings-history-bench-${process.pid}.json`);
  writeFileSync(configFile, JSON.stringify({ limits: { connectionOpsPerSec: unlimited, connectionOpsBurst: unlimited, tokenIdOpsPerSec: unlimited, tokenIdOpsBurst: unlimited } }));
  const server: Spawned = await spawnServer(process.execPath, [...nodeArgs, main, 'serve', '--port', String(port), '--host', '127.0.0.1', '--config', configFile], { ready: { port }, env, cwd: ROOT, ...(cpus ? { cpus } : {}) });
  return { port, pid: server.pid, stop: async () => { await stopProcess(server.child, 3000); rmSync(configFile, { force: true }); } };
}

/** A minimal protocol client (no SDK): replies matched by id. */
// -- Redis ---------------------------------------------------------------------------------------

async function startRedis(cpus: string | undefined): Promise<Started> {
  const server = await startRedisServer({ cpus });
  const redis = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  return {
    driver: {
      // One pipelined round trip per append, like the common "RPUSH then LTRIM" recipe.
      append: (value) => redis.pipeline().rpush('history', value).ltrim('history', -CAP, -1).exec(),
      fetch: () => redis.lrange('history', -CAP, -1),
      close: async () => { redis.disconnect(); },
    },
    pid: server.pid,
    stop: server.stop,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { ops: { type: 'string' }, 'fetch-ops': { type: 'string' }, window: { type: 'string' }, runs: { type: 'string' }, 'no-redis': { type: 'boolean' } } });
  const result = await runHistoryBench({
    verbose: true,
    ...(values.ops ? { appendOps: Number(values.ops) } : {}),
    ...(values['fetch-ops'] ? { fetchOps: Number(values['fetch-ops']) } : {}),
    ...(values.window ? { window: Number(values.window) } : {}),
    ...(values.runs ? { runs: Number(values.runs) } : {}),
    ...(values['no-redis'] ? { skipRedis: true } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
}
