/** A config file whose JSON is not an object of known keys is refused with a one-line error naming
 * the key: `null`, an array, and keys every object inherits (`__proto__`, `constructor`,
 * `toString`), which must neither reach Object.prototype nor pass as known settings. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, resolveConfig } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tidings-config-shape-'));
let n = 0;
function cliWith(json: string, command: string[]) {
  const file = join(dir, `config-${n++}.json`);
  writeFileSync(file, json);
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...command, '--config', file], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, TIDINGS_SIGNING_KEY: generateSigningKey() },
  });
}

t.test('cli - a config file that is not a JSON object is refused, naming the file', async (t) => {
  for (const json of ['null', '[1, 2]', '"text"', '7']) {
    const run = cliWith(json, ['api-key']);
    t.equal(run.status, 1, json);
    t.match(run.stderr, /^tidings: cannot read config file .*: must be a JSON object\n$/, `${json}: ${run.stderr}`);
    t.equal(run.stdout, '', 'nothing minted');
  }
});

t.test('cli - inherited key names in a config file are unknown keys, not prototype writes', async (t) => {
  for (const [json, key] of [
    ['{"__proto__": {"x": 1}}', '__proto__'],
    ['{"server": {"__proto__": {"port": 1}}}', 'server.__proto__'],
    ['{"constructor": {"name": "x"}}', 'constructor'],
    ['{"server": {"toString": 5}}', 'server.toString'],
  ] as const) {
    const run = cliWith(json, ['api-key']);
    t.equal(run.status, 1, json);
    t.equal(run.stderr, `tidings: config ${key}: unknown key\n`, json);
    t.equal(run.stdout, '', 'nothing minted');
  }
});

t.test('config - inherited key names passed in code are unknown keys too', async (t) => {
  t.throws(() => resolveConfig({ constructor: 1 } as never), { message: /constructor: unknown key/ });
  t.throws(() => resolveConfig({ server: { hasOwnProperty: 1 } } as never), { message: /server\.hasOwnProperty: unknown key/ });
  t.throws(() => resolveConfig(JSON.parse('{"__proto__": {"logLevel": "debug"}}')), { message: /__proto__: unknown key/ });
  t.equal(({} as Record<string, unknown>)['x'], undefined, 'Object.prototype untouched');
});
