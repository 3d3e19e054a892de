/** Benchmark suite: Tidings vs bare uWebSockets.js and the peers, same machine, medians of runs.
 *   npm run bench                      quick suite (a few minutes on 2 cores), writes docs/benchmarks.md
 *   npm run bench -- --full            longer phases, more runs, more connections
 *   npm run bench -- --scenario fanout --target tidings,bare-uws --runs 1   (prints, no docs/ write)
 * Options: --scenario fanout|many-topics|capacity|history|moderated|micro (comma list), --target
 * NAMES, --runs N, --out FILE, --duration-ms MS, --subscribers 100,1000, --connections N,
 * --modes rate,max, --rate DELIVERIES_PER_S, --publisher batched,single (fan-out regimes), --profile (V8 CPU profile of the Tidings server),
 * --from bench/results/raw/<time>.json (re-render the report from saved results, no run). */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets/index.js';
import type { Target } from './targets/types.js';
import { runFanout } from './scenarios/fanout.js';
import { runManyTopics } from './scenarios/many-topics.js';
import { runCapacity } from './scenarios/capacity.js';
import { runExtra } from './scenarios/extras.js';
import type { CapacityRow, ThroughputRow } from './scenarios/types.js';
import { placement } from './lib/harness.js';
import { machineInfo } from './lib/machine.js';
import { bundlePath, RAW_DIR } from './lib/bundle.js';
import { chartSvg, renderReport, type SuiteResult } from './lib/report.js';
import { formatProfile, summarizeProfile } from './lib/cpuprofile.js';
import { pinned } from './lib/proc.js';
import type { MicroResult } from './micro/harness.js';

const SCENARIOS = ['fanout', 'many-topics', 'capacity', 'history', 'moderated', 'micro'] as const;
type Scenario = (typeof SCENARIOS)[number];
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOISY_FOREIGN_PCT = 25;
/** Debian package of each peer that is not an npm dependency. */
const APT_PACKAGE: Record<string, string> = { nats: 'nats-server', redis: 'redis-server', mosquitto: 'mosquitto' };

