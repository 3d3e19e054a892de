/** What this machine charges a process for waking up, apart from any work: an idle Node process
 * sleeps N ms and wakes, again and again, and /proc-style CPU time (process.cpuUsage, the same
 * utime + stime the benches sum) is divided by the wake-ups. On bare metal that is a few µs; on a
 * VM it can be far more, and then a fixed-rate phase (few messages, every process idle between
 * them) measures wake-ups as much as work: each process that handles a message pays it once per
 * message (bench/redis-fanout.ts; docs/benchmarks-redis.md, "The fixed rate on this VM").
 *
 *   node --import tsx bench/wakeup-cost.ts [--core 0]
 *
 * Bounded: about 15 s; pins itself with taskset when --core is given. */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { core: { type: 'string' } } });
if (args.core !== undefined) {
  try { execFileSync('taskset', ['-pc', args.core, String(process.pid)], { stdio: 'ignore' }); } catch { /* unpinned */ }
}

const rows: string[] = ['| sleep between wake-ups | wake-ups | CPU µs charged per wake-up | of it user | wall µs per wake-up |', '|---:|---:|---:|---:|---:|'];
for (const ms of [0, 1, 2, 5, 10, 20]) {
  const count = ms === 0 ? 20_000 : Math.min(500, Math.round(3000 / ms));
  const before = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await new Promise((resolve) => (ms === 0 ? setImmediate(resolve) : setTimeout(resolve, ms)));
  const used = process.cpuUsage(before);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000 / count;
  rows.push(`| ${ms === 0 ? 'none (setImmediate: never sleeps)' : `${ms} ms`} | ${count} | ${((used.user + used.system) / count).toFixed(1)} | ${(used.user / count).toFixed(1)} | ${wallUs.toFixed(0)} |`);
}
console.log(rows.join('\n'));
