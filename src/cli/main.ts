/** The `tidings` commands (serve, token, api-key, signing-key, revoke) behind an explicit
 * argv/env/stdout/stderr, so src/main.ts is only the process around them. */
import { parseArgs } from 'node:util';
import { ExpiresIn, PermissionScopes, encodeMomentoCredential, type Scope } from '../protocol/index.js';
import { DEFAULTS, resolveConfig } from '../core/config.js';
import { systemClock } from '../core/clock.js';
import { TokenAuthority, generateSigningKey } from '../auth/tokens.js';
import { configFromEnv, mergePatches, parseInteger, readConfigFile, setPath } from './env.js';
import type { Logger } from '../core/logger.js';
import { hostPort } from '../lib/host-port.js';

const USAGE = `usage:
  tidings serve [--port N] [--host H] [--momento-port N] [--config file.json] [--dev]
      Start the broker. Without a signing key (TIDINGS_SIGNING_KEY or auth.signingKeys) it runs in
      dev mode: ephemeral key, an admin API key printed here, the demo page at / and its moderator.
      Port: --port, else TIDINGS_PORT, else PORT (what most hosts set), else 8080.
      --momento-port also starts the Momento-compatible gRPC listener (docs/momento-compat.md).
  tidings token --scope '<json>' [--expires-in SECONDS] [--token-id ID] [--momento] [--config file.json]
      Mint a disposable token (needs TIDINGS_SIGNING_KEY, or auth.signingKeys in --config). Scope JSON: {"permissions":[...]} (docs/tokens.md).
  tidings api-key [--scope '<json>'] [--expires-in SECONDS] [--token-id ID] [--momento] [--config file.json]
      Mint an API key (default scope: every cache and topic, read and write; never expires).
      --momento prints it in the form the official Momento SDKs accept: base64 {endpoint, api_key},
      endpoint = momento.endpoint (TIDINGS_MOMENTO_ENDPOINT) or host:momento-port.
  tidings signing-key
      Print a fresh random signing key.
  tidings revoke (--token-id ID | --jti JTI | --token TOKEN) [--until UNIX_MS|never] [--url http://HOST:PORT]
      Revoke credentials on a running server (POST /v1/revocations) with the admin API key in
      TIDINGS_API_KEY. Open connections using them are closed. --url defaults to http://127.0.0.1:8080.`;

/** Where a command reads its arguments and environment and writes its output: the process's own
 * from src/main.ts, or a test's (so cases observable through these alone run without a process). */
export interface CliIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Runs one `tidings` command and resolves with its exit code; an error it throws (a bad config)
 * is one line on stderr and exit code 1. A `serve` that starts never resolves: it owns the
 * process from then on (SIGINT/SIGTERM drain and exit it), so in-process callers use serve only
 * for starts that are refused. */
export async function runCli(io: CliIo): Promise<number> {
  try {
    return await command(io);
  } catch (err) {
    // A flag parseArgs refuses (unknown, missing its value, a stray argument) is a usage error,
    // exit 2 like a malformed integer flag; 1 stays for a configuration or a run that failed.
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`tidings: ${(err as Error).message} (tidings --help lists the commands and flags)\n`);
      return 2;
    }
    io.stderr.write(`tidings: ${(err as Error).message}\n`);
    return 1;
  }
}

async function command(io: CliIo): Promise<number> {
  const [command, ...rest] = io.argv;
  switch (command) {
    case 'serve': return serve(io, rest);
    case 'token': return mint(io, 'token', rest);
    case 'api-key': return mint(io, 'api-key', rest);
    case 'signing-key': {
      // Flags as for every command: --help prints the usage (not a key), anything else is a usage error.
      const { values } = parseArgs({ args: rest, strict: true, options: { help: { type: 'boolean', short: 'h' } } });
      io.stdout.write((values.help ? USAGE : generateSigningKey()) + '\n');
      return 0;
    }
    case 'revoke': return revoke(io, rest);
    case undefined: case '-h': case '--help': case 'help': io.stdout.write(USAGE + '\n'); return command ? 0 : 2;
    default: io.stderr.write(`unknown command "${command}"\n${USAGE}\n`); return 2;
  }
}

