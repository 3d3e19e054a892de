import t from 'tap';
import { spawnSync } from 'node:child_process';
import uWS from 'uWebSockets.js';
import { isNativeUws } from '../../src/index.js';

t.test('native build - the native uWebSockets.js addon is loaded, not the ws shim', async (t) => {
  t.ok(isNativeUws(), 'getParts (native only) is exported');
  t.equal(typeof (uWS as unknown as Record<string, unknown>)['getParts'], 'function');
  t.notOk(isNativeUws({ App: () => ({}), us_listen_socket_close: () => {} }), 'a shim-shaped module is detected');
});

t.test('native build - the server refuses to start on the fallback, with a clear message', async (t) => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0', '--dev'], {
    env: { ...process.env, UWS_USE_FALLBACK: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.equal(run.status, 1, 'exits with status 1');
  t.match(run.stderr, /native binary did not load/);
  t.notMatch(run.stdout, /tidings listening/);
});
