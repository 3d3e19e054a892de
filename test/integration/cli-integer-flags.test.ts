/** Integer command-line flags take decimal digits only, like integer environment variables: an
 * empty value (`--port "$UNSET"`), hex, exponents and fractions are refused naming the flag,
 * instead of Number() reading '' as 0 (a random port) or '0x1F90' as 8080. */
import t from 'tap';
import { generateSigningKey } from '../../src/index.js';
import { cliInProcess } from '../helpers/cli.js';

// In process (test/helpers/cli.ts): exit code and output are all these cases observe.
const cli = (args: string[]) => cliInProcess(args, { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_API_KEY: 'k' });
const scope = JSON.stringify({ permissions: [{ role: 'readonly', cache: 'c' }] });

t.test('cli - integer flags refuse what is not a decimal integer', async (t) => {
  // Each flag and each kind of bad value once (the value grammar itself is parseInteger's, unit
  // tested in test/unit/env-integers.test.ts): what this proves is that every flag goes through it.
  const cases: Array<[string, string, string[]]> = [
    ['--port', '', ['serve', '--port', '']],
    ['--port', '0x1F90', ['serve', '--port', '0x1F90']],
    ['--momento-port', '1e3', ['serve', '--port', '0', '--momento-port', '1e3']],
    ['--expires-in', '80.5', ['token', '--scope', scope, '--expires-in', '80.5']],
    ['--until', ' ', ['revoke', '--token-id', 'x', '--url', 'http://127.0.0.1:1', '--until', ' ']],
  ];
  for (const [flag, raw, args] of cases) {
    const run = await cli(args);
    t.equal(run.status, 2, `${flag} ${JSON.stringify(raw)}`);
    t.match(run.stderr, new RegExp(`^${flag} must be `), `${flag} ${JSON.stringify(raw)}: ${run.stderr.trim()}`);
    t.equal(run.stdout, '', 'nothing started or minted');
  }
});
