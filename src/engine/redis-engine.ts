/** engine: "redis" — several nodes on one Redis behave as one broker for topics, lists, dictionaries, sets, sorted sets and scalar
 * items (docs/operations.md):
 * - topics: engine/redis/topic-engine.ts (seq assigned in Redis, one subscription per topic per
 *   node, node-local windows for synchronous reads and native fan-out);
 * - lists, dictionaries, sets, sorted sets and scalar items: store/redis-store.ts; pubAppend (and a moderator's retract) runs the
 *   list change and the publish as one script through the topic engine;
 * - moderator groups: engine/redis/moderation.ts (queues in Redis fed by the publish script, handed
 *   out to members on any node, node loss detected by heartbeat);
 * - follows, push subscriptions, admin-added webhook endpoints: engine/redis/shared-*.ts (in Redis,
 *   mirrored on every node). */
import type { Clock } from '../core/clock.js';
import { ConfigError, type TidingsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { RedisConnection, clearSocketTimerOnClose, disconnectSubscriber, heartbeatSubscriber, redisHostPort } from '../core/redis-connection.js';
import { RedisCacheStore } from '../store/redis-store.js';
import { RedisPresence } from '../presence/redis-presence.js';
import { RandomIds } from '../lib/random-ids.js';
import type { Engine, Fanout, RedisLink } from './engine.js';
import { RedisTopicEngine } from './redis/topic-engine.js';
import { RedisModeration } from './redis/moderation.js';
import { RedisRevocationList } from './redis/revocations.js';
import { RedisFollowers } from './redis/shared-followers.js';
import { RedisPushSubscriptions } from './redis/shared-push-subscriptions.js';
import { RedisWebhookEndpoints } from './redis/shared-webhook-endpoints.js';
import { IdempotencyContext } from '../core/idempotency-key.js';
import { settleWithin } from './redis/goodbye.js';
import type { Redis } from 'ioredis';

/** Cache data lives under redis.keyPrefix + this (topics under `t:`, engine/redis/keys.ts). */
export const CACHE_NAMESPACE = 'c:';

/** Where one engine sits among the deployment's Redis shards (engine/shards/); one Redis
 * is shard 0 of 1. */
export interface ShardPlacement {
  url: string;
  index: number;
  count: number;
  /** Shared by every shard of a node: the broker sets the key once, whichever shard takes it. */
  idempotency: IdempotencyContext;
}

export class RedisEngine implements Engine {
  readonly topics: RedisTopicEngine;
  readonly cache: RedisCacheStore;
  readonly groups: RedisModeration;
  /** On shard 0 only: one list for the whole deployment. */
  readonly revocations: RedisRevocationList | undefined;
  /** On shard 0 only, like revocations: one set of follows, push subscriptions and admin-added
   * webhook endpoints per deployment. */
  readonly notify: { followers: RedisFollowers; subscriptions: RedisPushSubscriptions; webhooks: RedisWebhookEndpoints } | undefined;
  readonly idempotency: IdempotencyContext;
  /** Cluster-wide: every node's subscribers, join/leave once (docs/presence.md, "Several nodes"). */
  readonly presence: RedisPresence;
  private readonly ids = new RandomIds();
  /** The pub/sub connections beside `connection`: dropped at the end of close() whatever happened. */
  private readonly subscribers: Redis[];
  /** close(): how long the goodbye may take, and where it says it was cut short. */
  private readonly goodbyeMs: number;
  private readonly log: Logger;
  private readonly shard: number;
  private readonly heartbeatMs: number;
  private stopHeartbeats: Array<() => void> = [];

  private constructor(config: Readonly<TidingsConfig>, clock: Clock, nodeLog: Logger, private readonly connection: RedisConnection, placement: ShardPlacement) {
    // Every line about this Redis names it (host:port, never the URL): with shards, which one.
    const log = nodeLog.child({ redis: redisHostPort(placement.url) });
    this.idempotency = placement.idempotency;
    // autoResubscribe off: ioredis re-sends a reconnected subscriber's SUBSCRIBEs without catching
    // them, and one answered later than redis.commandTimeoutMs was an unhandled rejection, which
    // ends the process. Each user of a subscriber subscribes its channels again on 'ready' itself,
    // with a catch (topic-engine.ts, moderation.ts, core/redis-resubscribe.ts).
    const subscriber = connection.client.duplicate({ lazyConnect: true, enableAutoPipelining: false, autoResubscribe: false });
    subscriber.on('error', (err: Error) => log.debug({ err: err.message }, 'redis subscriber connection error'));
    clearSocketTimerOnClose(subscriber);
    this.topics = new RedisTopicEngine(config.topics, clock, connection, subscriber, config.redis.keyPrefix, log,
      { maxItems: config.redis.publishBatchMaxItems, maxBytes: config.redis.publishBatchMaxBytes }, placement.count);
    this.cache = new RedisCacheStore(config.store, clock, connection, `${config.redis.keyPrefix}${CACHE_NAMESPACE}`, this.topics);
    // Delivery ids of shard i are i+1, i+1+count, ...: unique on the node, and they name their shard.
    this.groups = new RedisModeration(config.moderation, clock, connection, subscriber, config.redis.keyPrefix, log, this.topics, this.cache,
      { first: placement.index + 1, step: placement.count });
    // A publish to an input topic is acknowledged only once every group it feeds took it (one script).
    this.topics.setFeed(this.groups);
    // Idempotent writes are remembered in Redis, by the write's own script, for every node.
    const idempotencyArgs = (): [string, number] => {
      const key = this.idempotency.take();
      return key === undefined ? ['', 0] : [`${config.redis.keyPrefix}i:${key}`, config.server.idempotencyWindowMs];
    };
    this.topics.setIdempotency(idempotencyArgs, config.server.maxIdempotencyKeys);
    this.cache.idempotencyArgs = idempotencyArgs;
    this.revocations = placement.index > 0 ? undefined : new RedisRevocationList(config.auth.maxRevocations, clock, connection, subscriber, config.redis.keyPrefix, this.groups.nodeId, log);
    this.notify = placement.index > 0 ? undefined : {
      followers: new RedisFollowers(config.notify, connection, subscriber, config.redis.keyPrefix, log, config.redis.notifyLoadPageSize),
      subscriptions: new RedisPushSubscriptions(config.push, connection, subscriber, config.redis.keyPrefix, log, config.redis.notifyLoadPageSize),
      webhooks: new RedisWebhookEndpoints(config.webhooks.maxEndpoints, connection, subscriber, config.redis.keyPrefix, log),
    };
    const presenceSubscriber = connection.client.duplicate({ lazyConnect: true, enableAutoPipelining: false, autoResubscribe: false });
    presenceSubscriber.on('error', (err: Error) => log.debug({ err: err.message }, 'redis presence subscriber connection error'));
    clearSocketTimerOnClose(presenceSubscriber);
    this.presence = new RedisPresence(config.presence, clock, connection, presenceSubscriber, config.redis.keyPrefix, log);
    this.subscribers = [subscriber, presenceSubscriber];
    // After the drain (server.shutdownGraceMs) the goodbye gets one more command's time at most, and
    // never more than the grace itself: a stop takes at most grace + min(commandTimeoutMs, grace).
    this.goodbyeMs = Math.min(config.redis.commandTimeoutMs, config.server.shutdownGraceMs);
    this.log = log;
    this.shard = placement.index;
    this.heartbeatMs = config.redis.commandTimeoutMs;
  }

  redisLinks(): RedisLink[] {
    const { connection } = this;
    return [{ shard: this.shard, connected: connection.ready, refusal: connection.refusal, reconnects: connection.reconnects, pingSeconds: () => connection.pingSeconds() }];
  }

  /** Connects to Redis first: a server whose Redis does not answer refuses to start. */
  static async connect(config: Readonly<TidingsConfig>, clock: Clock, log: Logger,
    placement: ShardPlacement = { url: config.redis.url, index: 0, count: 1, idempotency: new IdempotencyContext() }): Promise<RedisEngine> {
    const connection = new RedisConnection({ ...config.redis, url: placement.url }, log);
    await connection.connect();
    return new RedisEngine(config, clock, log, connection, placement);
  }

  /** Which Redis server process this shard is (INFO run_id), or undefined when INFO does not say. */
  serverRunId(): Promise<string | undefined> {
    return this.connection.runId();
  }

  newConnectionId(): string {
    // 16 random bytes: unique across every node without coordination.
    return this.ids.next(16);
  }

  async start(fanout: Fanout): Promise<void> {
    await this.topics.start(fanout);
    await this.revocations?.start();
    await this.notify?.followers.start();
    await this.notify?.subscriptions.start();
    await this.notify?.webhooks.start();
    await this.groups.start();
    this.presence.start((key, frame) => fanout.publish(key, frame));
    await this.presence.connect();
    // A silent subscriber link is noticed within about two command timeouts (heartbeatSubscriber).
    this.stopHeartbeats = this.subscribers.map((s) => heartbeatSubscriber(s, this.heartbeatMs));
  }

  /** Hands back moderation claims, hands presence over and quits, all at once and within
   * goodbyeMs (docs/operations.md, "Stopping"); what has not finished by then is cut off: the
   * other nodes reap it after moderation.nodeTimeoutMs / presence's node timeout instead. */
  async close(): Promise<void> {
    const started = Date.now();
    for (const stop of this.stopHeartbeats) stop();
    const unfinished = await settleWithin({
      moderation: this.groups.close(),
      presence: this.presence.close(),
      topics: this.topics.close(),
    }, this.goodbyeMs);
    // QUIT only when the rest got through: a Redis that did not answer those will not answer it.
    if (unfinished.length === 0) unfinished.push(...await settleWithin({ quit: this.connection.close() }, this.goodbyeMs - (Date.now() - started)));
    this.connection.disconnect();
    for (const s of this.subscribers) disconnectSubscriber(s);
    if (unfinished.length > 0) {
      this.log.warn({ unfinished, goodbyeMs: this.goodbyeMs }, 'redis goodbye cut short: Redis did not answer within min(redis.commandTimeoutMs, server.shutdownGraceMs)');
    }
  }
}

/** Two entries naming one server by different names (localhost and 127.0.0.1, two DNS names, two
 * databases) pass the config check, which compares the text: the shards would share one server's
 * keys and channels. The server itself tells them apart (INFO run_id; one that does not say is
 * taken as distinct). */
export async function refuseOneServerTwice(shards: readonly RedisEngine[], urls: readonly string[]): Promise<void> {
  const runIds = await Promise.all(shards.map((s) => s.serverRunId()));
  runIds.forEach((runId, i) => {
    const first = runIds.indexOf(runId);
    if (runId === undefined || first === i) return;
    throw new ConfigError('redis.shards', `lists one Redis server twice: redis.shards[${first}] (${redisHostPort(urls[first]!)}) and redis.shards[${i}] (${redisHostPort(urls[i]!)}) ` +
      'are answered by the same server (its INFO run_id); list each server once (databases of one server share its channels)');
  });
}
