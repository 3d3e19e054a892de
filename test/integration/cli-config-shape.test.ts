/** A config file whose JSON is not an object of known keys is refused with a one-line error naming
 * the key: `null`, an array, and keys every object inherits (`__proto__`, `constructor`,
 * `toString`), which must neither reach Object.prototype nor pass as known settings. */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, resolveConfig } from '../../src/index.js';
import { readConfigFile } from '../../src/cli/env.js';
import { cliInProcess } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tidings-config-shape-'));
let n = 0;
function cliWith(json: string, command: string[]) {
  const file = join(dir, `config-${n++}.json`);
  writeFileSync(file, json);
  // In process (test/helpers/cli.ts): exit code and output are all these cases observe.
  return cliInProcess([...command, '--config', file], { TIDINGS_SIGNING_KEY: generateSigningKey() });
}

/** The file as `tidings serve|api-key --config` reads it, then resolved: the error the CLI prints. */
function configError(json: string): string | undefined {
  const file = join(dir, `config-${n++}.json`);
  writeFileSync(file, json);
  try {
    resolveConfig({ ...readConfigFile(file), dev: true });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

t.test('cli - a config file that is not a JSON object, or names an inherited key, is refused in one line', async (t) => {
  // Through the CLI once each: exit 1, one line, nothing minted (the rest below read the file as it does).
  const notObject = await cliWith('[1, 2]', ['api-key']);
  t.equal(notObject.status, 1);
  t.match(notObject.stderr, /^tidings: cannot read config file .*: must be a JSON object\n$/, notObject.stderr);
  t.equal(notObject.stdout, '', 'nothing minted');
  const proto = await cliWith('{"__proto__": {"x": 1}}', ['api-key']);
  t.equal(proto.status, 1);
  t.equal(proto.stderr, 'tidings: config __proto__: unknown key\n');
  t.equal(proto.stdout, '', 'nothing minted');

  for (const json of ['null', '"text"', '7']) t.match(configError(json), /^cannot read config file .*: must be a JSON object$/, json);
  for (const [json, key] of [
    ['{"server": {"__proto__": {"port": 1}}}', 'server.__proto__'],
    ['{"constructor": {"name": "x"}}', 'constructor'],
    ['{"server": {"toString": 5}}', 'server.toString'],
  ] as const) t.equal(configError(json), `config ${key}: unknown key`, json);
  t.equal(({} as Record<string, unknown>)['x'], undefined, 'Object.prototype untouched');
});

t.test('config - inherited key names passed in code are unknown keys too', async (t) => {
  t.throws(() => resolveConfig({ constructor: 1 } as never), { message: /constructor: unknown key/ });
  t.throws(() => resolveConfig({ server: { hasOwnProperty: 1 } } as never), { message: /server\.hasOwnProperty: unknown key/ });
  t.throws(() => resolveConfig(JSON.parse('{"__proto__": {"logLevel": "debug"}}')), { message: /__proto__: unknown key/ });
  t.equal(({} as Record<string, unknown>)['x'], undefined, 'Object.prototype untouched');
});