/** The dev banner's dashboard line: /admin answers 404 until admin.tokenIds names a key, so say how. */
function devDashboard(httpUrl: string, tokenIds: readonly string[]): string {
  if (tokenIds.includes('admin')) return `${httpUrl}/admin (paste the admin API key)`;
  if (tokenIds.length > 0) return `${httpUrl}/admin (an API key of tokenId ${tokenIds.join(', ')}; not the admin API key below)`;
  return 'off: TIDINGS_ADMIN_TOKEN_IDS=admin turns it on for the admin API key';
}

async function serve(io: CliIo, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'momento-port': { type: 'string' }, config: { type: 'string' }, dev: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { io.stdout.write(USAGE + '\n'); return 0; }
  const flags: Record<string, unknown> = {};
  const momentoPort = integerFlag(io, '--momento-port', values['momento-port']);
  const port = integerFlag(io, '--port', values.port);
  if (momentoPort === null || port === null) return 2;
  if (momentoPort !== undefined) {
    setPath(flags, 'momento.port', momentoPort);
    setPath(flags, 'momento.enabled', true);
  }
  if (port !== undefined) setPath(flags, 'server.port', port);
  if (values.host !== undefined) setPath(flags, 'server.host', values.host);
  if (values.dev) flags['dev'] = true;
  const patch = mergePatches(values.config ? readConfigFile(values.config) : {}, configFromEnv(io.env), flags);
  // Embedded defaults: with no signing key at all, run in dev mode rather than refuse to start,
  // on this machine only: dev mode mints tokens for anyone who asks (/dev/token) and prints an
  // admin key, so a server others can reach must have a key, or ask for dev mode by name.
  if (patch.dev === undefined && !(patch.auth?.signingKeys?.length)) {
    const host: unknown = patch.server?.host ?? DEFAULTS.server.host;
    // A host that is no host at all ('', a number) is the config check's to name, below.
    if (typeof host === 'string' && host.trim() !== '' && !isLoopback(host)) {
      io.stderr.write(`tidings: no signing key is set, and dev mode (an open token route, an admin key printed) is for this machine only; ` +
        `set TIDINGS_SIGNING_KEY (npx tidings signing-key prints one) to serve on ${host}, or pass --dev to run dev mode there anyway\n`);
      return 2;
    }
    patch.dev = true;
  }
  // The server's modules (uWebSockets.js, gRPC, Redis, pino) load only to serve: the other
  // commands, and a serve refused on its flags, start in about half the time without them.
  const [{ createServer }, { defaultFeatures }, { startDevModerator }] = await Promise.all([
    import('../server/app.js'), import('../features.js'), import('./dev-moderator.js'),
  ]);
  const server = await createServer({ config: patch }, defaultFeatures());
  let stopModerator: (() => Promise<void>) | undefined;
  if (server.config.dev) {
    try {
      stopModerator = await startDevModerator(server);
    } catch (err) {
      server.logger.warn({ err }, 'the demo page will not moderate: the demo moderator did not start');
    }
  }
  io.stdout.write(server.adminApiKey
    ? `\nTidings dev mode: ephemeral signing key; state is in memory.\n` +
      `  demo page:     ${server.httpUrl}/\n  websocket:     ${server.wsUrl}\n` +
      (server.momentoPort !== undefined ? `  gRPC (Momento SDKs): ${hostPort(server.host, server.momentoPort)}\n` : '') +
      `  dashboard:     ${devDashboard(server.httpUrl, server.config.admin.tokenIds)}\n` +
      `  admin API key: ${server.adminApiKey}\n\n`
    : `\nTidings listening on ${server.httpUrl} (websocket ${server.wsUrl}).\n` +
      (server.momentoPort !== undefined ? `  gRPC (Momento SDKs): ${hostPort(server.host, server.momentoPort)}\n` : '') +
      `  First API key: TIDINGS_SIGNING_KEY=<the same key> npx tidings api-key   (docs/tokens.md)\n\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // An operator who asks twice does not want to wait out server.shutdownGraceMs.
      server.logger.warn({ signal }, 'second signal: exiting without finishing the drain');
      exitAfterLogs(server.logger, 1);
      return;
    }
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    void (stopModerator?.() ?? Promise.resolve()).catch(() => {}).then(() => server.close()).then(() => exitAfterLogs(server.logger, 0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return new Promise<number>(() => {});
}

/** Whether `host` binds a loopback interface only (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** An integer flag's value (undefined when absent); null, with the reason on stderr, when it is not
 * decimal digits (cli/env.ts parseInteger says why Number() is not enough). */
function integerFlag(io: CliIo, flag: string, raw: string | undefined, what = 'an integer'): number | undefined | null {
  if (raw === undefined) return undefined;
  try {
    return parseInteger(flag, raw);
  } catch {
    io.stderr.write(`${flag} must be ${what}\n`);
    return null;
  }
}

/** Exits once the log lines written so far are out (core/logger.ts, whenLogsWritten): exiting
 * with one in flight to a stdout whose reader has gone would hang in pino's exit flush. */
function exitAfterLogs(logger: Logger, code: number): void {
  void import('../core/logger.js').then(({ whenLogsWritten }) => whenLogsWritten(logger, () => process.exit(code)));
}

async function mint(io: CliIo, kind: 'token' | 'api-key', args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: { scope: { type: 'string' }, 'expires-in': { type: 'string' }, 'token-id': { type: 'string' }, config: { type: 'string' }, momento: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { io.stdout.write(USAGE + '\n'); return 0; }
  const patch = mergePatches(values.config ? readConfigFile(values.config) : {}, configFromEnv(io.env));
  const config = resolveConfig({ ...patch, dev: true });
  if (config.auth.signingKeys.length === 0) {
    io.stderr.write('set TIDINGS_SIGNING_KEY (or auth.signingKeys in --config) to the key the broker verifies with\n');
    return 2;
  }
  const authority = new TokenAuthority(config.auth, config.auth.signingKeys, systemClock);
  let scope: Scope;
  if (values.scope !== undefined) {
    try { scope = JSON.parse(values.scope) as Scope; } catch { io.stderr.write('--scope must be JSON\n'); return 2; }
  } else if (kind === 'api-key') {
    scope = PermissionScopes.allDataReadWrite();
  } else {
    io.stderr.write('--scope is required for a disposable token\n'); return 2;
  }
  const expiresIn = integerFlag(io, '--expires-in', values['expires-in']);
  if (expiresIn === null) return 2;
  const expires = expiresIn !== undefined ? ExpiresIn.seconds(expiresIn) : kind === 'token' ? ExpiresIn.hours(1) : ExpiresIn.never();
  const options = { scope, expiresInSec: expires.seconds(), ...(values['token-id'] !== undefined ? { tokenId: values['token-id'] } : {}) };
  const minted = kind === 'token' ? await authority.mintDisposableToken(options) : await authority.mintApiKey(options);
  const printed = values.momento
    ? encodeMomentoCredential({ endpoint: config.momento.endpoint || hostPort(config.server.host, config.momento.port), apiKey: minted.token })
    : minted.token;
  io.stdout.write(printed + '\n');
  return 0;
}

async function revoke(io: CliIo, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args, strict: true,
    options: { 'token-id': { type: 'string' }, jti: { type: 'string' }, token: { type: 'string' }, until: { type: 'string' }, url: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { io.stdout.write(USAGE + '\n'); return 0; }
  // The key comes from the environment only: command lines are visible to every local user.
  const apiKey = io.env['TIDINGS_API_KEY'];
  if (!apiKey) { io.stderr.write('set TIDINGS_API_KEY to an admin API key of the server\n'); return 2; }
  const body: Record<string, unknown> = {};
  if (values['token-id'] !== undefined) body['tokenId'] = values['token-id'];
  if (values.jti !== undefined) body['jti'] = values.jti;
  if (values.token !== undefined) body['token'] = values.token;
  if (Object.keys(body).length !== 1) { io.stderr.write(`name exactly one of --token-id, --jti, --token\n${USAGE}\n`); return 2; }
  if (values.until !== undefined) {
    if (values.until !== 'never' && integerFlag(io, '--until', values.until, 'unix ms or "never"') === null) return 2;
    body['until'] = values.until === 'never' ? null : Number(values.until);
  }
  const url = `${(values.url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '')}/v1/revocations`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a TLS error) is its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    io.stderr.write(`revoke failed: cannot reach ${url} (${cause?.code ?? cause?.message ?? (err as Error).message})\n`);
    return 1;
  }
  const reply = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) {
    io.stderr.write(`revoke failed: ${response.status} ${reply.error ? `${reply.error.code}: ${reply.error.message}` : ''}\n`);
    return 1;
  }
  io.stdout.write(JSON.stringify(reply) + '\n');
  return 0;
}
