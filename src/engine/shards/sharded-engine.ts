/** One engine over several shards (redis.shards, docs/operations.md "Several Redis servers"):
 * each cache, with its topics, lists, items, moderator groups and presence, lives on one shard,
 * chosen by rendezvous hashing of its name (rendezvous.ts). Nothing spans two caches, so every
 * atomic step (a publish with its moderation feed, pubAppend, a moderator's accept) stays within
 * one shard. The revocation list and the notification state (follows, push subscriptions) are the
 * first shard's. */
import type { IdempotencyContext } from '../../core/idempotency-key.js';
import type { RevocationList } from '../../auth/revocation.js';
import type { SharedNotifyState } from '../../notify/shared-state.js';
import type { Engine, Fanout, RedisLink } from '../engine.js';
import { shardOf } from './rendezvous.js';
import { ShardedTopics } from './sharded-topics.js';
import { ShardedCache } from './sharded-cache.js';
import { ShardedModeration } from './sharded-moderation.js';
import { ShardedPresence } from './sharded-presence.js';

export class ShardedEngine implements Engine {
  readonly topics: ShardedTopics;
  readonly cache: ShardedCache;
  readonly groups: ShardedModeration;
  readonly presence: ShardedPresence;
  readonly revocations: RevocationList | undefined;
  readonly notify: SharedNotifyState | undefined;

  /** `shards` in the configured order (every node must list them alike); they share `idempotency`. */
  constructor(private readonly shards: readonly Engine[], readonly idempotency: IdempotencyContext, maxGroupsPerConnection: number) {
    const of = (cache: string) => shardOf(cache, shards.length);
    this.topics = new ShardedTopics(shards.map((s) => s.topics), of);
    this.cache = new ShardedCache(shards.map((s) => s.cache), of);
    this.groups = new ShardedModeration(shards.map((s) => s.groups), of, maxGroupsPerConnection);
    this.presence = new ShardedPresence(shards.map((s) => s.presence), of);
    this.revocations = shards[0]!.revocations;
    this.notify = shards[0]!.notify;
  }

  redisLinks(): RedisLink[] {
    return this.shards.flatMap((s) => s.redisLinks?.() ?? []);
  }

  newConnectionId(): string {
    return this.shards[0]!.newConnectionId();
  }

  async start(fanout: Fanout): Promise<void> {
    for (const s of this.shards) await s.start(fanout);
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
