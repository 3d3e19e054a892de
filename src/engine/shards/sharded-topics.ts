/** Topics over several shards: each cache's topics live on its shard's topic engine. */
import type { Position, PublishResult, Value } from '../../protocol/index.js';
import type { Maybe } from '../../core/maybe.js';
import type { PublishHook, Subscriber, TopicActivity, TopicEngine, TopicStats, WindowRead } from '../engine.js';

export class ShardedTopics implements TopicEngine {
  constructor(private readonly shards: readonly TopicEngine[], private readonly of: (cache: string) => number) {}

  addPublishHook<A>(hook: PublishHook<A>): void {
    for (const s of this.shards) s.addPublishHook(hook);
  }

  publish(cache: string, topic: string, value: Value, tokenId: string | undefined, origin?: string): Maybe<PublishResult> {
    return this.shards[this.of(cache)]!.publish(cache, topic, value, tokenId, origin);
  }

  subscribe(cache: string, topic: string, who: Subscriber, after?: Position): Promise<Position> {
    return this.shards[this.of(cache)]!.subscribe(cache, topic, who, after);
  }

  position(cache: string, topic: string): Position | undefined {
    return this.shards[this.of(cache)]!.position(cache, topic);
  }

  /** Every shard's wait runs to its end: one failing at once (its link dropped) must not cut short
   * the others', or a stop's byes would go before the items still on their way from them. */
  async settle(): Promise<void> {
    const failed = (await Promise.allSettled(this.shards.map((s) => s.settle?.()))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  liveInterrupted(cache: string, topic: string): boolean {
    return this.shards[this.of(cache)]!.liveInterrupted?.(cache, topic) ?? false;
  }

  read(cache: string, topic: string, after: Position, maxBytes: number): WindowRead {
    return this.shards[this.of(cache)]!.read(cache, topic, after, maxBytes);
  }

  unsubscribe(cache: string, topic: string, who: Subscriber): void {
    this.shards[this.of(cache)]!.unsubscribe(cache, topic, who);
  }

  stats(): TopicStats {
    const total: TopicStats = { topics: 0, windowBytes: 0, published: 0, delivered: 0, windowEvictions: { perTopic: 0, total: 0, idle: 0 }, topicsEvicted: 0 };
    for (const s of this.shards) {
      const one = s.stats();
      total.topics += one.topics;
      total.windowBytes += one.windowBytes;
      total.published += one.published;
      total.delivered += one.delivered;
      total.windowEvictions.perTopic += one.windowEvictions.perTopic;
      total.windowEvictions.total += one.windowEvictions.total;
      total.windowEvictions.idle += one.windowEvictions.idle;
      total.topicsEvicted += one.topicsEvicted;
      if (one.redisChannels !== undefined) total.redisChannels = (total.redisChannels ?? 0) + one.redisChannels;
    }
    return total;
  }

  *activity(): Iterable<TopicActivity> {
    for (const s of this.shards) yield* s.activity();
  }
}
