/** Fan-out: one topic, N subscribers, one publisher. */
import type { Target } from '../targets/types.js';
import { runThroughput } from './throughput.js';
import type { PhaseOptions, ThroughputRow } from './types.js';

export interface FanoutOptions extends PhaseOptions {
  subscribers: number;
  /** `single`: one message per write from a `ws` package publisher (throughput.ts). */
  publisher?: 'batched' | 'single';
}

/** Variant label: the batched regime keeps the historical name, so reports stay comparable. */
export function fanoutVariant(subscribers: number, publisher: 'batched' | 'single' = 'batched'): string {
  return `1 topic × ${subscribers}${publisher === 'single' ? ', single publisher' : ''}`;
}

export function runFanout(target: Target, o: FanoutOptions): Promise<ThroughputRow[]> {
  return runThroughput(target, {
    scenario: 'fanout', variant: fanoutVariant(o.subscribers, o.publisher), subscribers: o.subscribers,
    plan: { kind: 'single', topic: 'fan' }, topics: ['fan'], fanout: o.subscribers,
    modes: o.modes ?? ['rate', 'max'], rateDeliveries: o.rateDeliveries ?? 100_000,
    durationMs: o.durationMs ?? 2000, payloadBytes: o.payloadBytes ?? 64, inFlightDeliveries: 5_000,
    run: o.run ?? 1, ...(o.publisher ? { publisher: o.publisher } : {}), ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
  });
}
