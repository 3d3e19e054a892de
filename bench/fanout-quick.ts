/** Quick, citable fan-out comparison: Tidings vs bare uWebSockets.js, 1 topic × 100 subscribers,
 * fixed rate (100k deliveries/s) and as fast as possible, medians of --runs (default 3).
 *   node --import tsx bench/fanout-quick.ts [--runs 3] [--subscribers 100] [--duration-ms 3000]
 */
import { parseArgs } from 'node:util';
import { targetByName } from './targets/index.js';
import { runFanout } from './scenarios/fanout.js';
import { median } from './lib/stats.js';
import { pairedRatio } from './lib/report.js';
import { placement } from './lib/harness.js';
import type { ThroughputRow } from './scenarios/types.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, subscribers: { type: 'string' }, 'duration-ms': { type: 'string' } } });
const runs = Number(values.runs ?? 3);
const subscribers = Number(values.subscribers ?? 100);
const durationMs = Number(values['duration-ms'] ?? 3000);
const names = ['tidings', 'bare-uws'];
const rows: ThroughputRow[] = [];
for (let run = 1; run <= runs; run++) {
  for (const name of names) {
    const r = await runFanout(targetByName(name), { subscribers, durationMs, run });
    for (const row of r) process.stderr.write(`run ${run} ${name} ${row.mode}: ${row.error ?? `${Math.round(row.deliveriesPerSec)} deliveries/s, ${row.serverCpuUsPerDelivery.toFixed(3)} µs CPU/delivery`}\n`);
    rows.push(...r);
  }
}
const pick = (t: string, mode: string, f: (r: ThroughputRow) => number) => median(rows.filter((r) => r.target === t && r.mode === mode && !r.error).map(f));
const out = [`Fan-out 1 topic × ${subscribers}, ${durationMs} ms per phase, median of ${runs} runs (${placement().note}).`, '',
  '| target | mode | deliveries/s | server CPU µs/delivery | p50 ms | p99 ms | lost | generator CPU % |', '|---|---|---:|---:|---:|---:|---:|---:|'];
for (const mode of ['rate', 'max']) {
  for (const t of names) {
    out.push(`| ${t} | ${mode === 'rate' ? 'fixed 100k/s' : 'max'} | ${Math.round(pick(t, mode, (r) => r.deliveriesPerSec)).toLocaleString('en-US')} | ${pick(t, mode, (r) => r.serverCpuUsPerDelivery).toFixed(3)} | ${(pick(t, mode, (r) => r.latency.p50) / 1000).toFixed(2)} | ${(pick(t, mode, (r) => r.latency.p99) / 1000).toFixed(2)} | ${pick(t, mode, (r) => r.lost)} | ${pick(t, mode, (r) => r.genCpuPct).toFixed(0)} |`);
  }
}
// Ratios per run (the two targets ran back to back), then the median and the range across runs.
for (const mode of ['rate', 'max']) {
  const same = rows.filter((r) => r.mode === mode);
  const cpu = pairedRatio(same, 'tidings', 'bare-uws', (r) => r.serverCpuUsPerDelivery);
  const tput = pairedRatio(same, 'tidings', 'bare-uws', (r) => r.deliveriesPerSec);
  out.push('', `${mode}: Tidings/bare-uWS server CPU per delivery = ${cpu.median.toFixed(2)}× (runs ${cpu.min.toFixed(2)}–${cpu.max.toFixed(2)}), deliveries/s = ${tput.median.toFixed(2)}× (runs ${tput.min.toFixed(2)}–${tput.max.toFixed(2)})`);
}
process.stdout.write(out.join('\n') + '\n');
