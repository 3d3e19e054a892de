/** What the 'tidings listening' line tells an operator: the engine and the Redis it uses (host and
 * port only), the ports, who may read /metrics, whether the dashboard is on, and every numeric or
 * yes/no setting that differs from its default. Strings and lists are left out of that diff: the
 * secrets (signing keys, Redis URLs with their password, VAPID keys, webhook secrets) are strings. */
import { DEFAULTS, type TidingsConfig } from '../core/config.js';
import { redisHostPort } from '../core/redis-connection.js';

export function startupFields(config: Readonly<TidingsConfig>, listening: { host: string; port: number; momentoPort?: number }): Record<string, unknown> {
  const redis = config.engine === 'redis' ? (config.redis.shards.length > 0 ? config.redis.shards : [config.redis.url]).map(redisHostPort) : undefined;
  return {
    ...listening,
    dev: config.dev,
    engine: config.engine,
    ...(redis ? { redis } : {}),
    metricsAccess: config.server.metricsAccess,
    dashboard: config.admin.tokenIds.length > 0,
    changed: changedSettings(config, DEFAULTS),
  };
}

/** `section.key` -> value for each number or boolean that differs from its default. */
function changedSettings(config: object, defaults: object, prefix = '', out: Record<string, number | boolean> = {}): Record<string, number | boolean> {
  for (const [key, value] of Object.entries(config)) {
    const fallback = (defaults as Record<string, unknown>)[key];
    const path = prefix + key;
    if ((typeof value === 'number' || typeof value === 'boolean') && value !== fallback) out[path] = value;
    else if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof fallback === 'object' && fallback !== null) changedSettings(value, fallback, `${path}.`, out);
  }
  return out;
}
