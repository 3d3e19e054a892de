/** The machine and software a report was produced on. */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, totalmem, loadavg } from 'node:os';
import { cpuCount } from './proc.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  kernel: string;
  node: string;
  memoryGiB: number;
  fdLimit: string;
  loadAverage: string;
  gitCommit: string;
  date: string;
}

function sh(cmd: string): string {
  try { return execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim(); } catch { return 'unknown'; }
}

export function machineInfo(): MachineInfo {
  let model = cpus()[0]?.model ?? 'unknown';
  try { model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model; } catch { /* keep os.cpus() */ }
  const dirty = sh('git status --porcelain -- src | head -1') !== '' ? ' + uncommitted changes in src/' : '';
  return {
    cpuModel: model,
    cores: cpuCount(),
    kernel: sh('uname -sr'),
    node: process.version,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    fdLimit: sh('ulimit -n'),
    loadAverage: loadavg().map((l) => l.toFixed(2)).join(' '),
    gitCommit: `${sh('git rev-parse --short HEAD')}${dirty}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}
