import t from 'tap';
import { readFileSync } from 'node:fs';
import { DEFAULTS, resolveConfig } from '../../src/index.js';
import { configFromEnv } from '../../src/cli/env.js';

function leafPaths(value: unknown, prefix = ''): string[] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

t.test('config - every key in DEFAULTS is documented in docs/configuration.md', async (t) => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const path of leafPaths(DEFAULTS)) t.ok(doc.includes(`\`${path}\``), `${path} is documented`);
});

t.test('config - the default docs/configuration.md gives for each key is the one in DEFAULTS', async (t) => {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const keys = new Set(leafPaths(DEFAULTS));
  const valueAt = (path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], DEFAULTS);
  let rows = 0;
  // A key's row: | `path` | `default` (a readable form) | meaning |
  for (const [, path, cell] of doc.matchAll(/^\| `([\w.]+)` \| `([^`]*)`[^|]*\|/gm)) {
    if (!keys.has(path!)) continue;
    rows++;
    t.same(JSON.parse(cell!), valueAt(path!), `${path}: documented default ${cell}`);
  }
  t.equal(rows, keys.size, 'every key has a row with its default');
});

t.test('config - defaults resolve (in dev mode) and are frozen', async (t) => {
  const config = resolveConfig({ dev: true });
  t.equal(config.server.port, DEFAULTS.server.port);
  t.ok(Object.isFrozen(config.server));
  t.throws(() => { (config.server as { port: number }).port = 1; });
});

t.test('config - unknown keys, wrong types and unbounded limits are refused with the key named', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ dev: true, server: { prot: 1 } }, /server\.prot: unknown key/],
    [{ dev: true, server: { port: '80' } }, /server\.port: must be a number/],
    [{ dev: true, server: { port: 70000 } }, /server\.port/],
    [{ dev: true, topics: { maxTopics: 0 } }, /topics\.maxTopics: must be a finite integer/],
    [{ dev: true, topics: { windowBytes: Infinity } }, /topics\.windowBytes/],
    [{ dev: true, server: { maxConnections: -1 } }, /server\.maxConnections/],
    [{ dev: true, server: { maxFrameBytes: 1000 } }, /topics\.maxValueBytes: must leave 4 KiB/],
    [{ dev: true, logLevel: 'loud' }, /logLevel/],
    [{ dev: false }, /auth\.signingKeys: at least one signing key is required/],
    [{ dev: true, auth: { signingKeys: ['too-short'] } }, /auth\.signingKeys\[0\]/],
    [{ dev: true, auth: { signingKeys: [Buffer.alloc(31, 7).toString('base64url')] } }, /auth\.signingKeys\[0\]: must be base64url text of at least 32 bytes/],
    [{ dev: true, auth: 'none' }, /auth: must be an object/],
    [{ dev: true, engine: 'postgres' }, /engine: must be one of memory, redis/],
    [{ dev: true, redis: { url: 'http://127.0.0.1:6379' } }, /redis\.url: must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ dev: true, redis: { url: 'not a url' } }, /redis\.url/],
    [{ dev: true, redis: { reconnectMinMs: 5000, reconnectMaxMs: 100 } }, /redis\.reconnectMinMs: must be ≤ redis\.reconnectMaxMs/],
    [{ dev: true, redis: { commandTimeoutMs: 0 } }, /redis\.commandTimeoutMs: must be a finite integer/],
    [{ dev: true, redis: { maxQueuedCommands: Infinity } }, /redis\.maxQueuedCommands/],
    [{ dev: true, redis: { publishBatchMaxItems: 0 } }, /redis\.publishBatchMaxItems: must be a finite integer ≥ 1/],
    [{ dev: true, redis: { publishBatchMaxItems: 5000 } }, /redis\.publishBatchMaxItems: must be ≤ 1000/],
    [{ dev: true, redis: { publishBatchMaxBytes: 0 } }, /redis\.publishBatchMaxBytes/],
    [{ dev: true, redis: { shards: ['redis://10.0.0.5:6379'] } }, /redis\.shards: must list two or more Redis URLs/],
    [{ dev: true, redis: { shards: ['redis://10.0.0.5:6379', 'http://10.0.0.6:6379'] } }, /redis\.shards\[1\]: must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ dev: true, redis: { shards: ['redis://10.0.0.5:6379/1', 'redis://10.0.0.5/2'] } }, /redis\.shards: must list each Redis server once/],
    [{ dev: true, redis: { shards: Array.from({ length: 65 }, (_, i) => `redis://10.0.1.${i}:6379`) } }, /redis\.shards: must list at most 64/],
    [{ dev: true, engine: 'redis', redis: { url: 'redis://10.0.0.4:6379', shards: ['redis://10.0.0.5:6379', 'redis://10.0.0.6:6379'] } }, /redis\.url: is set, but so is redis\.shards, which replaces it/],
    [{ dev: true, server: { eventLoopMonitorMs: 1 } }, /server\.eventLoopMonitorMs: must be a finite integer ≥ 10/],
    [{ dev: true, server: { eventLoopMonitorMs: 120_000 } }, /server\.eventLoopMonitorMs: must be ≤ 60000/],
    [{ dev: true, server: { metricsMaxGroups: -1 } }, /server\.metricsMaxGroups: must be a finite integer ≥ 0/],
    [{ dev: true, server: { metricsMaxGroups: Infinity } }, /server\.metricsMaxGroups/],
    [{ dev: true, http: { ticketTtlMs: 0 } }, /http\.ticketTtlMs: must be a finite integer/],
    [{ dev: true, http: { longPollMaxWaitMs: Infinity } }, /http\.longPollMaxWaitMs/],
    [{ dev: true, http: { maxStreamPostBytes: 1024 } }, /http\.maxStreamPostBytes: must hold at least one frame/],
    [{ dev: true, push: { maxQueuedPerOwner: 0 } }, /push\.maxQueuedPerOwner: must be a finite integer ≥ 1/],
    [{ dev: true, push: { maxInFlightPerOwner: Infinity } }, /push\.maxInFlightPerOwner/],
    [{ dev: true, webhooks: { maxBatchBytes: 0 } }, /webhooks\.maxBatchBytes: must be a finite integer ≥ 1/],
    [{ dev: true, server: { maxInFlightBodyBytes: 0 } }, /server\.maxInFlightBodyBytes: must be a finite integer/],
    [{ dev: true, server: { maxInFlightBodyBytes: 1024 * 1024 } }, /server\.maxInFlightBodyBytes: must be ≥ server\.maxHttpBodyBytes and http\.maxStreamPostBytes/],
    [{ dev: true, server: { maxInFlightBodyBytesPerIp: 1024 * 1024 } }, /server\.maxInFlightBodyBytesPerIp: must be ≥ server\.maxHttpBodyBytes and http\.maxStreamPostBytes/],
    [{ dev: true, server: { maxInFlightBodyBytesPerIp: 0 } }, /server\.maxInFlightBodyBytesPerIp: must be a finite integer/],
    [{ dev: true, server: { maxPreHelloFrameBytes: 8 * 1024 } }, /server\.maxPreHelloFrameBytes: must be ≥ auth\.maxTokenBytes \+ 1024/],
    [{ dev: true, auth: { maxTokenBytes: 32 * 1024 } }, /server\.maxPreHelloFrameBytes: must be ≥ auth\.maxTokenBytes/],
    [{ dev: true, server: { maxPendingHellosPerIp: 1001, maxConnectionsPerIp: 1000 } }, /server\.maxPendingHellosPerIp: must be ≤ server\.maxConnectionsPerIp/],
    [{ dev: true, server: { maxBackpressureBytes: 3 * 1024 * 1024, sendBufferHardLimitBytes: 4 * 1024 * 1024 } }, /server\.sendBufferHardLimitBytes: must be at least twice server\.maxBackpressureBytes/],
    [{ dev: true, engine: 'redis', redis: { keyPrefix: 'app\u0000' } }, /redis\.keyPrefix: must not contain control characters/],
    [{ dev: true, momento: { maxMessageBytes: 5 * 1024 * 1024 }, store: { maxItemBytes: 5 * 1024 * 1024 } }, /momento\.maxMessageBytes: must be > store\.maxItemBytes/],
    [{ dev: true, momento: { requestReadTimeoutMs: 0 } }, /momento\.requestReadTimeoutMs: must be a finite integer ≥ 1/],
    [{ dev: true, momento: { maxConnectionsPerIp: -1 } }, /momento\.maxConnectionsPerIp: must be a finite integer ≥ 0/],
  ];
  for (const [input, message] of cases) t.throws(() => resolveConfig(input as never), { name: 'ConfigError', message }, JSON.stringify(input));
});

