/** A config file that is not valid JSON: the error names the file and the position, never its
 * contents (V8's JSON.parse message quotes the text around the error, which can be a secret). */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '../../src/index.js';
import { cliInProcess } from '../helpers/cli.js';

t.test('cli - a malformed config file: the error names the file, never its contents', async (t) => {
  const key = generateSigningKey();
  const file = join(mkdtempSync(join(tmpdir(), 'tidings-config-')), 'config.json');
  writeFileSync(file, `{"auth": {"signingKeys": ["${key}",]}}`);
  const run = await cliInProcess(['serve', '--config', file]);
  t.equal(run.status, 1);
  t.match(run.stderr, /cannot read config file/);
  t.notOk(run.stderr.includes(key.slice(-6)), `no part of the signing key in: ${run.stderr.trim()}`);
});
