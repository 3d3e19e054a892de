/** A CacheEngine of either kind for store-level tests: the memory store, or the Redis store on the
 * shared test Redis under a key prefix of its own (deleted when the test ends). */
import tap, { type Test } from 'tap';
import { DEFAULTS, type StoreConfig } from '../../src/core/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/logger.js';
import type { CacheEngine } from '../../src/store/cache-store.js';
import { MemoryCacheStore } from '../../src/store/memory-store.js';
import { RedisCacheStore } from '../../src/store/redis-store.js';
import { RedisConnection } from '../../src/core/redis-connection.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from './redis.js';
import { ENGINES, type TestEngine } from './server.js';

export interface TestStore<S extends CacheEngine = CacheEngine> { store: S; clock: ManualClock; prefix: string; url: string }

export async function redisStoreWith(t: Test, config: Partial<StoreConfig> = {}, clock = new ManualClock()): Promise<TestStore<RedisCacheStore> & { connection: RedisConnection }> {
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('store');
  const connection = new RedisConnection({ ...DEFAULTS.redis, url, keyPrefix: prefix }, createLogger({ level: 'silent' }));
  await connection.connect();
  t.teardown(async () => {
    await connection.close();
    await deletePrefix(url, prefix);
  });
  return { store: new RedisCacheStore({ ...DEFAULTS.store, ...config }, clock, connection, prefix), clock, prefix, url, connection };
}

export async function storeWith(t: Test, engine: TestEngine, config: Partial<StoreConfig> = {}, clock = new ManualClock()): Promise<TestStore> {
  if (engine === 'redis') return redisStoreWith(t, config, clock);
  const store = new MemoryCacheStore({ ...DEFAULTS.store, ...config }, clock);
  t.teardown(() => store.close());
  return { store, clock, prefix: '', url: '' };
}

/** One subtest per engine, `name [memory]` / `name [redis]` (see helpers/server.ts testEachEngine). */
export function testEachStore(name: string, fn: (t: Test, engine: TestEngine) => Promise<void>): void {
  for (const engine of ENGINES) {
    tap.test(`${name} [${engine}]`, async (t) => {
      if (engine === 'redis' && !requireRedis(t)) return;
      await fn(t, engine);
    });
  }
}
