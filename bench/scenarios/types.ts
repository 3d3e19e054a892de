/** Shared shapes for scenario results (one row per target, mode and run; medians taken later). */
import type { PhaseResult } from '../lib/loadgen-protocol.js';

export interface SuiteOptions {
  full: boolean;
  runs: number;
  /** Target names to run (all when empty). */
  targets: string[];
  cpuProfDir?: string;
  log: (line: string) => void;
}

export interface ThroughputRow extends PhaseResult {
  scenario: string;
  variant: string;
  target: string;
  run: number;
  subscribers: number;
  topics: number;
  /** Setup failures (connections refused or timed out). */
  connectFailed: number;
  error?: string;
}

export interface CapacityRow {
  scenario: 'capacity';
  target: string;
  run: number;
  connections: number;
  opened: number;
  failed: number;
  connectPerSec: number;
  connectMs: number;
  baselineRssKb: number;
  rssKb: number;
  hwmKb: number;
  bytesPerConnection: number;
  /** Node targets: V8 heap + external growth per connection after a full GC. */
  heapBytesPerConnection: number;
  /** Live memory per connection: for Node targets V8 heap in use + native memory (RSS minus the V8
   * heap's committed size), i.e. without heap pages V8 keeps committed but empty; for the others
   * the same as RSS growth. */
  liveBytesPerConnection: number;
  probeMessages: number;
  probeExpected: number;
  probeReceived: number;
  alive: number;
  serverCpuMsConnect: number;
  serverCpuUsPerConnect: number;
  /** Probe delivery latency across every connection (publish to receive), µs. */
  probeP50Us: number;
  probeMaxUs: number;
  error?: string;
}

/** What every throughput scenario takes besides its shape. */
export interface PhaseOptions {
  modes?: Array<'rate' | 'max'>;
  rateDeliveries?: number;
  durationMs?: number;
  payloadBytes?: number;
  run?: number;
  cpuProfDir?: string;
}
