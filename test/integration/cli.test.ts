/** The `tidings` command: token and api-key mint credentials the server verifies; serve on embedded
 * defaults runs dev mode on loopback only, prints a working admin key, and drains on SIGTERM (exit 0);
 * bad flags and configs are refused with their exit codes. What only a process shows (the exit
 * status, signals, a serve that starts) runs `tsx src/main.ts`; the rest runs the same code in
 * process (test/helpers/cli.ts). The cases further down (--help and the port variables, integer
 * flags, config files, VAPID settings, an unreachable revoke) state their own guarantees above
 * their tests; each sits in a block of its own, with its helpers. */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import webpush from 'web-push';
import { RawClient } from '../helpers/raw-client.js';
import { cliInProcess, cliInProcess as cli, cliProcess } from '../helpers/cli.js';
import { generateSigningKey, systemClock, TokenAuthority, resolveConfig } from '../../src/index.js';
import { configFromEnv, readConfigFile } from '../../src/cli/env.js';

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
  t.match(bad.stderr, /`tidings signing-key` prints one/, 'and says where a good one comes from');
  const badPort = await cli(['serve', '--port', 'abc', '--dev']);
  t.equal(badPort.status, 2, 'a usage error, like every malformed flag');
  t.match(badPort.stderr, /--port must be an integer/);
  const outOfRange = await cli(['serve', '--port', '99999', '--dev']);
  t.equal(outOfRange.status, 1);
  t.match(outOfRange.stderr, /server\.port/, 'an integer out of range is the config check\'s');
});

/** Integer command-line flags take decimal digits only, like integer environment variables: an
 * empty value (`--port "$UNSET"`), hex, exponents and fractions are refused naming the flag,
 * instead of Number() reading '' as 0 (a random port) or '0x1F90' as 8080. */
{
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
}

/** A config file that is not valid JSON: the error names the file and the position, never its
 * contents (V8's JSON.parse message quotes the text around the error, which can be a secret). */
{
  t.test('cli - a malformed config file: the error names the file, never its contents', async (t) => {
    const key = generateSigningKey();
    const file = join(mkdtempSync(join(tmpdir(), 'tidings-config-')), 'config.json');
    writeFileSync(file, `{"auth": {"signingKeys": ["${key}",]}}`);
    const run = await cliInProcess(['serve', '--config', file]);
    t.equal(run.status, 1);
    t.match(run.stderr, /cannot read config file/);
    t.notOk(run.stderr.includes(key.slice(-6)), `no part of the signing key in: ${run.stderr.trim()}`);
  });
}

/** A config file whose JSON is not an object of known keys is refused with a one-line error naming
 * the key: `null`, an array, and keys every object inherits (`__proto__`, `constructor`,
 * `toString`), which must neither reach Object.prototype nor pass as known settings. */
{
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
}

