/** Messages between the orchestrator and a load-generator process (plain JSON over the fork IPC). */
import type { TargetInfo } from '../targets/types.js';
import type { LatencySummary } from './stats.js';

/** Which topics connection number `index` (across all generators) subscribes to. */
export type SubscriptionPlan =
  | { kind: 'single'; topic: string }
  /** `topics` topics, each connection subscribes to `perConn` of them, spread so that every topic
   * gets the same number of subscribers. */
  | { kind: 'spread'; topics: number; perConn: number };

export function topicsFor(plan: SubscriptionPlan, index: number): string[] {
  if (plan.kind === 'single') return [plan.topic];
  const stride = Math.max(1, Math.floor(plan.topics / plan.perConn));
  const out: string[] = [];
  for (let k = 0; k < plan.perConn; k++) out.push(`t${(index + k * stride) % plan.topics}`);
  return out;
}

export interface InitCommand {
  op: 'init'; target: string; info: TargetInfo; serverPid: number;
  /** More processes whose CPU counts as the server's (other nodes, redis-server): summed. */
  extraPids?: number[];
  /** Cores the server and this generator are pinned to (their /proc/stat lines are sampled), or -1. */
  serverCore: number;
  genCore: number;
}
export interface OpenCommand {
  op: 'open';
  count: number;
  /** Global index of this generator's first connection (for the plan and for timing every n-th). */
  firstIndex: number;
  plan: SubscriptionPlan;
  concurrency: number;
  /** Every `timedStride`-th connection records latency (the rest only count). */
  timedStride: number;
  /** Tidings: one token per connection (each hello pays a full verify) or one shared token. */
  distinctTokens: boolean;
  timeoutMs: number;
  /** Keep a delivery count per connection (capacity probe: is every connection alive?). */
  countPerConn?: boolean;
  /** Subscribers decode as an application would (the single-publisher regime; ConnectOptions). */
  single?: boolean;
}
/** `single`: the publisher is a `ws` package client (ConnectOptions.single). */
export interface PublisherCommand { op: 'publisher'; single?: boolean }
export interface PhaseSpec {
  mode: 'rate' | 'max';
  /** Messages per second (rate mode). */
  rate: number;
  durationMs: number;
  /** Upper bound on messages published in the phase. */
  maxMessages: number;
  topics: string[];
  /** Deliveries expected per published message. */
  fanout: number;
  payloadBytes: number;
  /** Max mode: messages in flight at most (published and not yet delivered everywhere). */
  window: number;
  /** `batched`: bursts of half the window (max) or of what is due (rate), each burst one write;
   * `single`: every publish its own message and its own write, topped up one by one. Default batched. */
  publisher?: 'batched' | 'single';
  /** Give up waiting for stragglers after this long without progress. */
  drainMs: number;
}
export interface PhaseCommand { op: 'phase'; spec: PhaseSpec }
export interface BurstCommand { op: 'burst'; topic: string; count: number; gapMs: number; payloadBytes: number }
export interface CounterCommand { op: 'counter'; minPerConn?: number }
export interface SimpleCommand { op: 'reset' | 'close-all' | 'exit' }
export type Command = InitCommand | OpenCommand | PublisherCommand | PhaseCommand | BurstCommand | CounterCommand | SimpleCommand;

export interface OpenResult { opened: number; failed: number; elapsedMs: number; firstError?: string; tokenMintMs: number }
export interface CounterResult {
  received: number;
  closedUnexpectedly: number;
  lastCloseReason?: string;
  /** With countPerConn: connections that received at least `minPerConn` items. */
  connsReached?: number;
  latency: LatencySummary;
}

export interface PhaseResult {
  mode: 'rate' | 'max';
  published: number;
  expected: number;
  received: number;
  lost: number;
  /** First publish to last delivery, ms. */
  wallMs: number;
  deliveriesPerSec: number;
  publishedPerSec: number;
  /** Server CPU (utime+stime) over the phase including the drain, ms. */
  serverCpuMs: number;
  serverCpuUsPerDelivery: number;
  /** Server CPU while publishing, % of one core. */
  serverCpuPct: number;
  /** Generator CPU while publishing, % of one core. */
  genCpuPct: number;
  /** The server's core while publishing: busy % (any process, irq, softirq) and softirq % alone. */
  serverCoreBusyPct: number;
  serverCoreSoftirqPct: number;
  /** Busy time on each core beyond its own pinned process (other processes, ksoftirqd, interrupts),
   * % of the core: a noise indicator. */
  serverCoreForeignPct: number;
  genCoreForeignPct: number;
  latency: LatencySummary;
  closedUnexpectedly: number;
  lastCloseReason?: string;
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
