/** The `tidings` command: token and api-key mint credentials the server verifies; serve on embedded
 * defaults runs dev mode on loopback only, prints a working admin key, and drains on SIGTERM (exit 0);
 * bad flags and configs are refused with their exit codes. What only a process shows (the exit
 * status, signals, a serve that starts) runs `tsx src/main.ts`; the rest runs the same code in
 * process (test/helpers/cli.ts). */
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RawClient } from '../helpers/raw-client.js';
import { cliInProcess as cli, cliProcess } from '../helpers/cli.js';
import { generateSigningKey, systemClock, TokenAuthority, resolveConfig } from '../../src/index.js';

t.test('cli - token and api-key mint credentials the server verifies', async (t) => {
  const key = generateSigningKey();
  const config = resolveConfig({ auth: { signingKeys: [key] } });
  const authority = new TokenAuthority(config.auth, [key], systemClock);
  const scope = JSON.stringify({ permissions: [{ role: 'subscribeonly', cache: 'chat', topic: 'lobby' }] });
  const token = await cli(['token', '--scope', scope, '--expires-in', '120', '--token-id', 'cli-user'], { TIDINGS_SIGNING_KEY: key });
  t.equal(token.status, 0, token.stderr);
  const grant = await authority.verify(token.stdout.trim());
  t.equal(grant.kind, 'disposable');
  t.equal(grant.tokenId, 'cli-user');
  t.ok(grant.permissions.allowsTopic('subscribe', 'chat', 'lobby'));
  t.notOk(grant.permissions.allowsTopic('publish', 'chat', 'lobby'));
  t.ok(grant.expiresAt! > Date.now() + 100_000 && grant.expiresAt! <= Date.now() + 121_000);

  const apiKey = await cli(['api-key'], { TIDINGS_SIGNING_KEY: key });
  t.equal(apiKey.status, 0, apiKey.stderr);
  const keyGrant = await authority.verify(apiKey.stdout.trim());
  t.equal(keyGrant.kind, 'api_key');
  t.equal(keyGrant.expiresAt, null);

  const noKey = await cli(['token', '--scope', scope], { TIDINGS_SIGNING_KEY: '' });
  t.equal(noKey.status, 2);
  t.match(noKey.stderr, /TIDINGS_SIGNING_KEY/);
  const badScope = await cli(['token', '--scope', '{"permissions":[{"role":"root"}]}'], { TIDINGS_SIGNING_KEY: key });
  t.equal(badScope.status, 1);
  t.match(badScope.stderr, /role must be one of/);
  const unknown = cliProcess(['frobnicate']);
  t.equal(unknown.status, 2, 'the process exits with the command\'s code');
  t.match(unknown.stderr, /unknown command "frobnicate"/);
});

t.test('cli - serve on embedded defaults starts dev mode and prints a working admin API key', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0'], {
    env: { ...process.env, TIDINGS_SIGNING_KEY: '', TIDINGS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  const lines = createInterface({ input: child.stdout! });
  let wsUrl: string | undefined;
  let adminKey: string | undefined;
  const output: string[] = [];
  for await (const line of lines) {
    output.push(line);
    wsUrl ??= /websocket:\s+(\S+)/.exec(line)?.[1];
    adminKey ??= /admin API key:\s+(\S+)/.exec(line)?.[1];
    if (wsUrl && adminKey) break;
  }
  t.ok(wsUrl && adminKey, 'prints the websocket URL and an admin key');
  const logLines = output.filter((l) => l.startsWith('{'));
  t.ok(logLines.every((l) => !l.includes(adminKey!)), 'the key is printed for the operator, never inside a log line');
  const c = await RawClient.connect(wsUrl!);
  const hello = await c.request({ t: 'hello', versions: [1], token: adminKey });
  t.equal(hello['t'], 'ok');
  await c.ok({ t: 'sub', cache: 'demo', topic: 'x' });
  await c.ok({ t: 'pub', cache: 'demo', topic: 'x', value: 'it works' });
  t.equal((await c.items(1))[0]!['value'], 'it works');
  child.kill('SIGTERM');
  const bye = await c.next((f) => f['t'] === 'bye');
  t.match(bye, { code: 4000, reconnect: true }, 'SIGTERM tells clients the server is shutting down');
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 0, 'exits cleanly');
});

t.test('cli - without a signing key, serve runs dev mode on a loopback host only; elsewhere it refuses unless --dev is given', async (t) => {
  // Dev mode mints tokens for anyone (/dev/token) and prints an admin key: not implied for a server others can reach.
  for (const [args, env] of [[['--host', '0.0.0.0'], {}], [[], { TIDINGS_HOST: '::' }]] as const) {
    const refused = await cli(['serve', '--port', '0', ...args], { TIDINGS_SIGNING_KEY: '', ...env });
    t.equal(refused.status, 2, `refused: ${JSON.stringify({ args, env })}`);
    t.match(refused.stderr, /no signing key.*TIDINGS_SIGNING_KEY.*--dev/s, 'says how to go on');
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0', '--host', '0.0.0.0', '--dev'], {
    env: { ...process.env, TIDINGS_SIGNING_KEY: '', TIDINGS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let page: string | undefined;
  for await (const line of createInterface({ input: child.stdout! })) if ((page = /demo page:\s+(\S+)/.exec(line)?.[1])) break;
  t.ok(page, 'with --dev it serves dev mode on that host');
});

t.test('cli - a config file and env vars configure serve; a bad config refuses to start', async (t) => {
  const bad = await cli(['serve', '--port', '0'], { TIDINGS_SIGNING_KEY: 'short' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, /auth\.signingKeys\[0\]: must be base64url text of at least 32 bytes/);
  const badPort = await cli(['serve', '--port', 'abc', '--dev']);
  t.equal(badPort.status, 2, 'a usage error, like every malformed flag');
  t.match(badPort.stderr, /--port must be an integer/);
  const outOfRange = await cli(['serve', '--port', '99999', '--dev']);
  t.equal(outOfRange.status, 1);
  t.match(outOfRange.stderr, /server\.port/, 'an integer out of range is the config check\'s');
});

