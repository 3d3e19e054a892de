/** The reconnect backoff of a Redis connection (docs/operations.md, "Redis down or slow"): first
 * after redis.reconnectMinMs, doubling, never past redis.reconnectMaxMs however long Redis is away.
 * Read from the connection's own retry strategy (no connection is made: lazyConnect): a black-box
 * outage long enough to tell the bound from its absence would take minutes. */
import t from 'tap';
import { resolveConfig } from '../../../src/index.js';
import { RedisConnection } from '../../../src/core/redis-connection.js';
import { createLogger } from '../../../src/core/logger.js';

t.test('redis reconnect delays double from reconnectMinMs and stay at reconnectMaxMs', async (t) => {
  const { redis } = resolveConfig({ dev: true, engine: 'redis', redis: { reconnectMinMs: 100, reconnectMaxMs: 5000 } });
  const connection = new RedisConnection(redis, createLogger({ level: 'silent' }));
  t.teardown(() => connection.disconnect());
  const delays = Array.from({ length: 40 }, (_, i) => connection.client.options.retryStrategy!(i + 1));
  t.same(delays.slice(0, 7), [100, 200, 400, 800, 1600, 3200, 5000]);
  t.same(delays.slice(7), Array(33).fill(5000), 'attempt 40 still waits reconnectMaxMs, not 100 × 2^16 ms');
});
