/** The engine named by config.engine (docs/configuration.md). */
import type { Clock } from '../core/clock.js';
import type { TidingsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { IdempotencyContext } from '../core/idempotency-key.js';
import type { Engine } from './engine.js';
import { MemoryEngine } from './memory-engine.js';
import type * as RedisModule from './redis-engine.js';

export async function createEngine(config: Readonly<TidingsConfig>, clock: Clock, log: Logger): Promise<Engine> {
  switch (config.engine) {
    case 'memory':
      return new MemoryEngine({ topics: config.topics, store: config.store, moderation: config.moderation, presence: config.presence, clock });
    case 'redis': {
      // Loaded only for this engine: ioredis and the Redis modules take ~0.2 s of CPU to load,
      // which every start on the embedded default would pay.
      const { RedisEngine } = await import('./redis-engine.js');
      return config.redis.shards.length > 1 ? connectShards(config, clock, log) : RedisEngine.connect(config, clock, log);
    }
  }
}

/** redis.shards: one RedisEngine per shard. This node's own bounds (resume window bytes, live
 * topics) are split among them, so the node's totals stay the configured ones. */
async function connectShards(config: Readonly<TidingsConfig>, clock: Clock, log: Logger): Promise<Engine> {
  const [{ RedisEngine, refuseOneServerTwice }, { ShardedEngine }] = await Promise.all([import('./redis-engine.js'), import('./shards/sharded-engine.js')]);
  const urls = config.redis.shards;
  const count = urls.length;
  const share = (n: number) => Math.max(1, Math.ceil(n / count));
  const perShard: Readonly<TidingsConfig> = {
    ...config,
    topics: { ...config.topics, windowTotalBytes: share(config.topics.windowTotalBytes), maxTopics: share(config.topics.maxTopics) },
  };
  const idempotency = new IdempotencyContext();
  const shards: RedisModule.RedisEngine[] = [];
  try {
    for (const [index, url] of urls.entries()) shards.push(await RedisEngine.connect(perShard, clock, log, { url, index, count, idempotency }));
    await refuseOneServerTwice(shards, urls);
  } catch (err) {
    // A server whose shards do not all answer refuses to start; the ones that did are let go.
    await Promise.allSettled(shards.map((s) => s.close()));
    throw err;
  }
  return new ShardedEngine(shards, idempotency, config.moderation.maxGroupsPerConnection);
}
