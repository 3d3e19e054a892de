/** `tidings serve` still stops on SIGTERM when the reader of its stdout (a log shipper, a pipe into
 * `head`) has gone: log lines that cannot be written are dropped, and the process exits (code 0)
 * instead of retrying the write forever on its way out. */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { generateSigningKey } from '../../src/index.js';

t.test('cli - SIGTERM stops serve whose stdout reader is gone', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0'], {
    env: { ...process.env, TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) if (/Tidings listening on/.test(line)) break;
  // The reader goes away: every later write to the pipe fails (EPIPE).
  lines.close();
  child.stdout!.destroy();
  await new Promise((r) => setTimeout(r, 200));

  child.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 30_000).unref())]);
  t.equal(code, 0, 'the process exited after its drain');
});
