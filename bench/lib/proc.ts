/** Process plumbing: CPU and memory from /proc, pinned child processes, free ports. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';

const CLK_TCK = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100; } catch { return 100; }
})();

/** utime + stime of a process (all its threads), in ms. NaN if it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 2 (comm) may contain spaces; the fields after the closing paren are space-separated.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): utime is field 14, stime field 15.
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Time a process's live threads have run, in µs, from the scheduler's own nanosecond count
 * (/proc/<pid>/task/<tid>/schedstat), where utime + stime move in 10 ms ticks: short phases need
 * it. Falls back to cpuMs when schedstat is missing; NaN if the process is gone. */
export function runTimeUs(pid: number): number {
  try {
    let ns = 0;
    const read = forEachThreadFile(pid, 'schedstat', (text) => { ns += Number(text.split(' ')[0]); });
    return read > 0 ? ns / 1000 : cpuMs(pid) * 1000;
  } catch {
    return cpuMs(pid) * 1000;
  }
}

/** Calls `each` with /proc/<pid>/task/<tid>/<file> of every live thread and returns how many it
 * read; throws if the process is gone, skips a thread that ended meanwhile (or lacks the file). */
function forEachThreadFile(pid: number, file: string, each: (text: string) => void): number {
  let read = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try { text = readFileSync(`/proc/${pid}/task/${tid}/${file}`, 'latin1'); } catch { continue; }
    each(text);
    read++;
  }
  return read;
}

/** Context switches of a process's live threads so far: voluntary (it slept) and involuntary (it
 * was preempted), from /proc/<pid>/task/<tid>/status. */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  const sum = { voluntary: 0, involuntary: 0 };
  try {
    forEachThreadFile(pid, 'status', (status) => {
      sum.voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      sum.involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    });
  } catch { /* the process ended */ }
  return sum;
}

/** VmRSS and VmHWM of a process, in KiB. */
export function memoryKb(pid: number): { rssKb: number; hwmKb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const pick = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: pick('VmRSS'), hwmKb: pick('VmHWM') };
  } catch {
    return { rssKb: NaN, hwmKb: NaN };
  }
}

export function cpuCount(): number {
  try { return Number(execFileSync('nproc').toString().trim()) || 1; } catch { return 1; }
}

/** `taskset -c <cpus>` prefix when the machine has the cores (pinning on one core is pointless). */
export function pinned(cpus: string | undefined, command: string, args: string[]): [string, string[]] {
  if (cpus === undefined || cpus === '') return [command, args];
  return ['taskset', ['-c', cpus, command, ...args]];
}

export interface Spawned { child: ChildProcess; pid: number; output: () => string }

/** Spawns a server process (pinned), resolves once `ready` matches its stdout/stderr, or rejects
 * with its output when it exits or `timeoutMs` passes. taskset execs, so the pid is the server's. */
export function spawnServer(
  command: string, args: string[],
  options: { cpus?: string; ready: RegExp | { port: number }; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<Spawned & { match: RegExpExecArray }> {
  const [cmd, argv] = pinned(options.cpus, command, args);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
  let out = '';
  const output = () => out;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${command} not ready in ${options.timeoutMs ?? 15000} ms:\n${out.slice(-2000)}`)); }, options.timeoutMs ?? 15000);
    let done = false;
    const ready = options.ready;
    const onData = (d: Buffer) => {
      // Keep a bounded tail of the output for error messages.
      out = (out + d.toString()).slice(-20000);
      if (done || !(ready instanceof RegExp)) return;
      const match = ready.exec(out);
      if (match) { done = true; clearTimeout(timer); resolve({ child, pid: child.pid!, output, match }); }
    };
    if (!(ready instanceof RegExp)) {
      // No log line to wait for: poll until the port accepts a connection.
      const poll = () => {
        if (done) return;
        const probe = netConnect({ host: '127.0.0.1', port: ready.port });
        probe.once('connect', () => {
          probe.destroy();
          if (done) return;
          done = true; clearTimeout(timer);
          const match = Object.assign([String(ready.port), String(ready.port)], { index: 0, input: '' }) as unknown as RegExpExecArray;
          resolve({ child, pid: child.pid!, output, match });
        });
        probe.once('error', () => { probe.destroy(); setTimeout(poll, 25); });
      };
      setTimeout(poll, 25);
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => { if (!done) { done = true; clearTimeout(timer); reject(err); } });
    child.once('exit', (code, signal) => {
      if (!done) { done = true; clearTimeout(timer); reject(new Error(`${command} exited (${code ?? signal}) before ready:\n${out.slice(-2000)}`)); }
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** First line of a command's output, or undefined when it fails (used for version strings). */
export function commandLine(command: string, args: string[]): string | undefined {
  try { return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).toString().trim().split('\n')[0]; } catch { return undefined; }
}

export function hasCommand(command: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Cumulative time of one core from /proc/stat, ms: busy (everything but idle and iowait) and the
 * part of it spent in softirq (on loopback, TCP receive processing that no process is charged for). */
export function coreTimes(core: number): { busyMs: number; softirqMs: number } {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n').find((l) => l.startsWith(`cpu${core} `));
    if (!line) return { busyMs: NaN, softirqMs: NaN };
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return { busyMs: (busy * 1000) / CLK_TCK, softirqMs: (f[6]! * 1000) / CLK_TCK };
  } catch {
    return { busyMs: NaN, softirqMs: NaN };
  }
}
