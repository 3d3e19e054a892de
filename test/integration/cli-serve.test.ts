/** `tidings serve --help` (and every command's --help) prints the usage; the port comes from PORT,
 * TIDINGS_PORT winning over it; a production start says how to mint the first key without printing
 * the signing key. */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { generateSigningKey } from '../../src/index.js';
import { cliInProcess as cli } from '../helpers/cli.js';

/** Starts `tidings serve` and resolves with the port it listens on and what it printed before. */
async function serveUntilListening(t: Test, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', ...args], {
    env: { ...process.env, TIDINGS_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  const printed: string[] = [];
  for await (const line of createInterface({ input: child.stdout! })) {
    printed.push(line);
    if (/^\s*(First API key|admin API key):/.test(line)) break;
  }
  // From the banner, not the log line: pino writes asynchronously, so the order of the two varies.
  const port = /Tidings listening on http:\/\/[^:]+:(\d+)/.exec(printed.join('\n'))?.[1];
  return { port: port === undefined ? undefined : Number(port), printed: printed.join('\n') };
}

t.test('cli - serve --help prints the usage; PORT is honoured, TIDINGS_PORT wins; production says how to mint the first key', async (t) => {
  const help = await cli(['serve', '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /tidings serve \[--port N\]/);
  t.match(help.stdout, /PORT/);
  t.equal((await cli(['token', '--help'])).status, 0, 'every command takes --help');

  // Two distinct free ports: both held open while picking, so the OS cannot hand out one twice.
  const { createServer } = await import('node:net');
  const holders = await Promise.all([0, 1].map(() => new Promise<import('node:net').Server>((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => resolve(s)); })));
  const [a, b] = holders.map((s) => (s.address() as { port: number }).port) as [number, number];
  await Promise.all(holders.map((s) => new Promise((resolve) => s.close(resolve))));
  const signingKey = generateSigningKey();
  const viaPort = await serveUntilListening(t, [], { PORT: String(a), TIDINGS_PORT: '', TIDINGS_SIGNING_KEY: signingKey });
  t.equal(viaPort.port, a, 'PORT alone sets the port');
  t.match(viaPort.printed, /First API key: TIDINGS_SIGNING_KEY=<the same key> npx tidings api-key/, 'production mode says how to mint the first API key');
  t.notMatch(viaPort.printed, new RegExp(signingKey), 'without ever printing the signing key');
  const both = await serveUntilListening(t, [], { PORT: String(a), TIDINGS_PORT: String(b), TIDINGS_SIGNING_KEY: signingKey });
  t.equal(both.port, b, 'TIDINGS_PORT wins over PORT');
});
