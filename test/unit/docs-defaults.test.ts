/** A default quoted beside its key anywhere in README.md or docs/ ("`server.heartbeatMs` (default
 * 15 s)", "`push.maxInFlight`, 16", "`auth.maxTokenTtlSec` (25 h)") is the one in DEFAULTS, in the
 * key's own unit; docs/configuration.md's table is checked by config.test.ts. Benchmark logs quote
 * what a run used and are left out. */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { DEFAULTS } from '../../src/core/config.js';

const root = new URL('../../', import.meta.url);
const files = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md') && !f.startsWith('benchmarks') && f !== 'configuration.md').map((f) => `docs/${f}`)];
const valueAt = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined), DEFAULTS);

const BYTES: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const SECONDS: Record<string, number> = { ms: 0.001, s: 1, min: 60, h: 3600 };
/** The documented amount in the key's unit (…Ms: milliseconds, …Sec: seconds, …Bytes: bytes). */
function inKeyUnit(path: string, amount: number, unit: string | undefined): number {
  if (unit === undefined) return amount;
  if (unit in BYTES) return amount * BYTES[unit]!;
  const seconds = amount * SECONDS[unit]!;
  return /Sec$/.test(path) ? seconds : Math.round(seconds * 1000);
}

t.test('defaults quoted beside their key match DEFAULTS', async (t) => {
  let quoted = 0;
  for (const file of files) {
    const text = readFileSync(new URL(file, root), 'utf8').replace(/\s*\n\s*/g, ' ');
    const pattern = /`([a-z]+\.[a-zA-Z]+)`(?: \((?:default )?|, (?:default )?)(\d{1,3}(?:[ ,]\d{3})+|\d+(?:\.\d+)?)(?: ?(KiB|MiB|GiB|ms|s|min|h))?(?=[),;:])/g;
    // Also a few words between the key and an explicit "(default …)" ("`moderation.bufferItems`
    // items (default 10 000)", "**`moderation.ackTimeoutMs`** (default 30 s)"), and "(1 h by default)".
    const apart = /`([a-z]+\.[a-zA-Z]+)`(?:\*\*)?(?: [a-z>]+(?: \d+)?)? {1,3}\((?:default (\d{1,3}(?:[ ,]\d{3})+|\d+(?:\.\d+)?)(?: ?(KiB|MiB|GiB|ms|s|min|h))?|(\d{1,3}(?:[ ,]\d{3})+|\d+(?:\.\d+)?)(?: ?(KiB|MiB|GiB|ms|s|min|h))? by default)\)/g;
    const near = [...text.matchAll(pattern)];
    const seen = new Set(near.map((m) => m.index));
    const found = [
      ...near.map(([, path, number, unit]) => [path, number, unit] as const),
      ...[...text.matchAll(apart)].filter((m) => !seen.has(m.index)).map(([, path, n1, u1, n2, u2]) => [path, n1 ?? n2, u1 ?? u2] as const),
    ];
    for (const [path, number, unit] of found) {
      const value = valueAt(path!);
      if (typeof value !== 'number') continue;
      quoted++;
      const amount = Number(number!.replace(/[ ,]/g, ''));
      t.equal(inKeyUnit(path!, amount, unit), value, `${file}: \`${path}\` ${number}${unit ? ` ${unit}` : ''}`);
    }
  }
  t.ok(quoted >= 40, `${quoted} defaults quoted`);
});

t.test('README\'s "Limits (defaults)" table matches DEFAULTS', async (t) => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const start = readme.indexOf('## Limits (defaults)');
  const table = readme.slice(start, readme.indexOf('\n## ', start + 1));
  let rows = 0;
  for (const [, cell, path] of table.matchAll(/^\| [^|]+ \| ([^|]+) \| `([a-zA-Z.]+)` \|$/gm)) {
    const m = /^(\d{1,3}(?: \d{3})+|\d+) ?(KiB|MiB|GiB|ms|s|min|h)?$/.exec(cell!.trim());
    t.ok(m, `${path}: "${cell!.trim()}" reads as an amount`);
    if (!m) continue;
    rows++;
    t.equal(inKeyUnit(path!, Number(m[1]!.replace(/ /g, '')), m[2]), valueAt(path!), `${path}: ${cell!.trim()}`);
  }
  // The resume-window row names three keys at once (topics.window*): checked by hand.
  t.ok(rows >= 8, `${rows} rows`);
});
