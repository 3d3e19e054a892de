/** Starts a real Tidings server on 127.0.0.1, port 0, quiet logs; closes it when the test ends.
 * In dev mode it also starts the demo moderator, as `tidings serve` does. `engine` (default: env
 * TIDINGS_TEST_ENGINE, else memory) picks where data lives; a redis server gets a key prefix of its
 * own on the shared test Redis (helpers/redis.ts), deleted when the test ends. */
import tap, { type Test } from 'tap';
import { createServer, defaultFeatures, generateSigningKey, type TidingsServer, type DeepPartial, type TidingsConfig, type Clock, type ServerFeature } from '../../src/index.js';
import { startDevModerator } from '../../src/cli/dev-moderator.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from './redis.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export type TestEngine = 'memory' | 'redis';
export const ENGINES: readonly TestEngine[] = ['memory', 'redis'];

export interface TestServerOptions {
  config?: DeepPartial<TidingsConfig>;
  clock?: Clock;
  engine?: TestEngine;
  /** engine redis: this Redis instead of the shared one (a test's private redis-server). */
  redisUrl?: string;
  /** engine redis: this key prefix (servers that must share data, e.g. nodes or a restart). */
  redisKeyPrefix?: string;
  /** Instead of defaultFeatures() (e.g. defaultFeatures with options of their own). */
  features?: ServerFeature[];
}

export function defaultTestEngine(): TestEngine {
  const env = process.env['TIDINGS_TEST_ENGINE'];
  if (env !== undefined && env !== 'memory' && env !== 'redis') throw new Error(`TIDINGS_TEST_ENGINE must be memory or redis, not ${env}`);
  return env ?? 'memory';
}

export async function startServer(t: Test, options: TestServerOptions = {}): Promise<TidingsServer> {
  const engine = options.engine ?? defaultTestEngine();
  // A short shutdown grace: a test that leaves a client not reading should not hold its teardown.
  const base: DeepPartial<TidingsConfig> = { logLevel: 'silent', server: { port: 0, shutdownGraceMs: 1000 }, auth: { signingKeys: [generateSigningKey()] } };
  let cleanup: (() => Promise<void>) | undefined;
  if (engine === 'redis') {
    const url = options.redisUrl ?? await sharedRedisUrl();
    const keyPrefix = options.redisKeyPrefix ?? uniquePrefix();
    base.engine = 'redis';
    // redis.shards replaces redis.url (which may not be set with it); `url` still names the Redis to clean.
    base.redis = { ...(options.config?.redis?.shards ? {} : { url }), keyPrefix };
    // A prefix of its own is this server's alone: delete its keys once it is closed.
    if (!options.redisKeyPrefix) cleanup = () => deletePrefix(url, keyPrefix);
  }
  const config = deepMerge(base, options.config ?? {});
  const server = await createServer({ config, ...(options.clock ? { clock: options.clock } : {}) }, options.features ?? defaultFeatures());
  const stopModerator = server.config.dev ? await startDevModerator(server) : undefined;
  t.teardown(async () => {
    await stopModerator?.();
    await server.close();
    await cleanup?.();
  });
  return server;
}

/** Runs `fn` as one subtest per engine: `name [memory]`, `name [redis]`. The redis one is skipped
 * loudly without redis-server, and fails under CI=true (helpers/redis.ts requireRedis). */
export function testEachEngine(name: string, fn: (t: Test, engine: TestEngine) => Promise<void>, engines: readonly TestEngine[] = ENGINES): void {
  for (const engine of engines) {
    tap.test(`${name} [${engine}]`, async (t) => {
      if (engine === 'redis' && !requireRedis(t)) return;
      await fn(t, engine);
    });
  }
}

function deepMerge<T>(a: T, b: DeepPartial<T>): T {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b as Record<string, unknown>)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? deepMerge(prev, v as never) : v;
  }
  return out as T;
}

/** A Redis-engine server whose link to the shared redis-server goes through a TCP proxy, so a
 * test can blackhole, reset and heal it; short timeouts and reconnects, so an outage is noticed
 * (and left) quickly. Undefined (and the test skipped) without redis-server. */
export async function startServerOnProxiedRedis(t: Test): Promise<{ server: TidingsServer; redis: TcpProxy } | undefined> {
  if (!requireRedis(t)) return undefined;
  const redis = await startTcpProxy(Number(new URL(await sharedRedisUrl()).port));
  t.teardown(() => redis.close());
  const server = await startServer(t, {
    engine: 'redis', redisUrl: `redis://127.0.0.1:${redis.port}`,
    config: { redis: { commandTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } },
  });
  return { server, redis };
}
