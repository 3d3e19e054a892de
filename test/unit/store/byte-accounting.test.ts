/** The store's byte bound is a bound on memory: a child process with --expose-gc fills stores and
 * reports retained heap + ArrayBuffer bytes against what the store accounted. */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SCENARIOS, type FillResult, type Measurement } from '../../helpers/store-footprint.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../helpers/store-footprint.ts', import.meta.url));

/** Runs the footprint script in a child with --expose-gc; one JSON result per output line. */
async function child<T>(...args: string[]): Promise<T[]> {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], { timeout: 90_000, maxBuffer: 1 << 20 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as T);
}

/** Stated overhead beyond store.maxBytes (docs/configuration.md, `store`): 5 % plus 1 MiB for the
 * LRU's bookkeeping arrays, which keep their peak size. */
const allowed = (maxBytes: number) => maxBytes * 1.05 + 1024 * 1024;

t.test('filling past the bound evicts LRU items and memory stays within maxBytes plus the stated overhead', async (t) => {
  const maxBytes = 32 * 1024 * 1024;
  const [r] = (await child<FillResult>('--fill', String(maxBytes))) as [FillResult];
  t.ok(r.written >= 3 * maxBytes, `wrote ${r.written} bytes of payload, 3x the bound`);
  t.ok(r.maxAccountedSeen <= maxBytes, `accounted bytes never passed maxBytes (peak ${r.maxAccountedSeen})`);
  t.notOk(r.firstKeyPresent, 'the least recently used item was evicted');
  t.ok(r.touchedKeyPresent, 'an item read now and then survived');
  t.ok(r.retained <= allowed(maxBytes), `retained ${r.retained} bytes ≤ ${Math.round(allowed(maxBytes))}`);
  t.ok(r.retained >= maxBytes * 0.5, `the measurement sees the data (${r.retained} bytes)`);
});

t.test('per-shape accounting is an upper estimate of real memory', async (t) => {
  const measured = await child<Measurement>(...Object.keys(SCENARIOS));
  t.equal(measured.length, Object.keys(SCENARIOS).length, 'every shape measured');
  for (const m of measured) {
    const scenario = m.scenario;
    t.ok(m.ratio <= 1, `${scenario}: retained/accounted = ${m.ratio.toFixed(3)}`);
    t.ok(m.ratio >= 0.6, `${scenario}: estimate not wildly high (${m.ratio.toFixed(3)})`);
  }
});
