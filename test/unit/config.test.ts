import t from 'tap';
import { readFileSync } from 'node:fs';
import { DEFAULTS, resolveConfig } from '../../src/index.js';

function leafPaths(value: unknown, prefix = ''): string[] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

t.test('config - every key in DEFAULTS is documented in docs/configuration.md', async (t) => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const path of leafPaths(DEFAULTS)) t.ok(doc.includes(`\`${path}\``), `${path} is documented`);
});

t.test('config - defaults resolve (in dev mode) and are frozen', async (t) => {
  const config = resolveConfig({ dev: true });
  t.equal(config.server.port, DEFAULTS.server.port);
  t.ok(Object.isFrozen(config.server));
  t.throws(() => { (config.server as { port: number }).port = 1; });
});

t.test('config - unknown keys, wrong types and unbounded limits are refused with the key named', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ dev: true, server: { prot: 1 } }, /server\.prot: unknown key/],
    [{ dev: true, server: { port: '80' } }, /server\.port: must be a number/],
    [{ dev: true, server: { port: 70000 } }, /server\.port/],
    [{ dev: true, topics: { maxTopics: 0 } }, /topics\.maxTopics: must be a finite integer/],
    [{ dev: true, topics: { windowBytes: Infinity } }, /topics\.windowBytes/],
    [{ dev: true, server: { maxConnections: -1 } }, /server\.maxConnections/],
    [{ dev: true, server: { maxFrameBytes: 1000 } }, /topics\.maxValueBytes: must leave 4 KiB/],
    [{ dev: true, logLevel: 'loud' }, /logLevel/],
    [{ dev: false }, /auth\.signingKeys: at least one signing key is required/],
    [{ dev: true, auth: { signingKeys: ['too-short'] } }, /auth\.signingKeys\[0\]/],
    [{ dev: true, auth: 'none' }, /auth: must be an object/],
  ];
  for (const [input, message] of cases) t.throws(() => resolveConfig(input as never), { name: 'ConfigError', message }, JSON.stringify(input));
});
