/** Many topics: T topics × S subscribers each; every connection holds `perConn` subscriptions
 * (T×S/perConn connections), the publisher cycles through the topics. */
import type { Target } from '../targets/types.js';
import { runThroughput } from './throughput.js';
import type { PhaseOptions, ThroughputRow } from './types.js';

export interface ManyTopicsOptions extends PhaseOptions {
  topics?: number;
  subscribersPerTopic?: number;
  perConn?: number;
}

export function runManyTopics(target: Target, o: ManyTopicsOptions = {}): Promise<ThroughputRow[]> {
  const topics = o.topics ?? 1000;
  const perTopic = o.subscribersPerTopic ?? 10;
  const perConn = o.perConn ?? 10;
  const connections = Math.ceil((topics * perTopic) / perConn);
  return runThroughput(target, {
    scenario: 'many-topics', variant: `${topics} topics × ${perTopic}`, subscribers: connections,
    plan: { kind: 'spread', topics, perConn }, topics: Array.from({ length: topics }, (_, i) => `t${i}`), fanout: perTopic,
    modes: o.modes ?? ['rate', 'max'], rateDeliveries: o.rateDeliveries ?? 100_000,
    durationMs: o.durationMs ?? 2000, payloadBytes: o.payloadBytes ?? 64, inFlightDeliveries: 5_000,
    run: o.run ?? 1, ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
  });
}
