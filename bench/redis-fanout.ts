/** Issue 10's bench: fan-out across nodes through Redis, side by side in one run.
 *
 * Configurations (each run goes through all of them, in this order, so drift in the machine's load
 * hits them alike; medians over --runs; with --interleave N all of them are up at once and every
 * phase is measured in N slices per configuration, taken in turns, which is what makes ratios
 * between them precise on a VM whose speed drifts by ±20 % from one minute to the next):
 * - `memory ×1`: one Tidings node, memory engine (the baseline);
 * - `redis ×1`, `redis ×2`, `redis ×3`: Tidings nodes on one redis-server, subscribers spread
 *   round-robin over the nodes, the publisher on the first;
 * - `socket.io+redis ×1/×2/×3`: socket.io 4 with @socket.io/redis-adapter, the same layout.
 *
 * Every server process (all nodes and redis-server) is pinned to core 0, the load generator to core
 * 1; server CPU per delivery is the sum over all of them (the run time of all their threads, from
 * the scheduler: /proc/<pid>/task/<tid>/schedstat). Phases, after a warm-up: a fixed rate (the same
 * deliveries/s for every configuration: CPU per delivery compares cost), a busy fixed rate (the
 * same, with the servers busy) and as fast as possible (deliveries/s).
 * Then the publish round trip, sequentially (no load): publish → ack and
 * publish → delivery to a subscriber on the last node.
 *
 *   node --import tsx bench/redis-fanout.ts [--runs 3] [--subscribers 500] [--rate 100]
 *     [--duration-ms 3000] [--rtt 300] [--configs memory,redis1,...] [--profile] [--redis-core N]
 *     [--warm-ms 5000] [--no-rehearse] [--busy-rate 600] [--per-node] [--perf-stat] [--perf-record rate|busy|max]
 *     [--interleave N] [--alt-flags=--some-v8-flag, for the configs memory-alt,redis2-alt,redis3-alt]
 *     [--redis-aof everysec|always]
 *
 * Bounded: every phase is capped in time and messages; 127.0.0.1 only; every process is stopped. */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { encodeFrame, decodeFrame, PROTOCOL_VERSIONS, PermissionScopes } from '../src/protocol/index.js';
import { resolveConfig } from '../src/core/config.js';
import { systemClock } from '../src/core/clock.js';
import { TokenAuthority, generateSigningKey } from '../src/auth/tokens.js';
import { LoadGen } from './lib/loadgen-handle.js';
import { commandLine, contextSwitches, cpuCount, freePort, runTimeUs, hasCommand } from './lib/proc.js';
import { RAW_DIR } from './lib/bundle.js';
import { startRedisServer, type AofPolicy } from './lib/redis-server.js';
import { median, percentileSorted } from './lib/stats.js';
import { startNodeServer } from './targets/node-server.js';
import { BENCH_CACHE, TIDINGS_NODE_FLAGS } from './targets/tidings.js';
import { packageVersion } from './targets/versions.js';
import type { RunningTarget } from './targets/types.js';
import type { OpenResult, PhaseResult, PhaseSpec } from './lib/loadgen-protocol.js';
import { machineInfo } from './lib/machine.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    subscribers: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
    /** A second fixed-rate phase with the servers busy (0: none). At --rate every process sleeps
     * between messages and each message pays every process's wake-up; at 600 msg/s the memory node
     * is ~80 % busy, which is where capacity is decided. */
    'busy-rate': { type: 'string', default: '600' },
    'duration-ms': { type: 'string', default: '3000' },
    rtt: { type: 'string', default: '300' },
    payload: { type: 'string', default: '64' },
    configs: { type: 'string', default: 'memory,redis1,redis2,redis3,sio1,sio2,sio3' },
    profile: { type: 'boolean', default: false },
    /** Pin redis-server to this core instead of the servers' core 0 (an experiment: what sharing one
     * core with the nodes costs). Its CPU is still summed. */
    'redis-core': { type: 'string' },
    /** An as-fast-as-possible warm-up before the measured phases (0: none). 5 s: after 1 s, TurboFan
     * still compiled on the publisher's node during the max phase (perf: 14 % of its samples). */
    'warm-ms': { type: 'string', default: '5000' },
    /** After the warm-up, run every measured phase once unmeasured (--no-rehearse: not). */
    rehearse: { type: 'boolean', default: true },
    /** --subscribers per node instead of in all: N nodes carry N times the subscribers of one node
     * (the "N machines serve N times the subscribers" case), at the same messages/s. */
    'per-node': { type: 'boolean', default: false },
    /** Count each server process's syscalls and context switches during every measured phase
     * (`perf stat`; Linux, root). */
    'perf-stat': { type: 'boolean', default: false },
    /** `rate`, `busy` or `max`: sample each server process during that phase (`perf record`, files under the
     * results dir; run with BENCH_SERVER_NODE_ARGS=--perf-basic-prof-only-functions to name JIT frames). */
    'perf-record': { type: 'string' },
    /** Measure the configurations side by side: all up at once, each phase cut into this many
     * slices per configuration taken in turns (1: one configuration after another, whole). */
    interleave: { type: 'string', default: '1' },
    /** Node flags for the `-alt` configurations, after the shipped ones (a later V8 flag wins). */
    'alt-flags': { type: 'string', default: '' },
    /** redis-server with the append-only file docs/operations.md describes, its fsync policy
     * `everysec` (recommended) or `always`, instead of no persistence. Automatic AOF rewrites are
     * off: they run in a forked child whose CPU the bench would not count. */
    'redis-aof': { type: 'string' },
  },
  allowNegative: true,
});
const RUNS = Math.min(9, Math.max(1, Number(args.runs)));
const SUBSCRIBERS = Math.min(5000, Math.max(3, Number(args.subscribers)));
const PER_NODE = args['per-node'];
const subscribersOf = (c: Config) => (PER_NODE ? SUBSCRIBERS * c.nodes : SUBSCRIBERS);
const RATE = Math.min(10_000, Math.max(1, Number(args.rate)));
const BUSY_RATE = Math.min(10_000, Math.max(0, Number(args['busy-rate'])));
const DURATION = Math.min(30_000, Math.max(500, Number(args['duration-ms'])));
const RTT_COUNT = Math.min(5000, Math.max(10, Number(args.rtt)));
const WARM_MS = Math.min(60_000, Math.max(0, Number(args['warm-ms'])));
const REHEARSE = args.rehearse;
const PAYLOAD = Math.max(24, Math.min(4096, Number(args.payload)));
const INTERLEAVE = Math.min(60, Math.max(1, Number(args.interleave)));
if (args['redis-aof'] !== undefined && args['redis-aof'] !== 'everysec' && args['redis-aof'] !== 'always') throw new Error('--redis-aof takes everysec or always');
const REDIS_AOF: AofPolicy | undefined = args['redis-aof'];
/** How long one slice of a phase runs with --interleave. */
const SLICE_MS = Math.max(500, Math.round(DURATION / INTERLEAVE));
if (INTERLEAVE > 1 && (args.profile || args['perf-stat'] || args['perf-record'])) throw new Error('--interleave measures in slices: run --profile, --perf-stat and --perf-record without it');

