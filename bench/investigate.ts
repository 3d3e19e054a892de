/** Where does a server's CPU go? Runs one phase against one target with Linux `perf` attached to
 * the server process, then prints the split by binary (kernel / uWS / node / JIT) and the top
 * symbols (`--perf record`), or the syscalls it made per delivery (`--perf stat`).
 *   node --import tsx bench/investigate.ts --target tidings --scenario fanout --subscribers 1000 --mode max
 *   node --import tsx bench/investigate.ts --target tidings --scenario capacity --connections 10000
 *   node --import tsx bench/investigate.ts --target bare-uws --scenario many-topics --perf stat
 *   node --import tsx bench/investigate.ts --target tidings --subscribers 100 --publisher single
 * Needs `perf` (linux-perf) and permission to attach (root, or kernel.perf_event_paranoid <= 1). */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { withTarget } from './lib/harness.js';
import { targetByName } from './targets/index.js';
import { sleep } from './lib/clock.js';
import { hasCommand } from './lib/proc.js';
import { RAW_DIR } from './lib/bundle.js';
import { SINGLE_WINDOW } from './scenarios/throughput.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'tidings' }, scenario: { type: 'string', default: 'fanout' }, subscribers: { type: 'string', default: '1000' },
    mode: { type: 'string', default: 'max' }, connections: { type: 'string', default: '10000' }, perf: { type: 'string', default: 'record' },
    'duration-ms': { type: 'string', default: '3000' }, top: { type: 'string', default: '30' }, publisher: { type: 'string', default: 'batched' },
  },
});
if (!hasCommand('perf')) throw new Error('perf is not installed (apt-get install linux-perf)');
const mode = values.perf === 'stat' ? 'stat' : 'record';
const name = values.target!;
const out = join(RAW_DIR, `perf-${name}-${values.scenario}.${mode === 'stat' ? 'txt' : 'data'}`);
// JIT frames get names only with --perf-basic-prof on the Node server.
process.env['BENCH_SERVER_NODE_ARGS'] = `${process.env['BENCH_SERVER_NODE_ARGS'] ?? ''} --perf-basic-prof`;
const SYSCALLS = ['sendto', 'sendmsg', 'write', 'writev', 'recvfrom', 'read', 'epoll_wait', 'epoll_pwait', 'futex'].map((s) => `syscalls:sys_enter_${s}`);

function attach(pid: number) {
  const args = mode === 'stat' ? ['stat', '-x', ',', '-o', out, '-e', SYSCALLS.join(','), '-p', String(pid)] : ['record', '-F', '1999', '-g', '-p', String(pid), '-o', out];
  return spawn('perf', args, { stdio: 'ignore' });
}
async function detach(perf: ReturnType<typeof attach>) {
  perf.kill('SIGINT');
  await new Promise((r) => perf.once('exit', r));
}

const capacity = values.scenario === 'capacity';
let deliveries = 0;
await withTarget(targetByName(name), { generators: capacity ? 2 : 1 }, async (s) => {
  if (capacity) {
    await s.open(500, { kind: 'single', topic: 'warm' }, { timedStride: 1e9 });
    await Promise.all(s.gens.map((g) => g.call({ op: 'close-all' })));
    const perf = attach(s.server.pid);
    await sleep(300);
    const r = await s.open(Number(values.connections), { kind: 'single', topic: 'cap' }, { concurrency: 100, timedStride: 1e9, distinctTokens: true });
    await detach(perf);
    deliveries = r.opened;
    console.log(`${name}: ${r.opened} connections at ${Math.round((r.opened * 1000) / r.elapsedMs)}/s`);
    return;
  }
  const many = values.scenario === 'many-topics';
  const subs = many ? 1000 : Number(values.subscribers);
  const fanout = many ? 10 : subs;
  const topics = many ? Array.from({ length: 1000 }, (_, i) => `t${i}`) : ['fan'];
  const single = values.publisher === 'single';
  await s.open(subs, many ? { kind: 'spread', topics: 1000, perConn: 10 } : { kind: 'single', topic: 'fan' }, { timedStride: 40, single });
  await s.publisher(single);
  const window = single ? SINGLE_WINDOW : Math.max(4, Math.min(200, Math.floor(5000 / fanout)));
  const spec = { rate: 100_000 / fanout, maxMessages: 1e7, topics, fanout, payloadBytes: 64, window, publisher: single ? 'single' as const : 'batched' as const, drainMs: 2000 };
  await s.phase({ ...spec, mode: 'max', durationMs: 1000 }); // warm-up
  const perf = attach(s.server.pid);
  await sleep(300);
  const r = await s.phase({ ...spec, mode: values.mode === 'rate' ? 'rate' : 'max', durationMs: Number(values['duration-ms']) });
  await detach(perf);
  deliveries = r.received;
  console.log(`${name} ${values.scenario} ${values.mode}: ${Math.round(r.deliveriesPerSec)} deliveries/s, ${r.serverCpuUsPerDelivery.toFixed(3)} µs server CPU/delivery, server ${r.serverCpuPct.toFixed(0)}% (softirq ${r.serverCoreSoftirqPct.toFixed(0)}%), generator ${r.genCpuPct.toFixed(0)}%`);
});

if (mode === 'stat') {
  const per = values.scenario === 'capacity' ? 'connection' : 'delivery';
  for (const line of readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('syscalls:'))) {
    const [count, , event] = line.split(',');
    if (Number(count) > 0) console.log(`${event!.replace('syscalls:sys_enter_', '').padEnd(12)} ${count!.padStart(10)}  ${(Number(count) / deliveries).toFixed(3)} per ${per}`);
  }
} else {
  const report = (sort: string) => execFileSync('perf', ['report', '-i', out, '--stdio', '--no-children', '-g', 'none', '--sort', sort], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString().split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  console.log('by binary:\n' + report('dso').slice(0, 8).join('\n'));
  console.log(`top symbols:\n${report('dso,sym').slice(0, Number(values.top)).map((l) => l.slice(0, 160)).join('\n')}`);
  console.log(`(perf data: ${out}; perf report -i ${out})`);
}
