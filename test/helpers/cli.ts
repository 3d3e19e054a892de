/** The `tidings` command for tests. `cliInProcess` runs it in the test's own process (src/cli/main.ts
 * runCli, the code src/main.ts runs) with the environment, stdout and stderr captured: for cases
 * whose only observables are those and the exit code, without the second or so of CPU a
 * `tsx src/main.ts` process costs. `cliProcess` spawns the real thing, for what only a process
 * shows (its exit status, signals, a serve that starts). */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { runCli } from '../../src/cli/main.js';

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `tidings <args>` in this process; env is added to (and overrides) this process's. Not for
 * a serve that starts: that one never returns (it owns the process's signals from then on), so a
 * command still running after 30 s rejects, saying what it printed. */
export async function cliInProcess(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const stillRunning = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`tidings ${args.join(' ')} still running after 30 s (a serve that started?): ${JSON.stringify(stdout + stderr)}`)), 30_000);
  });
  const status = await Promise.race([runCli({
    argv: args,
    env: { ...process.env, ...env },
    stdout: { write: (text: string) => { stdout += text; return true; } },
    stderr: { write: (text: string) => { stderr += text; return true; } },
  }), stillRunning]).finally(() => clearTimeout(timer));
  return { status, stdout, stderr };
}

/** Runs `tsx src/main.ts <args>` as a process and waits for it to exit. */
export function cliProcess(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
}
