/** Webhook endpoints added through the admin route (PUT /v1/webhooks/:cache/:name), stored in Redis
 * for every node (notify/shared-state.ts SharedWebhookEndpoints; docs/webhooks.md "Several nodes").
 * One HASH `["cache","name"]` -> the endpoint's JSON (its secret included: every node signs with
 * it); webhooks.maxEndpoints is checked by the write's script, so it holds across nodes. A write is
 * acknowledged once Redis has it and announced; each node keeps a copy (redis-mirror.ts) and hands
 * the changes to its WebhookEndpoints, which keeps the delivery queues. */
import type { Redis } from 'ioredis';
import { LimitCause } from '../../protocol/index.js';
import type { WebhookEndpointConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { limitExceeded } from '../../core/errors.js';
import type { RedisConnection } from '../../core/redis-connection.js';
import type { SharedWebhookEndpoints, WebhookEndpointsListener } from '../../notify/shared-state.js';
import { RedisMirror } from './redis-mirror.js';

/** KEYS: hash. ARGV: field, endpoint, max, channel, message. */
const PUT = `
local H = KEYS[1]
if redis.call('HEXISTS', H, ARGV[1]) == 0 and redis.call('HLEN', H) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', H, ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 'ok'`;

/** KEYS: hash. ARGV: field, channel, message. 1 | 0 */
const REMOVE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/** A load in one page (redis-mirror.ts): at most webhooks.maxEndpoints endpoints. KEYS: hash.
 * ARGV: cursor, page size (unused). {'0', {field, endpoint...}} */
const LOAD = `return {'0', redis.call('HGETALL', KEYS[1])}`;

/** Announced changes (after the message id, redis-mirror.ts): `["+", endpoint]`, `["-", cache, name]`. */
type Change = ['+', WebhookEndpointConfig] | ['-', string, string];

const keyOf = (cache: string, name: string) => JSON.stringify([cache, name]);

export class RedisWebhookEndpoints implements SharedWebhookEndpoints {
  /** The copy, by keyOf(cache, name): what Redis holds, no bound of its own (the put script's bound
   * holds; a bound here would drop an endpoint for good: redis-mirror.ts). */
  private copy = new Map<string, WebhookEndpointConfig>();
  private listener: WebhookEndpointsListener | undefined;
  private readonly mirroring: RedisMirror<Change>;
  private readonly hash: string;

  constructor(private readonly maxEndpoints: number, private readonly connection: RedisConnection, subscriber: Redis, prefix: string, private readonly log: Logger) {
    this.hash = `${prefix}n:\u0000w:endpoints`;
    connection.defineScript('tidingsWebhookPut', PUT, 1);
    connection.defineScript('tidingsWebhookRemove', REMOVE, 1);
    connection.defineScript('tidingsWebhooksLoad', LOAD, 1);
    this.mirroring = new RedisMirror(connection, subscriber, `${prefix}n:\u0000w:channel`, 'tidingsWebhooksLoad', () => [this.hash], 1,
      { replace: (reply) => this.replace(reply), apply: (change) => this.change(change) }, log, 'webhook endpoints');
  }

  start(): Promise<void> { return this.mirroring.start(); }

  observe(listener: WebhookEndpointsListener): void {
    this.listener = listener;
    listener.replace([...this.copy.values()]);
  }

  async put(endpoint: WebhookEndpointConfig, maxShared: number): Promise<void> {
    const change: Change = ['+', endpoint];
    const { reply, unheard } = await this.mirroring.write(change, (message) => this.connection.script<string>('tidingsWebhookPut', [
      this.hash, keyOf(endpoint.cache, endpoint.name), JSON.stringify(endpoint), maxShared, this.mirroring.channel, message], false));
    if (reply === 'full') throw limitExceeded(LimitCause.WEBHOOKS, `at most ${this.maxEndpoints} webhook endpoints in the deployment`);
    // In force here at once (unless heard already); the other nodes hear it on the channel.
    if (unheard) this.change(change);
  }

  async remove(cache: string, name: string): Promise<boolean> {
    const change: Change = ['-', cache, name];
    const { reply: removed, unheard } = await this.mirroring.write(change, (message) =>
      this.connection.script<number>('tidingsWebhookRemove', [this.hash, keyOf(cache, name), this.mirroring.channel, message], false));
    if (unheard) this.change(change);
    return Number(removed) === 1;
  }

  private replace(reply: unknown[]): void {
    const fresh = new Map<string, WebhookEndpointConfig>();
    for (let i = 0; i + 1 < reply.length; i += 2) {
      try {
        const endpoint = JSON.parse(String(reply[i + 1])) as WebhookEndpointConfig;
        fresh.set(keyOf(endpoint.cache, endpoint.name), endpoint);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'a stored webhook endpoint was not loaded');
      }
    }
    this.copy = fresh;
    this.listener?.replace([...fresh.values()]);
  }

  private change(change: Change): void {
    if (change[0] === '-') {
      if (this.copy.delete(keyOf(change[1], change[2]))) this.listener?.remove(change[1], change[2]);
      return;
    }
    const endpoint = change[1];
    const key = keyOf(endpoint.cache, endpoint.name);
    // The same endpoint again (this node's own change, heard back): its queue is kept.
    const known = this.copy.get(key);
    if (known !== undefined && JSON.stringify(known) === JSON.stringify(endpoint)) return;
    this.copy.set(key, endpoint);
    this.listener?.put(endpoint);
  }
}
