/** A script that creates and closes clients exits (no timer or socket keeps it alive), in several
 * states: open with a subscription, reconnecting with queued requests, the http transport, a
 * hanging token provider. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from '../helpers/server.js';
import { chatScope } from '../helpers/sdk.js';

const script = fileURLToPath(new URL('../helpers/exit-script.ts', import.meta.url));

// One server for the file: each mode's script connects to it (or, 'down', to nothing) on its own.
const shared = startServer(t);
for (const mode of ['open', 'http', 'down', 'hang']) {
  t.test(`the process exits after close() (${mode})`, async (t) => {
    const server = await shared;
    const { token } = await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'exit' });
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, TIDINGS_TEST_EXIT_URL: server.httpUrl, TIDINGS_TEST_EXIT_TOKEN: token, TIDINGS_TEST_EXIT_MODE: mode }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    const started = Date.now();
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('killed after 20 s'); }, 20_000);
      child.once('exit', (c) => { clearTimeout(timer); resolve(c ?? -1); });
    });
    t.match(out, /DONE/, 'the script ran to its end');
    const done = Number(/DONE (\d+)/.exec(out)?.[1]);
    t.equal(code, 0, `exited by itself (${Date.now() - started} ms)`);
    t.comment(`exited ${Date.now() - done} ms after its last line`);
  });
}
