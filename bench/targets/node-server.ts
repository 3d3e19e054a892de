/** Launches one of the Node server scripts in bench/targets/servers/ from its bundle (pinned, --expose-gc, optional
 * --cpu-prof) and talks to it over its stdout: `READY <port>` when listening, `GC <n>` after a
 * forced collection (SIGUSR2). */
import { fileURLToPath } from 'node:url';
import { stopProcess, spawnServer } from '../lib/proc.js';
import type { RunningTarget, StartOptions, TargetInfo } from './types.js';
import { sleep } from '../lib/clock.js';
import { bundlePath } from '../lib/bundle.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function startNodeServer(script: string, name: string, options: StartOptions, env: NodeJS.ProcessEnv = {}, shippedFlags: string[] = []): Promise<RunningTarget> {
  // shippedFlags: the node flags the target runs with in production (Tidings' bin sets some).
  // BENCH_SERVER_NODE_ARGS adds node flags to the server (e.g. --perf-basic-prof for `perf`).
  const nodeArgs = ['--expose-gc', ...shippedFlags, ...(process.env['BENCH_SERVER_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])];
  // Default profile names carry pid and thread id; the main thread is tid 0.
  if (options.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  const spawned = await spawnServer(process.execPath, [...nodeArgs, await bundlePath(script.replace(/\.ts$/, '')), String(options.port)], {
    cpus: options.cpus, ready: /READY (\d+)/, cwd: ROOT, env: { ...process.env, ...env },
  });
  const info: TargetInfo = { name, host: '127.0.0.1', port: Number(spawned.match[1]), ...(options.signingKey ? { signingKey: options.signingKey } : {}) };
  let gcCount = 0;
  return {
    pid: spawned.pid,
    info,
    async gc() {
      gcCount++;
      spawned.child.kill('SIGUSR2');
      const want = new RegExp(`GC ${gcCount} heap=(\\d+) external=(\\d+) rss=(\\d+) heapTotal=(\\d+)`);
      for (let i = 0; i < 250; i++) {
        const m = want.exec(spawned.output());
        if (m) return { heapUsed: Number(m[1]), external: Number(m[2]), rss: Number(m[3]), heapTotal: Number(m[4]) };
        await sleep(20);
      }
      return undefined;
    },
    stop: () => stopProcess(spawned.child),
  };
}
