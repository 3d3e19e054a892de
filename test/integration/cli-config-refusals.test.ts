/** `tidings serve` refuses at start, exit 1 and one line naming the setting, what would otherwise be
 * silently ignored (a misspelt environment variable, Redis settings with the memory engine, a wrong
 * type hidden by a flag) or break the running server (limits past what uWebSockets.js, HTTP/2 or
 * the LRU behind the idempotency window hold: every WebSocket closed at once, a crash with a stack
 * at the first gRPC connection, a fatal out-of-memory at start). Run in process
 * (test/helpers/cli.ts): every case is refused before anything listens. */
import t, { type Test } from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliInProcess } from '../helpers/cli.js';
import { generateSigningKey } from '../../src/index.js';

const folder = mkdtempSync(join(tmpdir(), 'tidings-refusals-'));
let files = 0;
function configFile(config: unknown): string {
  const file = join(folder, `config-${files++}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** A serve that is refused: exit 1, nothing printed on stdout, stderr matching `pattern`. */
async function refused(t: Test, args: string[], env: Record<string, string>, pattern: RegExp): Promise<void> {
  const run = await cliInProcess(['serve', '--port', '0', ...args], { TIDINGS_LOG_LEVEL: 'silent', ...env });
  t.equal(run.status, 1, `${args.join(' ')} ${JSON.stringify(env)}: exit 1 (${run.stderr.trim()})`);
  t.match(run.stderr, pattern);
  t.notMatch(run.stderr, /\n\s+at /, 'one line, no stack');
  t.equal(run.stdout, '', 'nothing started');
}

t.test('a misspelt TIDINGS_ variable is refused, naming the variable it resembles', async (t) => {
  await refused(t, [], { TIDINGS_SIGNNG_KEY: generateSigningKey() }, /^tidings: TIDINGS_SIGNNG_KEY is not a variable Tidings reads; did you mean TIDINGS_SIGNING_KEY\?/);
  await refused(t, [], { TIDINGS_REDIS_SHARD: 'redis://10.0.0.5:6379,redis://10.0.0.6:6379' }, /TIDINGS_REDIS_SHARD .*did you mean TIDINGS_REDIS_SHARDS\?/);
  await refused(t, [], { TIDINGS_PROT: '9000' }, /TIDINGS_PROT .*did you mean TIDINGS_PORT\?/);
});

t.test('a variable named after a config key is refused, naming the key to set in the config file', async (t) => {
  await refused(t, [], { TIDINGS_SERVER_MAX_CONNECTIONS: '10' }, /TIDINGS_SERVER_MAX_CONNECTIONS is not a variable Tidings reads; set server\.maxConnections in the --config file/);
  await refused(t, [], { TIDINGS_MAX_CONNECTIONS_PER_IP: '10' }, /TIDINGS_MAX_CONNECTIONS_PER_IP .*server\.maxConnectionsPerIp/);
});

t.test('other TIDINGS_ variables (an app\'s own, the examples\' and revoke\'s) are left alone', async (t) => {
  const key = generateSigningKey();
  const run = await cliInProcess(['api-key'], {
    TIDINGS_SIGNING_KEY: key, TIDINGS_URL: 'http://127.0.0.1:8080', TIDINGS_TOKEN: 'x', TIDINGS_API_KEY: 'y', TIDINGS_MY_APP_SETTING: 'z',
    // Two edits from TIDINGS_DEV, but a short name is only taken for a typo one edit away.
    TIDINGS_KEY: 'k',
  });
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /^ey/);
});

t.test('Redis settings with the memory engine are refused rather than ignored', async (t) => {
  await refused(t, [], { TIDINGS_REDIS_URL: 'redis://10.0.0.5:6379' }, /config redis\.url: .*engine is "memory".*TIDINGS_ENGINE=redis/);
  await refused(t, [], { TIDINGS_REDIS_KEY_PREFIX: 'app1:' }, /config redis\.keyPrefix: .*engine is "memory"/);
  await refused(t, ['--config', configFile({ redis: { shards: ['redis://10.0.0.5:6379', 'redis://10.0.0.6:6379'] } })], {}, /config redis\.shards: .*engine is "memory"/);
});

t.test('a section of the wrong type is refused even when a flag sets one of its keys', async (t) => {
  await refused(t, ['--config', configFile({ server: [{ maxConnections: 10 }] })], {}, /config server: must be an object/);
});

t.test('an empty server.host is refused by the config check, not taken for a remote host', async (t) => {
  await refused(t, ['--config', configFile({ server: { host: '' } })], {}, /config server\.host: must name an interface/);
});

t.test('limits past what the transports and the idempotency LRU hold are refused by name', async (t) => {
  const big = { maxInFlightBodyBytes: 2 ** 34, maxInFlightBodyBytesPerIp: 2 ** 34 };
  // uWS reads its payload limit (twice maxFrameBytes) as a 32-bit integer: 2^32 became 0.
  await refused(t, ['--config', configFile({ server: { maxFrameBytes: 2 ** 31, ...big }, http: { maxStreamPostBytes: 2 ** 31 + 4 } })], {}, /config server\.maxFrameBytes: must be ≤ 536870912/);
  await refused(t, ['--config', configFile({ server: { sendBufferHardLimitBytes: 2 ** 32 } })], {}, /config server\.sendBufferHardLimitBytes: must be ≤ 1073741824/);
  // Node's HTTP/2 threw ERR_HTTP2_INVALID_SETTING_VALUE at the first gRPC connection, ending the process.
  await refused(t, ['--config', configFile({ momento: { maxConcurrentStreamsPerConnection: 2 ** 32 } })], {}, /config momento\.maxConcurrentStreamsPerConnection: must be ≤ 4294967295/);
  // lru-cache allocates its slots up front: 10^9 was a fatal out-of-memory at start, 5 * 10^9 "Invalid array length".
  await refused(t, ['--config', configFile({ server: { maxIdempotencyKeys: 5e9 } })], {}, /config server\.maxIdempotencyKeys: must be ≤ 10000000/);
  // 1e300 is an integer to JavaScript, and printed "Access-Control-Max-Age: 1e+300".
  await refused(t, ['--config', configFile({ http: { corsMaxAgeSec: 1e300 } })], {}, /config http\.corsMaxAgeSec: must be ≤ 9007199254740991/);
  await refused(t, ['--config', configFile({ server: { maxConnections: 2 ** 60 } })], {}, /config server\.maxConnections: must be ≤ 9007199254740991/);
});

t.test('a malformed command line is a usage error (exit 2) like a malformed integer flag, whatever the command', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['serve', '--prot', '9'], /Unknown option '--prot'/],
    [['serve', 'extra'], /Unexpected argument 'extra'/],
    [['serve', '--config'], /'--config <value>' argument missing/],
    [['api-key', '--dev'], /Unknown option '--dev'/],
    [['revoke', '--user', 'x'], /Unknown option '--user'/],
  ];
  for (const [args, pattern] of cases) {
    const run = await cliInProcess(args, { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_API_KEY: 'k' });
    t.equal(run.status, 2, `${args.join(' ')}: ${run.stderr.trim()}`);
    t.match(run.stderr, pattern);
    t.match(run.stderr, /tidings --help/, 'points at the usage');
    t.equal(run.stdout, '');
  }
});

// Dev mode is implied only when nothing says otherwise: an operator who turned it off and forgot
// the key gets the refusal, not an open token route and a printed admin key.
t.test('TIDINGS_DEV=false without a signing key is refused, even on a loopback host', async (t) => {
  await refused(t, [], { TIDINGS_SIGNING_KEY: '', TIDINGS_DEV: 'false' }, /config auth\.signingKeys: at least one signing key is required outside dev mode/);
});

t.test('a command line that names no command, or revoke without exactly one target or its key, is a usage error (exit 2)', async (t) => {
  const none = await cliInProcess([]);
  t.equal(none.status, 2, 'no command');
  t.match(none.stdout, /^usage:/, 'the usage');
  const help = await cliInProcess(['--help']);
  t.equal(help.status, 0, '--help asked for it');
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['revoke', '--token-id', 'dave', '--jti', 'j1'], { TIDINGS_API_KEY: 'k' }, /^name exactly one of --token-id, --jti, --token\n/],
    [['revoke'], { TIDINGS_API_KEY: 'k' }, /^name exactly one of --token-id, --jti, --token\n/],
    [['revoke', '--token-id', 'dave'], { TIDINGS_API_KEY: '' }, /^set TIDINGS_API_KEY to an admin API key of the server\n$/],
  ];
  // Port 9 (discard): were any of these sent, the answer would be exit 1, not 2.
  for (const [args, env, pattern] of cases) {
    const run = await cliInProcess([...args, '--url', 'http://127.0.0.1:9'], env);
    t.equal(run.status, 2, `${args.join(' ')}: ${run.stderr.trim()}`);
    t.match(run.stderr, pattern);
    t.equal(run.stdout, '');
  }
});

t.test('a momento.endpoint the SDKs cannot prefix with cache. is refused (a URL, a path, spaces)', async (t) => {
  for (const endpoint of ['https://broker.example.com', 'broker.example.com/grpc', 'a b']) {
    await refused(t, [], { TIDINGS_MOMENTO_ENDPOINT: endpoint }, /config momento\.endpoint: must be a host name or host:port/);
  }
  for (const endpoint of ['broker.example.com', '127.0.0.1:8081', '[::1]:8081']) {
    const run = await cliInProcess(['api-key', '--momento'], { TIDINGS_SIGNING_KEY: generateSigningKey(), TIDINGS_MOMENTO_ENDPOINT: endpoint });
    t.equal(run.status, 0, `${endpoint}: ${run.stderr}`);
    t.equal(JSON.parse(Buffer.from(run.stdout.trim(), 'base64').toString())['endpoint'], endpoint);
  }
});
