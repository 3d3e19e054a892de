/** Connection capacity: many idle subscribed connections. Measures the connect rate (connect +
 * token verification where the target has one + subscribe acknowledged), server RSS growth per
 * connection, and proves every connection alive with a broadcast probe. */
import { withTarget } from '../lib/harness.js';
import { sleep } from '../lib/clock.js';
import { cpuMs, memoryKb } from '../lib/proc.js';
import type { CounterResult } from '../lib/loadgen-protocol.js';
import type { Target } from '../targets/types.js';
import type { CapacityRow } from './types.js';

export interface CapacityOptions {
  connections?: number;
  /** Load-generator processes (each holds connections / generators sockets). */
  generators?: number;
  /** Connects in flight per generator. */
  concurrency?: number;
  /** Connections opened and closed first, so runtime pools are warm before the baseline. */
  warmup?: number;
  probeMessages?: number;
  run?: number;
  cpuProfDir?: string;
}

export async function runCapacity(target: Target, o: CapacityOptions = {}): Promise<CapacityRow> {
  const connections = o.connections ?? 10_000;
  const generators = o.generators ?? Math.max(1, Math.ceil(connections / 8000));
  const probeMessages = o.probeMessages ?? 3;
  const base: CapacityRow = {
    scenario: 'capacity', target: target.name, run: o.run ?? 1, connections, opened: 0, failed: 0, connectPerSec: NaN, connectMs: NaN,
    baselineRssKb: NaN, rssKb: NaN, hwmKb: NaN, bytesPerConnection: NaN, probeMessages, probeExpected: 0, probeReceived: 0, alive: 0,
    serverCpuMsConnect: NaN, serverCpuUsPerConnect: NaN, heapBytesPerConnection: NaN, liveBytesPerConnection: NaN, probeP50Us: NaN, probeMaxUs: NaN,
  };
  try {
    return await withTarget(target, { generators, ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}) }, async (s) => {
      const pid = s.server.pid;
      const warm = await s.open(o.warmup ?? 500, { kind: 'single', topic: 'warm' }, { concurrency: o.concurrency ?? 100, timedStride: 1e9 });
      if (warm.failed > 0) throw new Error(`warm-up: ${warm.failed} connections failed: ${warm.firstError}`);
      await Promise.all(s.gens.map((g) => g.call({ op: 'close-all' })));
      await sleep(300);
      const heap0 = await s.server.gc();
      const baselineRssKb = memoryKb(pid).rssKb;
      const cpu0 = cpuMs(pid);
      const opened = await s.open(connections, { kind: 'single', topic: 'cap' }, {
        concurrency: o.concurrency ?? 100, timedStride: 1, distinctTokens: true, countPerConn: true, timeoutMs: 30_000,
      });
      const cpu1 = cpuMs(pid);
      await sleep(200);
      const heap1 = await s.server.gc();
      await sleep(100);
      const mem = memoryKb(pid);
      const heapBytesPerConnection = heap0 && heap1 ? (heap1.heapUsed + heap1.external - heap0.heapUsed - heap0.external) / Math.max(1, opened.opened) : NaN;
      const liveBytesPerConnection = heap0 && heap1
        ? (heap1.heapUsed - heap0.heapUsed + (heap1.rss - heap1.heapTotal) - (heap0.rss - heap0.heapTotal)) / Math.max(1, opened.opened)
        : ((mem.rssKb - baselineRssKb) * 1024) / Math.max(1, opened.opened);
      if (process.env['BENCH_DEBUG_MEM']) process.stderr.write(`${target.name} mem: ${JSON.stringify({ heap0, heap1, rssKb0: baselineRssKb, rssKb1: mem.rssKb })}\n`);
      await s.publisher();
      await Promise.all(s.gens.map((g) => g.call({ op: 'reset' })));
      await s.gens[0]!.call({ op: 'burst', topic: 'cap', count: probeMessages, gapMs: 50, payloadBytes: 64 });
      const expected = opened.opened * probeMessages;
      let counters: CounterResult[] = [];
      for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
        counters = await Promise.all(s.gens.map((g) => g.call<CounterResult>({ op: 'counter', minPerConn: probeMessages })));
        if (counters.reduce((a, c) => a + c.received, 0) >= expected) break;
        await sleep(50);
      }
      const connectMs = opened.elapsedMs;
      return {
        ...base,
        opened: opened.opened,
        failed: opened.failed,
        connectMs,
        connectPerSec: (opened.opened * 1000) / connectMs,
        baselineRssKb,
        rssKb: mem.rssKb,
        hwmKb: mem.hwmKb,
        bytesPerConnection: ((mem.rssKb - baselineRssKb) * 1024) / Math.max(1, opened.opened),
        heapBytesPerConnection,
        liveBytesPerConnection,
        probeExpected: expected,
        probeReceived: counters.reduce((a, c) => a + c.received, 0),
        alive: counters.reduce((a, c) => a + (c.connsReached ?? 0), 0),
        serverCpuMsConnect: cpu1 - cpu0,
        serverCpuUsPerConnect: ((cpu1 - cpu0) * 1000) / Math.max(1, opened.opened),
        probeP50Us: Math.max(...counters.map((c) => c.latency.p50)),
        probeMaxUs: Math.max(...counters.map((c) => c.latency.max)),
        ...(opened.firstError ? { error: `${opened.failed} failed: ${opened.firstError}` } : {}),
      };
    });
  } catch (err) {
    return { ...base, error: (err as Error).message.split('\n')[0]! };
  }
}
