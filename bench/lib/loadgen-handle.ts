/** Orchestrator side of a load-generator process: spawn it pinned, send commands, await replies. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinned } from './proc.js';
import { bundlePath } from './bundle.js';
import type { Command, Reply } from './loadgen-protocol.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export class LoadGen {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited: string | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: Reply) => {
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      clearTimeout(w.timer);
      if (reply.ok) w.resolve(reply.result);
      else w.reject(new Error(`load generator: ${reply.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = `load generator exited (${code ?? signal})`;
      for (const w of this.waiting.values()) { clearTimeout(w.timer); w.reject(new Error(this.exited)); }
      this.waiting.clear();
    });
  }

  get pid(): number { return this.child.pid!; }

  /** A generator process pinned to `cpus` (a taskset list), with a larger young generation so
   * its own GC stays out of the way. */
  static async start(cpus: string | undefined): Promise<LoadGen> {
    const [cmd, args] = pinned(cpus, process.execPath, ['--max-semi-space-size=32', await bundlePath('loadgen')]);
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: ROOT });
    return new LoadGen(child);
  }

  call<T>(command: Command, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load generator: ${command.op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ ...command, id });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    try { await this.call({ op: 'exit' }, 2000); } catch { /* already going */ }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  }
}
