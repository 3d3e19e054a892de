/** A throughput run shared by fan-out and many-topics: open the subscribers, open the publisher,
 * then for each mode a measured phase (fixed rate, then as fast as the window allows). */
import { withTarget } from '../lib/harness.js';
import type { PhaseResult, SubscriptionPlan } from '../lib/loadgen-protocol.js';
import type { Target } from '../targets/types.js';
import type { ThroughputRow } from './types.js';

export interface ThroughputParams {
  scenario: string;
  variant: string;
  subscribers: number;
  plan: SubscriptionPlan;
  /** Topics the publisher cycles through. */
  topics: string[];
  /** Deliveries per published message. */
  fanout: number;
  modes: Array<'rate' | 'max'>;
  /** Rate mode: deliveries per second to aim for (published rate = this / fanout). */
  rateDeliveries: number;
  durationMs: number;
  payloadBytes: number;
  /** Max mode: deliveries in flight at most (window = this / fanout messages, 4..200). */
  inFlightDeliveries: number;
  /** `single`: the single-publisher regime (ConnectOptions.single): a `ws` package publisher,
   * one message per write, at most SINGLE_WINDOW messages in flight, subscribers decoding. */
  publisher?: 'batched' | 'single';
  run: number;
  /** Unmeasured full-speed phase before the measured ones, ms (default 200). */
  warmupMs?: number;
  cpuProfDir?: string;
}

/** Messages in flight at most in the single-publisher regime, whatever the fan-out. */
export const SINGLE_WINDOW = 64;

export async function runThroughput(target: Target, p: ThroughputParams): Promise<ThroughputRow[]> {
  const base = { scenario: p.scenario, variant: p.variant, target: target.name, run: p.run, subscribers: p.subscribers, topics: p.topics.length };
  try {
    return await withTarget(target, p.cpuProfDir ? { cpuProfDir: p.cpuProfDir } : {}, async (s) => {
      const single = p.publisher === 'single';
      const publisher = single ? 'single' : 'batched';
      const opened = await s.open(p.subscribers, p.plan, { timedStride: Math.max(1, Math.ceil(p.subscribers / 25)), single });
      if (opened.failed > 0) throw new Error(`${opened.failed} of ${p.subscribers} subscribers failed to connect: ${opened.firstError}`);
      await s.publisher(single);
      const rows: ThroughputRow[] = [];
      const window = single ? SINGLE_WINDOW : Math.max(4, Math.min(200, Math.floor(p.inFlightDeliveries / p.fanout)));
      // Unmeasured warm-up at full speed: JIT-compiled servers (the Node ones) reach steady state
      // before the clock starts, as a long-running server would be.
      await s.phase({ mode: 'max', rate: 1, durationMs: p.warmupMs ?? 200, maxMessages: 10_000_000, topics: p.topics, fanout: p.fanout, payloadBytes: p.payloadBytes, window, publisher, drainMs: 2000 });
      for (const mode of p.modes) {
        const rate = p.rateDeliveries / p.fanout;
        const result: PhaseResult = await s.phase({
          mode, rate, durationMs: p.durationMs,
          maxMessages: mode === 'rate' ? Math.ceil((rate * p.durationMs) / 1000) + 1 : 10_000_000,
          topics: p.topics, fanout: p.fanout, payloadBytes: p.payloadBytes,
          window, publisher,
          drainMs: 2000,
        });
        rows.push({ ...base, ...result, connectFailed: opened.failed });
      }
      return rows;
    });
  } catch (err) {
    return p.modes.map((mode) => ({ ...base, ...emptyPhase(mode), connectFailed: 0, error: (err as Error).message.split('\n')[0]! }));
  }
}

export function emptyPhase(mode: 'rate' | 'max'): PhaseResult {
  const nan = NaN;
  return {
    mode, published: 0, expected: 0, received: 0, lost: 0, wallMs: nan, deliveriesPerSec: nan, publishedPerSec: nan,
    serverCpuMs: nan, serverCpuUsPerDelivery: nan, serverCpuPct: nan, genCpuPct: nan, serverCoreBusyPct: nan, serverCoreSoftirqPct: nan, serverCoreForeignPct: nan, genCoreForeignPct: nan,
    latency: { samples: 0, p50: nan, p99: nan, p999: nan, max: nan }, closedUnexpectedly: 0,
  };
}
