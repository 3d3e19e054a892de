/** Fan-out: one topic, N subscribers, one publisher. */
import type { Target } from '../targets/types.js';
import { runThroughput } from './throughput.js';
import type { PhaseOptions, ThroughputRow } from './types.js';

export interface FanoutOptions extends PhaseOptions {
  subscribers: number;
}

export function runFanout(target: Target, o: FanoutOptions): Promise<ThroughputRow[]> {
  return runThroughput(target, {
    scenario: 'fanout', variant: `1 topic × ${o.subscribers}`, subscribers: o.subscribers,
    plan: { kind: 'single', topic: 'fan' }, topics: ['fan'], fanout: o.subscribers,
    modes: o.modes ?? ['rate', 'max'], rateDeliveries: o.rateDeliveries ?? 100_000,
    durationMs: o.durationMs ?? 2000, payloadBytes: o.payloadBytes ?? 64, inFlightDeliveries: 5_000,
    run: o.run ?? 1, ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
  });
}
