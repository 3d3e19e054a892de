/** Integer environment variables accept decimal digits only: blank, hex, binary, exponents and
 * fractions are refused, naming the variable. */
import t from 'tap';
import { configFromEnv } from '../../src/cli/env.js';

t.test('integer env vars refuse text that is not a decimal integer', async (t) => {
  for (const raw of [' ', '\t', '0x1F90', '1e3', '0b1', '8080.0', '+80']) {
    t.throws(() => configFromEnv({ TIDINGS_PORT: raw }), { message: /TIDINGS_PORT must be an integer/ }, JSON.stringify(raw));
  }
  t.same(configFromEnv({ TIDINGS_PORT: '8081' }), { server: { port: 8081 } });
});