/** `nodeFlags`: a Tidings configuration's Node flags, when not the shipped ones. */
interface Config { id: string; label: string; kind: 'tidings' | 'socket.io'; nodes: number; redis: boolean; nodeFlags?: string[] }
/** Without the shipped --interrupt-budget: V8's default tiering (what the flag is worth). */
const DEFAULT_TIERING = TIDINGS_NODE_FLAGS.filter((f) => !f.startsWith('--interrupt-budget'));
/** The shipped flags plus --alt-flags (what a candidate flag would be worth; a later V8 flag wins). */
const ALT_FLAGS = args['alt-flags'].split(' ').filter(Boolean);
const WITH_ALT_FLAGS = [...TIDINGS_NODE_FLAGS, ...ALT_FLAGS];
const ALL: Config[] = [
  { id: 'memory', label: 'Tidings memory ×1', kind: 'tidings', nodes: 1, redis: false },
  { id: 'redis1', label: 'Tidings redis ×1', kind: 'tidings', nodes: 1, redis: true },
  { id: 'redis2', label: 'Tidings redis ×2', kind: 'tidings', nodes: 2, redis: true },
  { id: 'redis3', label: 'Tidings redis ×3', kind: 'tidings', nodes: 3, redis: true },
  // Opt-in (--configs): the same without the shipped --interrupt-budget, V8's default tiering.
  { id: 'memory-v8', label: 'Tidings memory ×1, default V8 tiering', kind: 'tidings', nodes: 1, redis: false, nodeFlags: DEFAULT_TIERING },
  { id: 'redis1-v8', label: 'Tidings redis ×1, default V8 tiering', kind: 'tidings', nodes: 1, redis: true, nodeFlags: DEFAULT_TIERING },
  { id: 'redis2-v8', label: 'Tidings redis ×2, default V8 tiering', kind: 'tidings', nodes: 2, redis: true, nodeFlags: DEFAULT_TIERING },
  { id: 'redis3-v8', label: 'Tidings redis ×3, default V8 tiering', kind: 'tidings', nodes: 3, redis: true, nodeFlags: DEFAULT_TIERING },
  // Opt-in (--configs, with --alt-flags): the shipped flags plus --alt-flags.
  { id: 'memory-alt', label: `Tidings memory ×1 + ${ALT_FLAGS.join(' ')}`, kind: 'tidings', nodes: 1, redis: false, nodeFlags: WITH_ALT_FLAGS },
  { id: 'redis2-alt', label: `Tidings redis ×2 + ${ALT_FLAGS.join(' ')}`, kind: 'tidings', nodes: 2, redis: true, nodeFlags: WITH_ALT_FLAGS },
  { id: 'redis3-alt', label: `Tidings redis ×3 + ${ALT_FLAGS.join(' ')}`, kind: 'tidings', nodes: 3, redis: true, nodeFlags: WITH_ALT_FLAGS },
  { id: 'sio1', label: 'socket.io+redis ×1', kind: 'socket.io', nodes: 1, redis: true },
  { id: 'sio2', label: 'socket.io+redis ×2', kind: 'socket.io', nodes: 2, redis: true },
  { id: 'sio3', label: 'socket.io+redis ×3', kind: 'socket.io', nodes: 3, redis: true },
];
const CONFIGS = args.configs.split(',').map((id) => {
  const c = ALL.find((x) => x.id === id);
  if (!c) throw new Error(`unknown config ${id} (one of ${ALL.map((x) => x.id).join(', ')})`);
  return c;
});
// An -alt configuration without --alt-flags would only measure the shipped one twice.
if (ALT_FLAGS.length === 0 && CONFIGS.some((c) => c.id.endsWith('-alt'))) throw new Error('the -alt configurations need --alt-flags=...');