/** VAPID settings are checked at startup: `tidings serve` with a malformed key pair or subject refuses to start
 * with one line naming the setting (never the key) and a non-zero exit, instead of starting and
 * then failing every push (each failure would remove a user's push subscription). */
{
  /** Runs `tidings serve` in process (test/helpers/cli.ts) until it refuses; one that starts instead
   * rejects after a bound, with what it printed. */
  function serve(env: Record<string, string>) {
    return cliInProcess(['serve', '--port', '0'], { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_VAPID_SUBJECT: 'mailto:ops@example.com', ...env });
  }

  t.test('cli - malformed VAPID keys or subject refuse to start, naming the setting, never the key', async (t) => {
    const good = webpush.generateVAPIDKeys();
    const cases: Array<[string, Record<string, string>, RegExp, string]> = [
      ['a private key that is not 32 bytes', { TIDINGS_VAPID_PUBLIC_KEY: good.publicKey, TIDINGS_VAPID_PRIVATE_KEY: 'notAVapidKeyButASecretSECRET' }, /push\.vapidPrivateKey/, 'notAVapidKeyButASecretSECRET'],
      ['a public key that is not 65 bytes', { TIDINGS_VAPID_PUBLIC_KEY: good.privateKey, TIDINGS_VAPID_PRIVATE_KEY: good.privateKey }, /push\.vapidPublicKey/, good.privateKey],
      ['keys with base64 padding', { TIDINGS_VAPID_PUBLIC_KEY: good.publicKey, TIDINGS_VAPID_PRIVATE_KEY: `${good.privateKey}=` }, /push\.vapidPrivateKey/, good.privateKey],
      ['a subject that is not a URL', { TIDINGS_VAPID_PUBLIC_KEY: good.publicKey, TIDINGS_VAPID_PRIVATE_KEY: good.privateKey, TIDINGS_VAPID_SUBJECT: 'https://' }, /push\.subject/, good.privateKey],
    ];
    // The first through `tidings serve` (exit 1, one line, nothing started); the others as serve
    // reads the environment, the same check and message.
    const [first, ...rest] = cases;
    const [name, env, setting, secret] = first!;
    const run = await serve(env);
    t.equal(run.status, 1, `${name}: exit 1`);
    t.match(run.stderr, setting, `${name}: the error names the setting`);
    t.equal(run.stderr.trim().split('\n').length, 1, `${name}: one line, no stack trace`);
    t.notOk(run.stderr.includes(secret.slice(0, 12)) || run.stdout.includes(secret.slice(0, 12)), `${name}: the key is not printed`);
    t.notMatch(run.stdout, /listening/, `${name}: the server did not start`);
    for (const [name, env, setting, secret] of rest) {
      const environment = { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_VAPID_SUBJECT: 'mailto:ops@example.com', ...env };
      let message = '';
      try {
        resolveConfig(configFromEnv(environment));
      } catch (err) {
        message = (err as Error).message;
      }
      t.match(message, setting, `${name}: refused, naming the setting`);
      t.notOk(message.includes(secret.slice(0, 12)), `${name}: the key is not in the message`);
    }
  });
}

/** `tidings revoke` against a server it cannot reach says which URL and why (exit 1), not just
 * "fetch failed". */
{
  t.test('cli revoke - an unreachable server: the URL and the cause', async (t) => {
    // A port that was just free: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const run = await cliInProcess(['revoke', '--token-id', 'dave', '--url', `http://127.0.0.1:${port}`], { TIDINGS_API_KEY: 'k' });
    t.equal(run.status, 1);
    t.equal(run.stderr, `revoke failed: cannot reach http://127.0.0.1:${port}/v1/revocations (ECONNREFUSED)\n`);
    t.equal(run.stdout, '');
  });
}

/** `tidings serve --help` (and every command's --help) prints the usage; the port comes from PORT,
 * TIDINGS_PORT winning over it; a production start says how to mint the first key without printing
 * the signing key. */
{
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
    for (const command of ['token', 'api-key', 'signing-key', 'revoke']) {
      const help = await cli([command, '--help']);
      t.equal(help.status, 0, `${command} --help`);
      t.match(help.stdout, /^usage:/, `${command} --help prints the usage`);
    }

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

  t.test('cli - the dev banner says where the dashboard is, or how to turn it on', async (t) => {
    const off = await serveUntilListening(t, ['--port', '0'], { TIDINGS_SIGNING_KEY: '', TIDINGS_ADMIN_TOKEN_IDS: '' });
    t.match(off.printed, /^\s*dashboard:\s+off: TIDINGS_ADMIN_TOKEN_IDS=admin turns it on for the admin API key$/m, 'off by default, and how to turn it on');
    const on = await serveUntilListening(t, ['--port', '0'], { TIDINGS_SIGNING_KEY: '', TIDINGS_ADMIN_TOKEN_IDS: 'admin' });
    t.match(on.printed, /^\s*dashboard:\s+http:\/\/127\.0\.0\.1:\d+\/admin \(paste the admin API key\)$/m, 'on: its URL');
    // The printed admin API key has tokenId admin: the dashboard would refuse it.
    const others = await serveUntilListening(t, ['--port', '0'], { TIDINGS_SIGNING_KEY: '', TIDINGS_ADMIN_TOKEN_IDS: 'ops,sre' });
    t.match(others.printed, /^\s*dashboard:\s+http:\/\/127\.0\.0\.1:\d+\/admin \(an API key of tokenId ops, sre; not the admin API key below\)$/m, 'on for other keys: which ones');
  });
}