const { values } = parseArgs({
  options: {
    full: { type: 'boolean' }, scenario: { type: 'string' }, target: { type: 'string' }, runs: { type: 'string' },
    out: { type: 'string' }, 'duration-ms': { type: 'string' }, subscribers: { type: 'string' }, connections: { type: 'string' },
    modes: { type: 'string' }, rate: { type: 'string' }, profile: { type: 'boolean' }, from: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    'no-install': { type: 'boolean' }, publisher: { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write('see the header of bench/run.ts and bench/README.md\n');
  process.exit(0);
}

if (values.from) {
  // Re-render a saved run (e.g. after editing bench/analysis.md): no benchmark runs.
  const saved = JSON.parse(readFileSync(values.from, 'utf8')) as SuiteResult;
  const out = resolve(fileURLToPath(new URL('..', import.meta.url)), values.out ?? 'docs/benchmarks.md');
  const chart = join(dirname(out), `${basename(out, '.md')}.svg`);
  writeFileSync(chart, chartSvg(saved));
  writeFileSync(out, renderReport(saved, basename(chart), fileURLToPath(new URL('./analysis.md', import.meta.url))));
  process.stderr.write(`re-rendered ${out} and ${chart} from ${values.from}\n`);
  process.exit(0);
}

const full = values.full ?? false;
const custom = values.scenario !== undefined || values.target !== undefined;
const scenarios = (values.scenario?.split(',') ?? [...SCENARIOS]) as Scenario[];
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
const wanted = values.target?.split(',');
for (const t of wanted ?? []) if (!TARGETS.some((x) => x.name === t)) throw new Error(`unknown target "${t}" (known: ${TARGETS.map((x) => x.name).join(', ')})`);
const runs = Number(values.runs ?? (full ? 5 : 3));
const durationMs = Number(values['duration-ms'] ?? (full ? 3000 : 1000));
const fanoutSubs = (values.subscribers ?? '100,1000').split(',').map(Number);
const connections = Number(values.connections ?? (full ? 18_000 : 10_000));
const rateDeliveries = Number(values.rate ?? 100_000);
const explicitModes = values.modes?.split(',') as Array<'rate' | 'max'> | undefined;
// Fan-out publisher regimes, reported side by side: `batched` (bursts, one write each) and
// `single` (a `ws` package publisher, one message per write, 64 in flight, decoding subscribers).
const publishers = (values.publisher ?? 'batched,single').split(',') as Array<'batched' | 'single'>;
for (const p of publishers) if (p !== 'batched' && p !== 'single') throw new Error(`unknown publisher "${p}" (known: batched, single)`);
const outFile = values.out ?? (custom ? undefined : 'docs/benchmarks.md');
const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// Quick: fixed rate only where the latency target is read (fan-out 1 × 100); --full: everywhere.
const modesFor = (scenario: string, subs: number): Array<'rate' | 'max'> =>
  explicitModes ?? (full || (scenario === 'fanout' && subs <= 100) ? ['rate', 'max'] : ['max']);

installMissingPeers();

const skipped: SuiteResult['skipped'] = [];
const targets: Target[] = [];
for (const t of TARGETS) {
  if (wanted && !wanted.includes(t.name)) continue;
  const reason = t.unavailable();
  if (reason) { skipped.push({ target: t.name, reason }); log(`skipping ${t.name}: ${reason}`); } else targets.push(t);
}

const started = Date.now();
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileBase = values.profile ? join(RAW_DIR, 'profiles', stamp) : undefined;
const profDir = (t: Target, label: string) => (profileBase && t.name === 'tidings' ? join(profileBase, label) : undefined);
const throughput: ThroughputRow[] = [];
const capacity: CapacityRow[] = [];
await bundlePath('loadgen');

function noisy(rows: ThroughputRow[]): boolean {
  return rows.some((r) => Math.max(r.serverCoreForeignPct ?? 0, r.genCoreForeignPct ?? 0) > NOISY_FOREIGN_PCT);
}
const otherLoad = (rows: ThroughputRow[]) => Math.max(0, ...rows.map((r) => Math.max(r.serverCoreForeignPct ?? 0, r.genCoreForeignPct ?? 0)));
async function once<T extends ThroughputRow[]>(label: string, fn: () => Promise<T>): Promise<T> {
  let rows = await fn();
  // Other processes on the machine took a large share of a pinned core: run it once more and
  // keep the quieter of the two (the report's "other load %" column shows what remained).
  if (noisy(rows)) {
    log(`${label}: other load on the cores, running again`);
    const again = await fn();
    if (otherLoad(again) < otherLoad(rows)) rows = again;
  }
  for (const r of rows) {
    log(`${label} ${r.mode}: ${r.error ? `ERROR ${r.error}` : `${Math.round(r.deliveriesPerSec).toLocaleString('en-US')} deliveries/s, ${r.serverCpuUsPerDelivery?.toFixed(3)} µs CPU/delivery, p99 ${(r.latency.p99 / 1000).toFixed(2)} ms, lost ${r.lost}, gen ${r.genCpuPct?.toFixed(0)}%`}`);
  }
  return rows;
}

for (let run = 1; run <= runs; run++) {
  for (const scenario of scenarios) {
    for (const t of targets) {
      const label = `run ${run}/${runs} ${scenario} ${t.name}`;
      if (scenario === 'fanout') {
        for (const publisher of publishers) {
          for (const subs of fanoutSubs) {
            const p = profDir(t, `fanout-${subs}-${publisher}-run${run}`);
            throughput.push(...await once(`${label} 1×${subs} ${publisher}`, () => runFanout(t, { subscribers: subs, publisher, modes: modesFor('fanout', subs), durationMs, rateDeliveries, run, ...(p ? { cpuProfDir: p } : {}) })));
          }
        }
      } else if (scenario === 'many-topics') {
        const p = profDir(t, `many-topics-run${run}`);
        throughput.push(...await once(label, () => runManyTopics(t, { modes: modesFor('many-topics', 10), durationMs, rateDeliveries, run, ...(p ? { cpuProfDir: p } : {}) })));
      } else if (scenario === 'capacity') {
        const p = profDir(t, `capacity-run${run}`);
        const row = await runCapacity(t, { connections, run, ...(p ? { cpuProfDir: p } : {}) });
        log(`${label}: ${row.error ? `ERROR ${row.error} ` : ''}${row.alive}/${row.opened} alive, ${Math.round(row.connectPerSec)} connects/s, ${Math.round(row.bytesPerConnection)} B/conn RSS, ${Math.round(row.heapBytesPerConnection)} B/conn heap`);
        capacity.push(row);
      }
    }
  }
}

const extra: SuiteResult['extra'] = [];
for (const name of ['history', 'moderated'] as const) {
  if (!scenarios.includes(name)) continue;
  log(`${name}…`);
  extra.push(await runExtra(name, { full, quick: !full, runs, targets: targets.map((t) => t.name), log }));
}

let micro: MicroResult[] = [];
if (scenarios.includes('micro')) {
  log('micro-benchmarks…');
  const [cmd, args] = pinned(placement().serverCpus, process.execPath, [await bundlePath('micro-all'), '--json', '--ms', full ? '1000' : '300']);
  micro = JSON.parse(execFileSync(cmd, args, { cwd: ROOT, maxBuffer: 16 << 20, timeout: 300_000 }).toString()) as MicroResult[];
}

const profiles: SuiteResult['profiles'] = [];
if (profileBase) {
  for (const dir of readdirSync(profileBase)) {
    // Default --cpu-prof names are CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile; tid 0 = main thread.
    for (const file of readdirSync(join(profileBase, dir)).filter((f) => f.split('.')[4] === '0')) {
      const path = join(profileBase, dir, file);
      profiles.push({ label: `${dir} (${relative(ROOT, path)})`, summary: formatProfile(summarizeProfile(path, 20)) });
    }
  }
}

const parameters: Record<string, string> = {
  'Phase length': `${durationMs} ms per measured phase, after an unmeasured 200 ms full-speed warm-up phase (JIT); drain up to 2 s`,
  'Fan-out': `1 topic × ${fanoutSubs.join(' and × ')} subscribers; publisher regimes: ${publishers.join(', ')} (batched: bursts of half the in-flight window, each burst one write; single: a \`ws\` package publisher, one message per write, at most 64 messages in flight, subscribers decoding each message as an application would: msgpackr for Tidings, JSON.parse for socket.io, the peers' own stream parsers)`,
  'Many topics': '1,000 topics × 10 subscribers: 1,000 connections holding 10 subscriptions each; the publisher cycles through the topics',
  'Capacity': `${connections.toLocaleString('en-US')} connections on one topic, split over ${Math.max(1, Math.ceil(connections / 8000))} generator processes`,
};
const result: SuiteResult = {
  machine: machineInfo(),
  placement: placement().note,
  mode: custom ? 'custom' : full ? 'full' : 'quick',
  runs,
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  durationSec: (Date.now() - started) / 1000,
  versions: targets.map((t) => ({ target: t.name, describe: t.describe, version: t.version() })),
  skipped,
  throughput,
  capacity,
  micro,
  extra,
  profiles,
  parameters,
};

mkdirSync(RAW_DIR, { recursive: true });
const rawFile = join(RAW_DIR, `${stamp}.json`);
writeFileSync(rawFile, JSON.stringify(result, null, 1));
const analysis = fileURLToPath(new URL('./analysis.md', import.meta.url));
if (outFile) {
  const out = resolve(ROOT, outFile);
  const chart = join(dirname(out), `${basename(out, '.md')}.svg`);
  writeFileSync(chart, chartSvg(result));
  writeFileSync(out, renderReport(result, basename(chart), analysis));
  log(`wrote ${relative(ROOT, out)}, ${relative(ROOT, chart)} and ${relative(ROOT, rawFile)} in ${Math.round(result.durationSec)} s`);
} else {
  process.stdout.write(renderReport(result, 'benchmarks.svg', '/nonexistent') + '\n');
  log(`raw results in ${relative(ROOT, rawFile)}; ${Math.round(result.durationSec)} s`);
}

/** The peers come from Debian's packages: as root with apt-get, install the missing ones first
 * (--no-install to skip); otherwise they are reported as skipped with the reason. */
function installMissingPeers(): void {
  if (values['no-install'] || process.getuid?.() !== 0) return;
  const packages = TARGETS.filter((t) => (!wanted || wanted.includes(t.name)) && t.unavailable() !== undefined && APT_PACKAGE[t.name])
    .map((t) => APT_PACKAGE[t.name]!);
  if (packages.length === 0) return;
  log(`installing missing peers with apt-get: ${packages.join(' ')}`);
  try {
    execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages.join(' ')}`], { stdio: 'ignore', timeout: 300_000 });
  } catch (err) {
    log(`could not install ${packages.join(' ')}: ${(err as Error).message.split('\n')[0]}`);
  }
}
