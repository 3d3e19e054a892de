/** A tiny micro-benchmark harness: warm up, then time batches until `ms` has passed, 5 samples,
 * report the median ns/op. Bounded in time; results are plain objects for the report. */

export interface MicroResult { group: string; name: string; nsPerOp: number; opsPerSec: number; samples: number[] }

/** Prevents the optimiser from dropping a computation whose result is otherwise unused. */
export let sink: unknown;
export function consume(v: unknown): void { sink = v; }

export async function measure(group: string, name: string, fn: () => unknown | Promise<unknown>, options: { ms?: number; batch?: number; async?: boolean } = {}): Promise<MicroResult> {
  const batch = options.batch ?? 1000;
  const sampleMs = (options.ms ?? 1000) / 5;
  const runBatch = options.async
    ? async () => { for (let i = 0; i < batch; i++) await fn(); }
    : () => { for (let i = 0; i < batch; i++) fn(); };
  // Warm-up: a quarter of the budget, so the function is optimised before timing.
  const warmEnd = performance.now() + sampleMs;
  while (performance.now() < warmEnd) await runBatch();
  const samples: number[] = [];
  for (let s = 0; s < 5; s++) {
    let ops = 0;
    const t0 = performance.now();
    let t1 = t0;
    while (t1 - t0 < sampleMs) { await runBatch(); ops += batch; t1 = performance.now(); }
    samples.push(((t1 - t0) * 1e6) / ops);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const nsPerOp = sorted[2]!;
  return { group, name, nsPerOp, opsPerSec: 1e9 / nsPerOp, samples };
}

export function formatMicro(results: MicroResult[]): string {
  return results.map((r) => `${r.group.padEnd(14)} ${r.name.padEnd(58)} ${r.nsPerOp.toFixed(1).padStart(10)} ns/op ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(13)} ops/s`).join('\n');
}

/** Runs `suite` and prints its table when `file` (e.g. "codec.ts") is the process entry point. By
 * name, not import.meta.url: in a bundle every module shares the bundle's URL. */
export function runIfMain(file: string, suite: () => Promise<MicroResult[]>): void {
  if ((process.argv[1] ?? '').endsWith(`/micro/${file}`)) {
    suite().then((r) => process.stdout.write(formatMicro(r) + '\n'), (err) => { process.stderr.write(String(err?.stack ?? err) + '\n'); process.exitCode = 1; });
  }
}
