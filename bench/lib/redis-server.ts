/** A scratch redis-server for a bench, on 127.0.0.1. No persistence unless `aof` names an fsync
 * policy: then its append-only file lives in a temporary directory, removed at stop, with automatic
 * rewrites off (a rewrite runs in a forked child whose CPU a bench would not count). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnServer, stopProcess } from './proc.js';

export type AofPolicy = 'everysec' | 'always';

export interface RedisServerOptions {
  /** A free one when not given. */
  port?: number;
  /** Pin it (taskset's list). */
  cpus?: string | undefined;
  aof?: AofPolicy | undefined;
  /** More redis-server arguments. */
  args?: string[];
}

export interface BenchRedisServer { url: string; port: number; pid: number; stop(): Promise<void> }

export async function startRedisServer(options: RedisServerOptions = {}): Promise<BenchRedisServer> {
  const port = options.port ?? await freePort();
  const aof = options.aof ? { policy: options.aof, dir: mkdtempSync(join(tmpdir(), 'bench-redis-')) } : undefined;
  const persistence = aof
    ? ['--appendonly', 'yes', '--appendfsync', aof.policy, '--auto-aof-rewrite-percentage', '0', '--dir', aof.dir]
    : ['--appendonly', 'no'];
  const spawned = await spawnServer('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--loglevel', 'warning', ...(options.args ?? [])],
    { ...(options.cpus ? { cpus: options.cpus } : {}), ready: { port } });
  return {
    url: `redis://127.0.0.1:${port}`, port, pid: spawned.pid,
    stop: async () => {
      await stopProcess(spawned.child);
      if (aof) rmSync(aof.dir, { recursive: true, force: true });
    },
  };
}
