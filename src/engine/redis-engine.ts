/** engine: "redis" — lists and scalar items in Redis (src/store/redis-store.ts), shared by every
 * node on the same Redis and key prefix, and kept across restarts when Redis persists them.
 *
 * Topics, their recent-items windows and moderator groups still run in this process (the memory
 * engine's), so with several nodes each is its own broker for those until the Redis topic engine
 * lands (issue 10); pubAppend is refused meanwhile (see RedisCacheStore.pubAppend). */
import type { Clock } from '../core/clock.js';
import type { TidingsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { RedisConnection } from '../redis/connection.js';
import { RedisCacheStore } from '../store/redis-store.js';
import type { Engine, Fanout } from './engine.js';
import { MemoryEngine } from './memory-engine.js';

/** Key namespaces under redis.keyPrefix, one per kind of data, so they can never collide. */
export const CACHE_NAMESPACE = 'c:';

export class RedisEngine implements Engine {
  readonly topics: MemoryEngine['topics'];
  readonly cache: RedisCacheStore;
  readonly groups: MemoryEngine['groups'];

  private constructor(private readonly local: MemoryEngine, private readonly connection: RedisConnection) {
    this.topics = local.topics;
    this.cache = local.cache as RedisCacheStore;
    this.groups = local.groups;
  }

  /** Connects to Redis first: a server whose Redis does not answer refuses to start. */
  static async connect(config: Readonly<TidingsConfig>, clock: Clock, log: Logger): Promise<RedisEngine> {
    const connection = new RedisConnection(config.redis, log);
    await connection.connect();
    const cache = new RedisCacheStore(config.store, clock, connection, `${config.redis.keyPrefix}${CACHE_NAMESPACE}`);
    const local = new MemoryEngine({ topics: config.topics, store: config.store, moderation: config.moderation, clock, cache });
    return new RedisEngine(local, connection);
  }

  newConnectionId(): string {
    return this.local.newConnectionId();
  }

  async start(fanout: Fanout): Promise<void> {
    await this.local.start(fanout);
  }

  async close(): Promise<void> {
    await this.local.close();
    await this.connection.close();
  }
}