const SERVER_CPUS = cpuCount() >= 2 ? '0' : undefined;
const REDIS_CPUS = args['redis-core'] ?? SERVER_CPUS;
const GEN_CPUS = cpuCount() >= 2 ? (cpuCount() === 2 ? '1' : `1-${cpuCount() - 1}`) : undefined;

interface Measured {
  config: string; run: number;
  rate: PhaseResult; busy: PhaseResult | undefined; max: PhaseResult;
  rtt: { ackP50: number; ackP99: number; deliveryP50: number; deliveryP99: number };
  opened: OpenResult;
  /** Max phase: CPU µs per delivery of node 1, node 2, ..., then redis-server. */
  split: number[];
  /** The same for the fixed-rate phase and the busy one. */
  rateSplit: number[];
  busySplit: number[];
  /** The fixed-rate phase's CPU µs per delivery in each slice (--interleave; one otherwise). */
  rateSlices: number[];
}

const SYSCALLS = ['sendto', 'recvfrom', 'read', 'write', 'writev', 'epoll_pwait', 'epoll_wait'];
/** `perf stat` counting (not sampling: cheap) the syscalls of one process until stopped. */
function startSyscallCount(pid: number): { stop(): Promise<Record<string, number>> } {
  const child = spawn('perf', ['stat', '-x', ',', '-p', String(pid), '-e', 'context-switches', ...SYSCALLS.flatMap((n) => ['-e', `syscalls:sys_enter_${n}`])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr.on('data', (d: Buffer) => { text += d.toString(); });
  return {
    stop: () => new Promise((resolve) => {
      child.once('exit', () => {
        const counts: Record<string, number> = {};
        for (const line of text.split('\n')) {
          const [n, , event] = line.split(',');
          const name = event?.replace('syscalls:sys_enter_', '');
          if (name && Number(n) > 0) counts[name] = Number(n);
        }
        resolve(counts);
      });
      child.kill('SIGINT');
    }),
  };
}

function startPerfRecord(pid: number, file: string): { stop(): Promise<void> } {
  // -k mono: sample times on the clock V8's --perf-prof jitdump uses, so `perf inject --jit` can name JIT frames.
  const child = spawn('perf', ['record', '-q', '-F', '2000', '-g', '-k', 'mono', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  return { stop: () => new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGINT'); }) };
}

async function startNodes(config: Config, redisUrl: string | undefined, signingKey: string, prefix: string, profileDir: string | undefined): Promise<RunningTarget[]> {
  const nodes: RunningTarget[] = [];
  for (let i = 0; i < config.nodes; i++) {
    const port = await freePort();
    const cpuProf = profileDir && i === 0 ? { cpuProfDir: profileDir } : {};
    const options = { port, signingKey, ...(SERVER_CPUS ? { cpus: SERVER_CPUS } : {}), ...cpuProf };
    if (config.kind === 'tidings') {
      const env: NodeJS.ProcessEnv = { BENCH_SIGNING_KEY: signingKey, ...(config.redis ? { BENCH_REDIS_URL: redisUrl!, BENCH_REDIS_PREFIX: prefix } : {}) };
      nodes.push(await startNodeServer('tidings-server.ts', 'tidings', options, env, config.nodeFlags ?? TIDINGS_NODE_FLAGS));
    } else {
      nodes.push(await startNodeServer('socketio-redis-server.ts', 'socket.io', options, { BENCH_REDIS_URL: redisUrl! }));
    }
  }
  return nodes;
}

/** Sequential publishes on node 0, one subscriber on the last node: publish → ack, publish →
 * delivery (µs). `one(i)` times publish number i; `close()` ends both connections. */
interface RoundTrips { acks: number[]; deliveries: number[]; one(i: number): Promise<void>; close(): void }

async function openRoundTrips(config: Config, nodes: RunningTarget[], signingKey: string): Promise<RoundTrips> {
  const first = nodes[0]!.info.port;
  const last = nodes.at(-1)!.info.port;
  const acks: number[] = [];
  const deliveries: number[] = [];
  const now = () => Number(process.hrtime.bigint() / 1000n);
  /** Times one publish: `send` it, then wait for the ack and the delivery that `wait`ers match. */
  const timed = async (send: () => void, acked: Promise<void>, delivered: Promise<void>, t0: number) => {
    const a = acked.then(() => acks.push(now() - t0));
    const d = delivered.then(() => deliveries.push(now() - t0));
    send();
    await Promise.all([a, d]);
  };
  if (config.kind === 'tidings') {
    const authority = new TokenAuthority(resolveConfig({ auth: { signingKeys: [signingKey] } }).auth, [signingKey], systemClock);
    const token = (await authority.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe(BENCH_CACHE, '*'), expiresInSec: 600 })).token;
    const open = async (port: number) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
      ws.binaryType = 'nodebuffer';
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      const frames: Array<(f: Record<string, unknown>) => boolean> = [];
      ws.on('message', (data: Buffer) => {
        const f = decodeFrame(data) as Record<string, unknown>;
        const i = frames.findIndex((w) => w(f));
        if (i >= 0) frames.splice(i, 1);
      });
      const wait = (match: (f: Record<string, unknown>) => boolean) => new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('round trip: no reply within 5 s')), 5000);
        frames.push((f) => { if (!match(f)) return false; clearTimeout(timer); resolve(); return true; });
      });
      const hello = wait((f) => f['t'] === 'ok' && f['id'] === 1);
      ws.send(encodeFrame({ t: 'hello', id: 1, versions: [...PROTOCOL_VERSIONS], token }));
      await hello;
      return { ws, wait };
    };
    const pub = await open(first);
    const sub = await open(last);
    const subscribed = sub.wait((f) => f['t'] === 'ok' && f['id'] === 2);
    sub.ws.send(encodeFrame({ t: 'sub', id: 2, cache: BENCH_CACHE, topic: 'rtt' }));
    await subscribed;
    return {
      acks, deliveries,
      one: (i) => {
        const id = 10 + i;
        return timed(() => pub.ws.send(encodeFrame({ t: 'pub', id, cache: BENCH_CACHE, topic: 'rtt', value: `v${i}` })),
          pub.wait((f) => f['t'] === 'ok' && f['id'] === id), sub.wait((f) => f['t'] === 'item'), now());
      },
      close: () => { pub.ws.close(); sub.ws.close(); },
    };
  }
  const open = async (port: number) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
    const waiters: Array<(text: string) => boolean> = [];
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text === '2') return ws.send('3');
      if (text.startsWith('0')) return ws.send('40');
      const i = waiters.findIndex((w) => w(text));
      if (i >= 0) waiters.splice(i, 1);
    });
    const wait = (match: (text: string) => boolean) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('round trip: no reply within 5 s')), 5000);
      waiters.push((text) => { if (!match(text)) return false; clearTimeout(timer); resolve(); return true; });
    });
    const connected = wait((text) => text.startsWith('40'));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    await connected;
    return { ws, wait };
  };
  const pub = await open(first);
  const sub = await open(last);
  const subscribed = sub.wait((text) => text.startsWith('430'));
  sub.ws.send('420["sub","rtt"]');
  await subscribed;
  return {
    acks, deliveries,
    one: (i) => {
      const id = 10 + i;
      return timed(() => pub.ws.send(`42${id}["pub","rtt","v${i}"]`),
        pub.wait((text) => text.startsWith(`43${id}`)), sub.wait((text) => text.startsWith('42["m"')), now());
    },
    close: () => { pub.ws.close(); sub.ws.close(); },
  };
}

