/** docs/client.md's option table is what the SDK does: every option of ConnectionOptions has a row,
 * and each default it states is the one in CONNECTION_DEFAULTS. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CONNECTION_DEFAULTS } from '../../../src/client/options.js';

const doc = readFileSync(new URL('../../../docs/client.md', import.meta.url), 'utf8');
const start = doc.indexOf('| option | default | meaning |');
const table = doc.slice(start, doc.indexOf('\n\n', start));
/** option name -> the default column, for rows naming one or two options (`a`, `b` | 1, 2 |). */
const rows = new Map<string, string>();
for (const m of table.matchAll(/^\| (`[^|]+) \| ([^|]+) \|/gm)) {
  const names = [...m[1]!.matchAll(/`(\w+)`/g)].map((n) => n[1]!);
  const defaults = names.length > 1 ? m[2]!.split(',') : [m[2]!];
  names.forEach((name, i) => rows.set(name, (defaults[i] ?? '').trim()));
}
/** The documented default as a value: `15 000` -> 15000, `8 MiB (8 388 608)` -> 8388608. */
function parse(text: string): unknown {
  const exact = text.match(/\(([\d ]+)\)/)?.[1] ?? text;
  if (/^\d[\d .]*$/.test(exact)) return Number(exact.replace(/ /g, ''));
  if (text === 'Infinity') return Infinity;
  if (text === 'true' || text === 'false') return text === 'true';
  return text.replace(/`/g, '');
}

t.test('every connection default is documented with its value', async (t) => {
  for (const [name, value] of Object.entries(CONNECTION_DEFAULTS)) {
    t.ok(rows.has(name), `${name} has a row`);
    t.equal(parse(rows.get(name) ?? ''), value, `${name}: ${rows.get(name)}`);
  }
});

t.test('the table names every option a client may pass, and only those', async (t) => {
  const source = readFileSync(new URL('../../../src/client/options.ts', import.meta.url), 'utf8');
  const body = source.slice(source.indexOf('export interface ConnectionOptions {'));
  const options = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!);
  t.ok(options.length > 10, `${options.length} options`);
  // defaultTtlSeconds is CacheClient's own (the table says so); the rest are ConnectionOptions.
  t.same(new Set([...rows.keys()].filter((n) => n !== 'defaultTtlSeconds')), new Set(options));
});
