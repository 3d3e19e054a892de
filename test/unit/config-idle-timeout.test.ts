/** server.idleTimeoutSec above 960 (uWS aborts the process past it) is a ConfigError, not a crash
 * at start. */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { resolveConfig, ConfigError } from '../../src/core/config.js';

t.test('server.idleTimeoutSec above uWS maximum (960) is a ConfigError, not a process abort', async (t) => {
  t.throws(() => resolveConfig({ dev: true, server: { idleTimeoutSec: 1000 } }), ConfigError);
  t.doesNotThrow(() => resolveConfig({ dev: true, server: { idleTimeoutSec: 960 } }));
  // What uWS does with the value the config let through:
  let status: number | null = 0;
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', "import uWS from 'uWebSockets.js'; uWS.App().ws('/*', { idleTimeout: 1000 });"], { stdio: 'pipe' });
  } catch (err) { status = (err as { status: number | null; signal: string }).signal === 'SIGABRT' ? -6 : (err as { status: number }).status; }
  t.equal(status, -6, 'uWS aborts the whole process on idleTimeout 1000');
});