function roundTripSummary({ acks, deliveries }: RoundTrips): Measured['rtt'] {
  const p = (xs: number[], q: number) => percentileSorted([...xs].sort((a, b) => a - b), q);
  return { ackP50: p(acks, 0.5), ackP99: p(acks, 0.99), deliveryP50: p(deliveries, 0.5), deliveryP99: p(deliveries, 0.99) };
}

/** One configuration's servers and load generator, warmed up and ready for measured phases. */
interface Prepared {
  config: Config;
  run: number;
  nodes: RunningTarget[];
  signingKey: string;
  opened: OpenResult;
  /** Every server process: the nodes, then redis-server. */
  pids: number[];
  spec(mode: 'rate' | 'max', durationMs: number, rate?: number): PhaseSpec;
  phase(s: PhaseSpec): Promise<PhaseResult>;
  stop(): Promise<void>;
}

/** `phaseMs`: how long a measured phase (or slice) runs; the rehearsal runs each phase that long. */
async function prepare(config: Config, run: number, redis: { url: string; pid: number } | undefined, profileDir: string | undefined, phaseMs: number): Promise<Prepared> {
  const signingKey = generateSigningKey();
  const prefix = `bench${run}${config.id}:`;
  const nodes = await startNodes(config, redis?.url, signingKey, prefix, profileDir);
  const gen = await LoadGen.start(GEN_CPUS);
  const stop = async () => {
    await gen.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  };
  try {
    const extraPids = [...nodes.slice(1).map((n) => n.pid), ...(config.redis && redis ? [redis.pid] : [])];
    const info = { ...nodes[0]!.info, ports: nodes.map((n) => n.info.port) };
    await gen.call({ op: 'init', target: config.kind, info, serverPid: nodes[0]!.pid, extraPids, serverCore: SERVER_CPUS ? 0 : -1, genCore: GEN_CPUS ? 1 : -1 });
    const subscribers = subscribersOf(config);
    const opened = await gen.call<OpenResult>({ op: 'open', count: subscribers, firstIndex: 0, plan: { kind: 'single', topic: 'fan' }, concurrency: 32, timedStride: 10, distinctTokens: false, timeoutMs: 20_000 });
    if (opened.failed > 0) throw new Error(`${config.label}: ${opened.failed} subscribers failed: ${opened.firstError}`);
    await gen.call({ op: 'publisher' });
    const spec = (mode: 'rate' | 'max', durationMs: number, rate = RATE): PhaseSpec => ({
      mode, rate, durationMs, maxMessages: Math.ceil((rate * durationMs) / 1000) * (mode === 'max' ? 50 : 1) + 1,
      topics: ['fan'], fanout: subscribers, payloadBytes: PAYLOAD, window: 16, drainMs: 3000,
    });
    const phase = (s: PhaseSpec) => gen.call<PhaseResult>({ op: 'phase', spec: s }, s.durationMs + s.drainMs + 60_000);
    // Warm-up, alike for every configuration: a server runs warm in production. As fast as possible,
    // then (--rehearse) every measured phase once unmeasured: each load shape has code paths of its
    // own (one item per message at the fixed rate, batches when busy), and without a pass of each
    // V8 was still compiling and deoptimising those during the measurement (--trace-opt: ~100 ms of
    // TurboFan per Redis node in the 3 s fixed-rate phase, docs/benchmarks-redis.md).
    if (WARM_MS > 0) await phase(spec('max', WARM_MS));
    if (REHEARSE) {
      await phase(spec('rate', phaseMs));
      if (BUSY_RATE > 0) await phase(spec('rate', phaseMs, BUSY_RATE));
      await phase(spec('max', phaseMs));
    }
    await phase(spec('rate', 1000));
    // Where the CPU goes: each node and redis-server apart.
    const pids = [...nodes.map((n) => n.pid), ...(config.redis && redis ? [redis.pid] : [])];
    return { config, run, nodes, signingKey, opened, pids, spec, phase, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

type PhaseName = 'rate' | 'busy' | 'max';

/** One measured phase: CPU per delivery by process (from each process's run time); with
 * --perf-stat its syscalls (printed), with --perf-record <name> a `perf record` of each process. */
async function measured(p: Prepared, name: PhaseName, s: PhaseSpec): Promise<{ result: PhaseResult; cpuUs: number[] }> {
  const { pids, config, run } = p;
  const perfStat = args['perf-stat'];
  const switchesBefore = perfStat ? pids.map(contextSwitches) : [];
  const before = pids.map(runTimeUs);
  const counting = perfStat ? pids.map(startSyscallCount) : [];
  const sampling = args['perf-record'] === name ? pids.map((pid, i) => startPerfRecord(pid, join(RAW_DIR, `perf-${config.id}-run${run}-${i + 1}-${name}.data`))) : [];
  const result = await p.phase(s);
  const cpuUs = pids.map((pid, i) => runTimeUs(pid) - before[i]!);
  const switchesAfter = perfStat ? pids.map(contextSwitches) : [];
  const syscalls = await Promise.all(counting.map((c) => c.stop()));
  await Promise.all(sampling.map((c) => c.stop()));
  const per = (n: number) => (n / Math.max(1, result.received)) * 1000;
  if (perfStat) {
    // Per message: at a light rate every process sleeps between messages, so these count wake-ups
    // (voluntary) and preemptions by another server process on the shared core (involuntary).
    const messages = Math.max(1, result.received / s.fanout);
    const perMessage = switchesAfter.map((now, i) => `${((now.voluntary - switchesBefore[i]!.voluntary) / messages).toFixed(2)} / ${((now.involuntary - switchesBefore[i]!.involuntary) / messages).toFixed(2)}`);
    console.error(`${config.label} ${name} phase, context switches per message (voluntary / involuntary) by process: ${perMessage.join(' | ')}`);
  }
  if (syscalls.length > 0) console.error(`${config.label} ${name} phase, syscalls per 1000 deliveries by process: ${syscalls.map((c) => Object.entries(c).map(([k, n]) => `${k} ${per(n).toFixed(1)}`).join(', ')).join(' | ')}`);
  return { result, cpuUs };
}

/** A phase's spec by name. */
function phaseSpec(p: Prepared, name: PhaseName, durationMs: number): PhaseSpec {
  return name === 'max' ? p.spec('max', durationMs) : p.spec('rate', durationMs, name === 'busy' ? BUSY_RATE : RATE);
}

/** The phases to measure, in order. */
const PHASES: PhaseName[] = BUSY_RATE > 0 ? ['rate', 'busy', 'max'] : ['rate', 'max'];

/** A phase's result over its slices, its CPU per delivery by process, and per slice. */
interface Combined { result: PhaseResult; split: number[]; sliceCpu: number[] }

/** Slices of one phase added up: counts and CPU summed, rates over the summed time, latency
 * percentiles the median of the slices' (an approximation, said in the report). */
function combine(slices: Array<{ result: PhaseResult; cpuUs: number[] }>): Combined {
  const sum = (f: (r: PhaseResult) => number) => slices.reduce((a, x) => a + f(x.result), 0);
  const mean = (f: (r: PhaseResult) => number) => sum(f) / slices.length;
  const med = (f: (r: PhaseResult) => number) => median(slices.map((x) => f(x.result)));
  const received = sum((r) => r.received);
  const wallMs = sum((r) => r.wallMs);
  const cpuUs = slices[0]!.cpuUs.map((_, i) => slices.reduce((a, x) => a + x.cpuUs[i]!, 0));
  const per = (us: number) => us / Math.max(1, received);
  const first = slices[0]!.result;
  const result: PhaseResult = {
    ...first,
    published: sum((r) => r.published), expected: sum((r) => r.expected), received, lost: sum((r) => r.lost), wallMs,
    deliveriesPerSec: (received / Math.max(1, wallMs)) * 1000, publishedPerSec: (sum((r) => r.published) / Math.max(1, wallMs)) * 1000,
    serverCpuMs: cpuUs.reduce((a, b) => a + b, 0) / 1000, serverCpuUsPerDelivery: per(cpuUs.reduce((a, b) => a + b, 0)),
    serverCpuPct: mean((r) => r.serverCpuPct), genCpuPct: mean((r) => r.genCpuPct), serverCoreBusyPct: mean((r) => r.serverCoreBusyPct),
    serverCoreSoftirqPct: mean((r) => r.serverCoreSoftirqPct), serverCoreForeignPct: mean((r) => r.serverCoreForeignPct), genCoreForeignPct: mean((r) => r.genCoreForeignPct),
    latency: { samples: slices.reduce((a, x) => a + x.result.latency.samples, 0), p50: med((r) => r.latency.p50), p99: med((r) => r.latency.p99), p999: med((r) => r.latency.p999), max: Math.max(...slices.map((x) => x.result.latency.max)) },
    closedUnexpectedly: sum((r) => r.closedUnexpectedly),
  };
  const sliceCpu = slices.map((x) => x.cpuUs.reduce((a, b) => a + b, 0) / Math.max(1, x.result.received));
  return { result, split: cpuUs.map(per), sliceCpu };
}

function assemble(p: Prepared, phases: Map<PhaseName, Combined>, rtt: Measured['rtt']): Measured {
  const rate = phases.get('rate')!;
  const busy = phases.get('busy');
  const max = phases.get('max')!;
  return {
    config: p.config.id, run: p.run, rate: rate.result, busy: busy?.result, max: max.result, rtt, opened: p.opened,
    split: max.split, rateSplit: rate.split, busySplit: busy?.split ?? [], rateSlices: rate.sliceCpu,
  };
}

/** Waits until the processes are quiet: together they ran less than 2 % of a core over 100 ms
 * (at most 60 s; a process still busy then is reported). A server driven past its capacity (socket.io
 * at the busy rate) works through its backlog after its phase ends; without this, that backlog was
 * measured as part of its next phase (socket.io's fixed rate: ~20 µs per delivery instead of ~11). */
async function settle(pids: number[]): Promise<void> {
  const total = () => pids.reduce((a, pid) => a + (runTimeUs(pid) || 0), 0);
  for (let waited = 0; waited < 60_000; waited += 100) {
    const before = total();
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (total() - before < 2000) return;
  }
  console.error('settle: the servers were still busy after 60 s; measuring anyway');
}

/** The configurations one after another, each measured whole (the default). */
async function measureInTurn(config: Config, run: number, redis: { url: string; pid: number } | undefined, profileDir: string | undefined): Promise<Measured> {
  const p = await prepare(config, run, redis, profileDir, DURATION);
  try {
    const phases = new Map<PhaseName, Combined>();
    for (const name of PHASES) {
      await settle(p.pids);
      phases.set(name, combine([await measured(p, name, phaseSpec(p, name, DURATION))]));
    }
    await settle(p.pids);
    const rtt = await openRoundTrips(p.config, p.nodes, p.signingKey);
    for (let i = 0; i < RTT_COUNT; i++) await rtt.one(i);
    rtt.close();
    return assemble(p, phases, roundTripSummary(rtt));
  } finally {
    await p.stop();
  }
}

/** --interleave N: every configuration up at once; each phase, and the round trips, are cut into
 * N slices per configuration, taken in rounds (one slice of each, the first of the round
 * rotating), so drift in the machine's speed, which moves CPU per delivery by ±20 % within minutes
 * here, hits every configuration alike. The servers of the configurations not being measured are
 * idle. */
async function measureInterleaved(run: number, redis: { url: string; pid: number } | undefined): Promise<Measured[]> {
  const prepared: Prepared[] = [];
  try {
    for (const config of CONFIGS) prepared.push(await prepare(config, run, redis, undefined, SLICE_MS));
    const phases = prepared.map(() => new Map<PhaseName, Combined>());
    const allPids = [...new Set(prepared.flatMap((p) => p.pids))];
    for (const name of PHASES) {
      const slices = prepared.map(() => [] as Array<{ result: PhaseResult; cpuUs: number[] }>);
      for (let round = 0; round < INTERLEAVE; round++) {
        for (let k = 0; k < prepared.length; k++) {
          const i = (round + k) % prepared.length;
          await settle(allPids); // another configuration's backlog must not share the core with this slice
          slices[i]!.push(await measured(prepared[i]!, name, phaseSpec(prepared[i]!, name, SLICE_MS)));
        }
      }
      prepared.forEach((_, i) => phases[i]!.set(name, combine(slices[i]!)));
    }
    const trips: RoundTrips[] = [];
    for (const p of prepared) trips.push(await openRoundTrips(p.config, p.nodes, p.signingKey));
    const perSlice = Math.ceil(RTT_COUNT / INTERLEAVE);
    for (let round = 0; round < INTERLEAVE; round++) {
      for (let k = 0; k < trips.length; k++) {
        const rt = trips[(round + k) % trips.length]!;
        await settle(allPids);
        for (let i = round * perSlice; i < Math.min(RTT_COUNT, (round + 1) * perSlice); i++) await rt.one(i);
      }
    }
    for (const rt of trips) rt.close();
    return prepared.map((p, i) => assemble(p, phases[i]!, roundTripSummary(trips[i]!)));
  } finally {
    for (const p of prepared) await p.stop();
  }
}

function machineSummary(): string {
  const m = machineInfo();
  return `${m.cpuModel}, ${m.cores} cores, ${m.kernel}, Node ${m.node}, commit ${m.gitCommit}, ${m.date}`;
}

function loadAverage(): string {
  return commandLine('cat', ['/proc/loadavg'])?.split(' ').slice(0, 3).join(' ') ?? '?';
}

const needsRedis = CONFIGS.some((c) => c.redis);
if (needsRedis && !hasCommand('redis-server')) throw new Error('redis-server is not installed (apt-get install redis-server)');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileRoot = args.profile ? join(RAW_DIR, 'profiles', `redis-fanout-${stamp}`) : undefined;
const results: Measured[] = [];
const loads: string[] = [loadAverage()];
console.error(`redis-fanout: ${RUNS} runs × ${CONFIGS.map((c) => c.id).join(', ')}; ${SUBSCRIBERS} subscribers${PER_NODE ? ' per node' : ''}, ${RATE} msg/s for ${DURATION} ms; load ${loads[0]}`);
for (let run = 1; run <= RUNS; run++) {
  const redis = needsRedis ? await startRedisServer({ cpus: REDIS_CPUS, aof: REDIS_AOF }) : undefined;
  try {
    const measuredRun = INTERLEAVE > 1 ? await measureInterleaved(run, redis) : [];
    for (const config of CONFIGS) {
      let m = measuredRun.find((x) => x.config === config.id);
      if (!m) {
        const profileDir = profileRoot ? join(profileRoot, `${config.id}-run${run}`) : undefined;
        if (profileDir) mkdirSync(profileDir, { recursive: true });
        m = await measureInTurn(config, run, redis, profileDir);
      }
      results.push(m);
      console.error(`run ${run} ${config.label}: rate ${m.rate.serverCpuUsPerDelivery.toFixed(2)} µs/delivery, busy ${m.busy?.serverCpuUsPerDelivery.toFixed(2) ?? '—'} µs/delivery, max ${Math.round(m.max.deliveriesPerSec)}/s at ${m.max.serverCpuUsPerDelivery.toFixed(2)} µs, ack p50 ${m.rtt.ackP50} µs, delivery p50 ${m.rtt.deliveryP50} µs, lost ${m.rate.lost + (m.busy?.lost ?? 0) + m.max.lost}; fixed-rate µs/delivery by process ${m.rateSplit.map((x) => x.toFixed(2)).join(' + ')}; max-phase µs/delivery by process ${m.split.map((x) => x.toFixed(2)).join(' + ')}; max phase: server core busy ${Math.round(m.max.serverCoreBusyPct)} %, generator ${Math.round(m.max.genCpuPct)} %${m.rateSlices.length > 1 ? `; fixed rate by slice ${m.rateSlices.map((x) => x.toFixed(2)).join(' ')}` : ''}`);
    }
  } finally {
    await redis?.stop();
  }
  loads.push(loadAverage());
}

const rows = CONFIGS.map((c) => {
  const mine = results.filter((r) => r.config === c.id);
  const med = (f: (m: Measured) => number) => median(mine.map(f));
  return {
    id: c.id,
    label: c.label,
    cpuRate: med((m) => m.rate.serverCpuUsPerDelivery),
    cpuBusy: med((m) => m.busy?.serverCpuUsPerDelivery ?? NaN),
    latP50: med((m) => m.rate.latency.p50), latP99: med((m) => m.rate.latency.p99),
    maxPerSec: med((m) => m.max.deliveriesPerSec), cpuMax: med((m) => m.max.serverCpuUsPerDelivery),
    ackP50: med((m) => m.rtt.ackP50), ackP99: med((m) => m.rtt.ackP99), delP50: med((m) => m.rtt.deliveryP50), delP99: med((m) => m.rtt.deliveryP99),
    lost: mine.reduce((a, m) => a + m.rate.lost + (m.busy?.lost ?? 0) + m.max.lost, 0),
    split: (mine[0]?.split ?? []).map((_, i) => med((m) => m.split[i]!)),
    rateSplit: (mine[0]?.rateSplit ?? []).map((_, i) => med((m) => m.rateSplit[i]!)),
    busySplit: (mine[0]?.busySplit ?? []).map((_, i) => med((m) => m.busySplit[i]!)),
  };
});
/** The baseline: `memory`, else another memory configuration (e.g. memory-v8). */
const BASE_ID = (CONFIGS.find((c) => c.id === 'memory') ?? CONFIGS.find((c) => c.id.startsWith('memory')))?.id;
const memoryRow = rows.find((r) => r.id === BASE_ID);
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
/** × memory ×1: the median over runs of the ratio within each run (the machine's speed moves
 * between runs more than the ratio does). NaN without a memory configuration. */
function ratioToMemory(config: string, value: (m: Measured) => number | undefined): number {
  return median(results.filter((m) => m.config === config).map((m) => {
    const mem = results.find((x) => x.config === BASE_ID && x.run === m.run);
    const a = value(m);
    const b = mem && value(mem);
    return a !== undefined && b ? a / b : NaN;
  }));
}

/** Ratios within one run: its configurations ran minutes apart, runs further apart, and the machine drifts. */
function perRunRatios(): string[] {
  return CONFIGS.filter((c) => c.id !== BASE_ID).map((c) => {
    const runs = results.filter((m) => m.config === c.id).map((m) => {
      const mem = results.find((x) => x.config === BASE_ID && x.run === m.run);
      if (!mem) return '—';
      const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? f(a / b) : '—');
      return `${ratio(m.rate.serverCpuUsPerDelivery, mem.rate.serverCpuUsPerDelivery)} / ${ratio(m.busy?.serverCpuUsPerDelivery, mem.busy?.serverCpuUsPerDelivery)} / ${ratio(m.max.serverCpuUsPerDelivery, mem.max.serverCpuUsPerDelivery)}`;
    });
    return `- ${c.label}: ${runs.join('; ')}`;
  });
}
const lines = [
  PER_NODE
    ? `Fan-out through Redis: ${SUBSCRIBERS} subscribers per node on one topic (N nodes: N × ${SUBSCRIBERS}), publisher on node 1, ${PAYLOAD}-byte payloads; medians of ${RUNS} runs; warm-up ${WARM_MS} ms as fast as possible${REHEARSE ? ', then every measured phase once' : ''}.`
    : `Fan-out through Redis: ${SUBSCRIBERS} subscribers on one topic spread over the nodes, publisher on node 1, ${PAYLOAD}-byte payloads; medians of ${RUNS} runs; warm-up ${WARM_MS} ms as fast as possible${REHEARSE ? ', then every measured phase once' : ''}.`,
  ...(INTERLEAVE > 1 ? [`Interleaved: every configuration up at once; each phase measured in ${INTERLEAVE} slices of ${SLICE_MS} ms per configuration, taken in turns (latency percentiles: the median of the slices').`] : []),
  `Fixed rate: ${RATE} msg/s (${PER_NODE ? `${RATE * SUBSCRIBERS} deliveries/s per node` : `${RATE * SUBSCRIBERS} deliveries/s`}) for ${DURATION} ms${BUSY_RATE > 0 ? `, then busy: ${BUSY_RATE} msg/s` : ''}. Server CPU = every node + redis-server (${REDIS_AOF ? `append-only file, appendfsync ${REDIS_AOF}` : 'no persistence'}), all pinned to core 0; load generator on core 1.`,
  `Machine: ${machineSummary()};  load average before/after each run: ${loads.join(' → ')}.`,
  ...(memoryRow ? ['× memory ×1: the median over runs of the ratio within each run.'] : []),
  '',
  '| configuration | CPU µs/delivery (fixed rate) | × memory ×1 | CPU µs/delivery (busy rate) | × memory ×1 (busy) | delivery latency p50 / p99 ms (fixed rate) | max deliveries/s | CPU µs/delivery (max) | × memory ×1 (max) | publish→ack p50 / p99 µs | publish→delivery p50 / p99 µs | lost |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.label} | ${f(r.cpuRate)} | ${f(ratioToMemory(r.id, (m) => m.rate.serverCpuUsPerDelivery))} | ${f(r.cpuBusy)} | ${f(ratioToMemory(r.id, (m) => m.busy?.serverCpuUsPerDelivery))} | ${f(r.latP50 / 1000)} / ${f(r.latP99 / 1000)} | ${Math.round(r.maxPerSec).toLocaleString('en')} | ${f(r.cpuMax)} | ${f(ratioToMemory(r.id, (m) => m.max.serverCpuUsPerDelivery))} | ${f(r.ackP50, 0)} / ${f(r.ackP99, 0)}${r.label.startsWith('socket') ? ' ¹' : ''} | ${f(r.delP50, 0)} / ${f(r.delP99, 0)} | ${r.lost} |`),
  '',
  'Max phase, CPU µs per delivery by process (node 1 = the publisher\'s, …, then redis-server):',
  '',
  ...rows.map((r) => `- ${r.label}: ${r.split.map((x) => f(x)).join(' + ')}`),
  '',
  'Fixed rate, the same split:',
  '',
  ...rows.map((r) => `- ${r.label}: ${r.rateSplit.map((x) => f(x)).join(' + ')}`),
  ...(BUSY_RATE > 0 ? ['', 'Busy rate, the same split:', '', ...rows.map((r) => `- ${r.label}: ${r.busySplit.map((x) => f(x)).join(' + ')}`)] : []),
  '',
  ...(memoryRow ? ['Per run, × memory ×1 of the same run (fixed rate / busy rate / max):', '', ...perRunRatios(), ''] : []),
  '¹ socket.io has no acknowledged publish through Redis: the bench server acks once the broadcast is handed to the adapter (not once Redis has it).',
  '',
  `Versions: Node ${process.version}, redis-server ${commandLine('redis-server', ['--version'])?.match(/v=([\d.]+)/)?.[1] ?? '?'}, ioredis ${packageVersion('ioredis')}, socket.io ${packageVersion('socket.io')}, @socket.io/redis-adapter ${packageVersion('@socket.io/redis-adapter')}.`,
];
mkdirSync(RAW_DIR, { recursive: true });
writeFileSync(join(RAW_DIR, `redis-fanout-${stamp}.json`), JSON.stringify({ args, loads, results }, null, 2));
if (profileRoot) lines.push('', `CPU profiles (node 1 of each configuration): ${profileRoot}`);
console.log(lines.join('\n'));