t.test('config - every environment variable the CLI reads is documented, with the key it sets', async (t) => {
  const { ENV_VARS } = await import('../../src/cli/env.js');
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const [name, { path }] of Object.entries(ENV_VARS)) {
    t.match(doc, new RegExp(`\\| \`${name}\` \\| \`${path.replace('.', '\\.')}\``), `${name} -> ${path}`);
  }
});

t.test('config - PORT sets the port unless TIDINGS_PORT does; bad numbers are refused by name', async (t) => {
  const { configFromEnv } = await import('../../src/cli/env.js');
  t.same(configFromEnv({ PORT: '3000' }), { server: { port: 3000 } });
  t.same(configFromEnv({ PORT: '3000', TIDINGS_PORT: '4000' }), { server: { port: 4000 } });
  t.throws(() => configFromEnv({ PORT: 'http' }), /PORT must be an integer/);
  t.same(configFromEnv({ TIDINGS_ADMIN_TOKEN_IDS: 'ops, oncall' }), { admin: { tokenIds: ['ops', 'oncall'] } });
});

t.test('config - admin keys are checked', async (t) => {
  t.throws(() => resolveConfig({ dev: true, admin: { tokenIds: [''] } }), { name: 'ConfigError', message: /admin\.tokenIds\[0\]/ });
  t.throws(() => resolveConfig({ dev: true, admin: { topTopics: 0 } }), { name: 'ConfigError', message: /admin\.topTopics/ });
  t.throws(() => resolveConfig({ dev: true, admin: { topTopics: 1000 } }), { name: 'ConfigError', message: /admin\.topTopics: must be ≤ 100/ });
});

