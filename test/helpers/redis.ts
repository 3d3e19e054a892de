/** Real redis-server processes for tests.
 *
 * - `sharedRedisUrl()`: the Redis every test file may share. `.ci/run` starts one and exports
 *   TIDINGS_TEST_REDIS_URL; without it (a local `npx tap`), the file spawns its own for its
 *   lifetime. Tests sharing one Redis keep apart by key prefix (`uniquePrefix`).
 * - `startRedis(t, options)`: a private redis-server (own port and directory) that a test may stop,
 *   restart and give AOF persistence.
 *
 * When redis-server is not installed, a test that needs it is skipped LOUDLY (a SKIP line naming
 * the reason) on a developer machine, and fails under CI=true: CI must never go green by skipping. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import root, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { startTcpProxy } from './tcp-proxy.js';
import { TOPIC_SCRIPTS } from '../../src/engine/redis/scripts.js';

const BINARY = process.env['TIDINGS_TEST_REDIS_SERVER'] ?? 'redis-server';

let installed: boolean | undefined;

/** True when a redis-server binary can be run. */
export function redisInstalled(): boolean {
  installed ??= spawnSync(BINARY, ['--version'], { stdio: 'ignore' }).status === 0;
  return installed;
}

/** Call first in a test that needs Redis: false (after skipping or failing `t`) when there is none. */
export function requireRedis(t: Test): boolean {
  if (process.env['TIDINGS_TEST_REDIS_URL'] || redisInstalled()) return true;
  const reason = `redis-server is not installed (apt-get install redis-server), so this Redis test did not run`;
  if (process.env['CI'] === 'true') t.fail(`${reason}; under CI=true that is a failure`);
  else {
    console.error(`\n*** SKIPPED: ${reason} ***\n`);
    t.plan(0, reason);
  }
  return false;
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** Where its AOF / RDB files live; survives stop() so start() finds them again. */
  readonly dir: string;
  /** Starts it (again) on the same port and directory, with `extraArgs` (e.g. `--databases 1`) after
   * the usual ones for this run only; resolves once it answers PING. */
  start(extraArgs?: string[]): Promise<void>;
  /** SIGTERM and wait for the exit (Redis flushes the AOF on a clean shutdown). */
  stop(): Promise<void>;
  /** SIGKILL: no shutdown work at all, like a crashed host. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered (a frozen host); resume() undoes it. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

export interface StartRedisOptions {
  /** appendonly yes, appendfsync always: every acknowledged write is on disk. */
  aof?: boolean;
  /** requirepass: clients must AUTH with it (`url` carries it as redis://:<password>@host:port). */
  requirePass?: string;
}

/** A private redis-server on a free port; stopped when the test ends. */
export async function startRedis(t: Test, options: StartRedisOptions = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tidings-redis-'));
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', options.aof ? 'yes' : 'no', '--appendfsync', 'always',
    '--daemonize', 'no', '--loglevel', 'warning', '--logfile', '',
    ...(options.requirePass !== undefined ? ['--requirepass', options.requirePass] : []),
  ];
  let child: ChildProcess | undefined;
  const url = options.requirePass !== undefined ? `redis://:${options.requirePass}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`;
  let paused = false;
  const halt = async (signal: NodeJS.Signals) => {
    if (paused) proc.resume(); // a stopped process would not act on SIGTERM
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await exited;
  };
  const proc: RedisProcess = {
    port, url, dir,
    async start(extraArgs: string[] = []) {
      if (child) return;
      const c = spawn(BINARY, [...args, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      child = c;
      await waitForPing(url, () => (c.exitCode !== null ? `redis-server exited (${c.exitCode}): ${stderr}` : undefined));
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    pause() {
      if (!child || child.exitCode !== null) throw new Error('redis-server is not running');
      child.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (child && paused) child.kill('SIGCONT');
      paused = false;
    },
  };
  t.teardown(async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await proc.start();
  return proc;
}

let shared: Promise<string> | undefined;

/** URL of the Redis this test file shares with others (see the file comment). */
export async function sharedRedisUrl(): Promise<string> {
  const fromCi = process.env['TIDINGS_TEST_REDIS_URL'];
  if (fromCi) return fromCi;
  // One per test file, for the file's whole run: the root test's teardown stops it.
  shared ??= startRedis(root as unknown as Test).then((r) => r.url);
  return shared;
}

/** A key prefix no other test (in this or a parallel file) uses. */
export function uniquePrefix(label = 't'): string {
  return `tidings-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN, not KEYS: the shared Redis may hold many). */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // The Redis is already gone (its test stopped it): nothing left to clean.
  } finally {
    redis.disconnect();
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPing(url: string, died: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      if ((await redis.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      redis.disconnect();
    }
    const problem = died();
    if (problem) throw new Error(problem);
    if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not answer within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A MONITOR connection like `redis.monitor()`'s, minus its 'error's. ioredis takes a line as
 * MONITOR output only once the connection is "monitoring": lines read before (in the read that
 * brings MONITOR's OK: the status is set a microtask later) or after disconnect() reach it as
 * replies to no command, which it emits as 'error' ("Command queue state error"), before
 * monitor() resolves too. On a shared Redis they are other traffic; they are left out. */
export function monitorOf(redis: Redis): Promise<Redis> {
  const monitor = redis.duplicate({ monitor: true, lazyConnect: false });
  monitor.on('error', () => {});
  return new Promise((resolve, reject) => {
    monitor.once('monitoring', () => resolve(monitor));
    monitor.once('end', () => reject(new Error('the MONITOR connection ended before monitoring')));
  });
}

/** How many times the topic engine's load script (scripts.ts tidingsTopicLoad) ran on `topicKey`
 * in Redis while `fn` ran, as Redis's MONITOR shows it; a marker command after `fn` shows when
 * the monitor has seen everything before it. */
export async function loadsDuring(url: string, topicKey: string, fn: () => Promise<void>): Promise<number> {
  const { lua } = TOPIC_SCRIPTS.tidingsTopicLoad;
  const sha = createHash('sha1').update(lua).digest('hex');
  const side = new Redis(url);
  const monitor = await monitorOf(side);
  const marker = `loads-during-${process.pid}-${Date.now()}`;
  const shown = topicKey.replaceAll('\0', '\\x00'); // as MONITOR shows it
  let loads = 0;
  let markerSeen: () => void = () => {};
  const seen = new Promise<void>((resolve) => { markerSeen = resolve; });
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) markerSeen();
    else if ((args[1] === sha || args[1] === lua) && args.includes(shown)) loads++;
  });
  try {
    await fn();
    await side.echo(marker);
    await seen;
  } finally {
    monitor.disconnect();
    side.disconnect();
  }
  return loads;
}

/** The shared Redis under a fresh key prefix (deleted when the test ends), and a TCP proxy to it
 * for the node whose link a case breaks (`redis://127.0.0.1:<proxy.port>`). */
export async function proxiedRedis(t: Test, label: string) {
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix(label);
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  return { url, prefix, proxy };
}
