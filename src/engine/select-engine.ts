/** The engine named by config.engine (docs/configuration.md). */
import type { Clock } from '../core/clock.js';
import type { TidingsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Engine } from './engine.js';
import { MemoryEngine } from './memory-engine.js';
import { RedisEngine } from './redis-engine.js';

export async function createEngine(config: Readonly<TidingsConfig>, clock: Clock, log: Logger): Promise<Engine> {
  switch (config.engine) {
    case 'memory':
      return new MemoryEngine({ topics: config.topics, store: config.store, moderation: config.moderation, presence: config.presence, clock });
    case 'redis':
      return RedisEngine.connect(config, clock, log);
  }
}
