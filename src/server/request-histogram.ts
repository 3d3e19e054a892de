/** tidings_request_duration_seconds{op,transport}: every request from its arrival to its reply
 * (server.requestHistogram). The broker reports each answered request once (engine/request-times.ts)
 * with an `op` the server serves or `unknown`, so the label sets stay bounded. */
import { Histogram, type Registry } from 'prom-client';
import type { RequestTimes, Transport } from '../engine/request-times.js';

/** 50 µs (a request answered from memory) to 5 s (one waiting on an unreachable Redis). */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Series = ReturnType<Histogram<'op' | 'transport'>['labels']>;

export class RequestHistogram implements RequestTimes {
  private readonly histogram = new Histogram({
    name: 'tidings_request_duration_seconds',
    help: 'Requests from arrival to reply, by operation (unknown: one the server does not serve) and transport (ws, http: the API, SSE and long-poll subscribes; grpc)',
    labelNames: ['op', 'transport'], buckets: BUCKETS, registers: [],
  });

  /** Each (transport, op)'s series, looked up once: labels() validates the label names every call. */
  private readonly series: Record<Transport, Map<string, Series>> = { ws: new Map(), http: new Map(), grpc: new Map() };

  observe(op: string, transport: Transport, started: number): void {
    const byOp = this.series[transport];
    let series = byOp.get(op);
    if (!series) {
      series = this.histogram.labels({ op, transport });
      byOp.set(op, series);
    }
    series.observe((performance.now() - started) / 1000);
  }

  register(registry: Registry): void {
    registry.registerMetric(this.histogram);
  }
}
