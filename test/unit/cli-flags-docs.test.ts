/** docs/configuration.md's "Flags:" list names exactly the flags `tidings serve` accepts. */
import t from 'tap';
import { readFileSync } from 'node:fs';

const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
const main = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8');

t.test('the flags documented for serve are the ones it parses', async (t) => {
  const line = doc.split('\n').find((l) => l.startsWith('Flags:'));
  t.ok(line, 'docs/configuration.md has a "Flags:" line');
  const documented = new Set([...line!.matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1]!));
  const serve = main.slice(main.indexOf('async function serve('));
  const options = serve.slice(serve.indexOf('options: {'), serve.indexOf('\n', serve.indexOf('options: {')));
  const parsed = new Set([...options.matchAll(/'?([a-z][a-z-]*)'?: \{ type:/g)].map((m) => `--${m[1]!}`));
  t.ok(parsed.size >= 5, `serve parses ${[...parsed].join(' ')}`);
  t.same(documented, parsed);
});

t.test('every flag a command parses is in the usage text (tidings --help)', async (t) => {
  const usage = main.slice(main.indexOf('const USAGE = `'), main.indexOf('`;', main.indexOf('const USAGE = `')));
  const parsed = new Set([...main.matchAll(/options: \{([^\n]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/'?([a-z][a-z-]*)'?: \{ type:/g)].map((f) => `--${f[1]!}`)));
  parsed.delete('--help');
  t.ok(parsed.size >= 10, `the commands parse ${[...parsed].join(' ')}`);
  for (const flag of parsed) t.ok(usage.includes(flag), `${flag} is in the usage`);
});
