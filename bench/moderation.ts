/** Moderated round trip: a client publishes to `<chat>-input`, a moderator in its own process
 * (examples/moderator.ts, on the SDK's Moderator helper) accepts it, and a subscriber of `<chat>`
 * receives the published result. Latency is measured in this process (publish send -> item
 * received) over a bounded number of messages sent at a fixed rate; p50 / p99 / max are reported.
 *
 * Runnable alone: `node --import tsx bench/moderation.ts [--messages N] [--rate PER_SEC]`.
 * Without `url` it starts its own `tidings serve` process (and the moderator) and stops both. */
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { PermissionScopes } from '../src/protocol/index.js';
import { BenchSocket } from './lib/bench-socket.js';
import { TokenAuthority, generateSigningKey } from '../src/auth/tokens.js';
import { DEFAULTS } from '../src/core/config.js';
import { systemClock } from '../src/core/clock.js';
import { freePort, spawnServer, stopProcess } from './lib/proc.js';
import { percentileSorted } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = 'bench-chat';
const CHAT = 'room1';

export interface ModerationBenchOptions {
  /** Measured messages (after the warm-up). */
  messages?: number;
  /** Messages per second, sent at a fixed interval. */
  ratePerSec?: number;
  /** Messages sent and discarded first (JIT, connection warm-up). */
  warmup?: number;
  /** How long to wait for the last results after the last send, ms. */
  drainMs?: number;
  /** Moderator processes in the group. */
  moderators?: number;
  /** Log progress to stderr. */
  verbose?: boolean;
}

export interface ModerationBenchResult {
  messages: number;
  ratePerSec: number;
  moderators: number;
  received: number;
  /** Measured messages that never came out on `<chat>` within drainMs. */
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  note: string;
}

export async function runModerationBench(options: ModerationBenchOptions = {}): Promise<ModerationBenchResult> {
  const messages = options.messages ?? 2000;
  const ratePerSec = options.ratePerSec ?? 500;
  const warmup = options.warmup ?? 200;
  const drainMs = options.drainMs ?? 5000;
  const moderatorCount = options.moderators ?? 1;
  const log = (m: string) => { if (options.verbose) process.stderr.write(`[moderation bench] ${m}\n`); };

  const signingKey = generateSigningKey();
  const port = await freePort();
  const env = { ...process.env, TIDINGS_SIGNING_KEY: signingKey, TIDINGS_LOG_LEVEL: 'warn' };
  const server = await spawnServer(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', String(port)], { ready: { port }, env, cwd: ROOT });
  const url = `ws://127.0.0.1:${port}/v1/ws`;
  const authority = new TokenAuthority(DEFAULTS.auth, [signingKey], systemClock);
  const moderatorKey = (await authority.mintApiKey({ scope: PermissionScopes.moderator(CACHE), expiresInSec: null, tokenId: 'bench-moderator' })).token;
  const userToken = (await authority.mintDisposableToken({ scope: PermissionScopes.chatParticipant(CACHE, CHAT), expiresInSec: 3600, tokenId: 'bench-user' })).token;
  const moderators: ChildProcess[] = [];
  const clients: BenchSocket[] = [];
  try {
    for (let i = 0; i < moderatorCount; i++) moderators.push(await startModerator(url, moderatorKey, log));
    const subscriber = await BenchSocket.open(url, userToken);
    const publisher = await BenchSocket.open(url, userToken);
    clients.push(subscriber, publisher);
    await subscriber.request({ t: 'sub', cache: CACHE, topic: CHAT });

    const total = warmup + messages;
    const sentAt = new Float64Array(total).fill(NaN);
    const latencies: number[] = [];
    let received = 0;
    let rejected = 0;
    let allDone!: () => void;
    const done = new Promise<void>((r) => { allDone = r; });
    subscriber.onPush = (f) => {
      if (f['t'] !== 'item') return;
      const i = Number(String(f['value']).slice(4));
      const t0 = sentAt[i];
      if (t0 === undefined || Number.isNaN(t0)) return;
      if (i >= warmup) latencies.push(performance.now() - t0);
      sentAt[i] = NaN; // count each once
      if (++received === total) allDone();
    };
    publisher.onPush = (f) => { if (f['t'] === 'rejected') rejected++; };

    log(`sending ${warmup} + ${messages} messages at ${ratePerSec}/s through ${moderatorCount} moderator(s)`);
    const interval = 1000 / ratePerSec;
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      // Fixed schedule (no coordinated omission from a slow ack): wait for the slot, then send.
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sentAt[i] = performance.now();
      publisher.send({ t: 'pub', cache: CACHE, topic: `${CHAT}-input`, value: `msg ${i}` });
    }
    await Promise.race([done, new Promise((r) => setTimeout(r, drainMs))]);
    latencies.sort((a, b) => a - b);
    const measured = latencies.length;
    const result: ModerationBenchResult = {
      messages, ratePerSec, moderators: moderatorCount, received: measured,
      lost: messages - measured,
      p50Ms: round(percentileSorted(latencies, 0.5)),
      p99Ms: round(percentileSorted(latencies, 0.99)),
      maxMs: round(latencies[measured - 1] ?? NaN),
      meanMs: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, measured)),
      note: `server, moderator(s) and client in separate processes on one machine; ${rejected} rejected; publisher errors: ${publisher.errors}`,
    };
    return result;
  } finally {
    for (const c of clients) c.close();
    await Promise.all(moderators.map((m) => stopProcess(m, 2000)));
    await stopProcess(server.child, 3000);
  }
}

/** examples/moderator.ts in its own process; resolves once it reports that it joined. */
function startModerator(url: string, apiKey: string, log: (m: string) => void): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/moderator.ts', '--quiet', '--cache', CACHE], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TIDINGS_URL: url, TIDINGS_API_KEY: apiKey },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`moderator did not join in time:\n${out}`)); }, 15_000);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-4000);
      if (/joined group/.test(out)) { clearTimeout(timer); log('moderator joined'); resolve(child); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`moderator exited (${code}):\n${out}`)); });
  });
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { messages: { type: 'string' }, rate: { type: 'string' }, moderators: { type: 'string' } } });
  const result = await runModerationBench({
    verbose: true,
    ...(values.messages ? { messages: Number(values.messages) } : {}),
    ...(values.rate ? { ratePerSec: Number(values.rate) } : {}),
    ...(values.moderators ? { moderators: Number(values.moderators) } : {}),
  });
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}
