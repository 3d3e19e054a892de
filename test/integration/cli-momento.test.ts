/** `tidings serve --momento-port N` (and TIDINGS_MOMENTO_PORT) starts the Momento-compatible gRPC
 * listener: the official Node SDK pings, sets and gets through the process the CLI started. A
 * --momento-port that is in use stops the start with one line on stderr, ours (naming the port,
 * the flag and the variable), and exit code 1. */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createServer, type Server } from 'node:net';
import { CacheClient, Configurations, CredentialProvider, NoopMomentoLoggerFactory } from '@gomomento/sdk';
import { InternalNodeGrpcPingClient } from '@gomomento/sdk/dist/src/internal/ping-client.js';
import { TokenAuthority, encodeMomentoCredential, generateSigningKey } from '../../src/index.js';
import { DEFAULTS } from '../../src/core/config.js';
import { systemClock } from '../../src/core/clock.js';

/** Free ports, all held open while picking so the OS cannot hand out one twice. */
async function freePorts(n: number): Promise<number[]> {
  const holders = await Promise.all(Array.from({ length: n }, () => new Promise<Server>((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => resolve(s)); })));
  const ports = holders.map((s) => (s.address() as { port: number }).port);
  await Promise.all(holders.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Starts `tidings serve` and resolves with what its banner printed (the process dies with the test). */
async function serve(t: Test, args: string[], env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', ...args], {
    env: { ...process.env, TIDINGS_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  const printed: string[] = [];
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  for await (const line of createInterface({ input: child.stdout! })) {
    printed.push(line);
    if (/First API key:/.test(line)) break;
  }
  clearTimeout(timer);
  return printed.join('\n');
}

async function pingSetGet(t: Test, signingKey: string, momentoPort: number): Promise<void> {
  const auth = new TokenAuthority(DEFAULTS.auth, [signingKey], systemClock);
  const { token } = await auth.mintApiKey({ scope: { permissions: [{ role: 'readwrite', cache: '*' }] }, expiresInSec: null, tokenId: 'cli-test' });
  const endpoint = `127.0.0.1:${momentoPort}`;
  const credentialProvider = CredentialProvider.fromString({
    apiKey: encodeMomentoCredential({ endpoint, apiKey: token }),
    endpointOverrides: { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false },
  });
  const cache = await CacheClient.create({ configuration: Configurations.Laptop.v1(new NoopMomentoLoggerFactory()), credentialProvider, defaultTtlSeconds: 60 });
  t.teardown(() => cache.close());
  // The SDK's own ping client (it resolves, or rejects with the gRPC error).
  const configuration = Configurations.Laptop.v1(new NoopMomentoLoggerFactory());
  await t.resolves(new InternalNodeGrpcPingClient({ configuration, endpoint, credentialProvider }).ping(), 'Ping');
  t.equal((await cache.set('app', 'k', 'through the cli')).type, 'Success', 'Set');
  t.equal((await cache.get('app', 'k')).value(), 'through the cli', 'Get');
}

t.test('cli - serve --momento-port N starts the gRPC listener the official SDK talks to', async (t) => {
  const [http, grpc] = await freePorts(2) as [number, number];
  const signingKey = generateSigningKey();
  const banner = await serve(t, ['--host', '127.0.0.1', '--port', String(http), '--momento-port', String(grpc)], { TIDINGS_SIGNING_KEY: signingKey });
  t.match(banner, `gRPC (Momento SDKs): 127.0.0.1:${grpc}`);
  await pingSetGet(t, signingKey, grpc);
});

t.test('cli - TIDINGS_MOMENTO_PORT does the same', async (t) => {
  const [http, grpc] = await freePorts(2) as [number, number];
  const signingKey = generateSigningKey();
  const banner = await serve(t, ['--host', '127.0.0.1', '--port', String(http)], { TIDINGS_SIGNING_KEY: signingKey, TIDINGS_MOMENTO_PORT: String(grpc) });
  t.match(banner, `gRPC (Momento SDKs): 127.0.0.1:${grpc}`);
  await pingSetGet(t, signingKey, grpc);
});

t.test('cli - a --momento-port in use: our one error line on stderr, exit code 1', async (t) => {
  const [http, grpc] = await freePorts(2) as [number, number];
  const holder = await new Promise<Server>((resolve) => { const s = createServer().listen(grpc, '127.0.0.1', () => resolve(s)); });
  t.teardown(() => new Promise((resolve) => holder.close(resolve)));
  // Asynchronous: the holder must keep accepting while the child starts.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--host', '127.0.0.1', '--port', String(http), '--momento-port', String(grpc)], {
    env: { ...process.env, TIDINGS_LOG_LEVEL: 'warn', TIDINGS_SIGNING_KEY: generateSigningKey() }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.equal(code, 1, 'the start failed');
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  t.match(lines, [new RegExp(`^tidings: could not start the gRPC listener on 127\\.0\\.0\\.1:${grpc}: the port is in use.*--momento-port.*TIDINGS_MOMENTO_PORT`)], `our line: ${JSON.stringify(stderr)}`);
  t.equal(lines.length, 1, 'and nothing else (no grpc-js log line)');
  t.notMatch(stderr, /No address added/, 'grpc-js printed nothing of its own');
});