t.test('config - the engine and its Redis come from TIDINGS_ENGINE and TIDINGS_REDIS_URL', async (t) => {
  const patch = configFromEnv({ TIDINGS_ENGINE: 'redis', TIDINGS_REDIS_URL: 'redis://10.0.0.5:6380/2', TIDINGS_REDIS_KEY_PREFIX: 'app1:' });
  t.same(patch, { engine: 'redis', redis: { url: 'redis://10.0.0.5:6380/2', keyPrefix: 'app1:' } });
  const config = resolveConfig({ dev: true, ...patch });
  t.equal(config.engine, 'redis');
  t.equal(config.redis.commandTimeoutMs, DEFAULTS.redis.commandTimeoutMs, 'the other redis keys keep their defaults');
  t.equal(resolveConfig({ dev: true }).engine, 'memory', 'memory is the default engine');
});

t.test('config - Redis shards come from TIDINGS_REDIS_SHARDS', async (t) => {
  const patch = configFromEnv({ TIDINGS_ENGINE: 'redis', TIDINGS_REDIS_SHARDS: 'redis://10.0.0.5:6379, rediss://10.0.0.6:6380' });
  t.same(patch, { engine: 'redis', redis: { shards: ['redis://10.0.0.5:6379', 'rediss://10.0.0.6:6380'] } });
  t.same(resolveConfig({ dev: true, ...patch }).redis.shards, ['redis://10.0.0.5:6379', 'rediss://10.0.0.6:6380']);
  t.same(resolveConfig({ dev: true }).redis.shards, [], 'one Redis (redis.url) by default');
});
