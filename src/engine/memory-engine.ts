/** Single-node engine: topics in process memory, fan-out through the local server. */
import { encodeFrame, encodeItem, type ItemFrame, type Position, type PublishResult, type Value } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import { DEFAULTS, type ModerationConfig, type StoreConfig, type TopicsConfig } from '../core/config.js';
import { MemoryCacheStore } from '../store/memory-store.js';
import { TopicRegistry } from '../topics/topic-registry.js';
import type { Topic } from '../topics/topic.js';
import { MemoryModerationEngine } from '../moderation/memory-moderation.js';
import { type Engine, type Fanout, type TopicActivity, type TopicEngine, type TopicStats, type WindowRead } from './engine.js';

export interface MemoryEngineOptions { topics: TopicsConfig; clock: Clock; store?: StoreConfig; moderation?: ModerationConfig }

class MemoryTopicEngine implements TopicEngine {
  readonly registry: TopicRegistry;
  fanout: Fanout | undefined;
  /** Moderator groups: a publish to a matching input topic is acknowledged only once they took it. */
  moderation: MemoryModerationEngine | undefined;
  private published = 0;
  private delivered = 0;

  constructor(private readonly config: TopicsConfig, private readonly clock: Clock) {
    this.registry = new TopicRegistry(config, clock);
  }

  publish(cache: string, name: string, value: Value, tokenId: string | undefined, origin?: string): PublishResult {
    return this.publishNow(cache, name, value, tokenId, origin);
  }

  /** publish, synchronously: the cache store's pubAppend publishes and appends in one step. */
  publishNow(cache: string, name: string, value: Value, tokenId: string | undefined, origin?: string): PublishResult & { ts: number } {
    // Before anything changes: a moderator group with a full buffer refuses the publish.
    const admission = this.moderation?.admit(cache, name, value);
    const topic = this.registry.getOrCreate(cache, name);
    const seq = ++topic.seq;
    this.published++;
    const item: ItemFrame = { t: 'item', cache, topic: name, value, seq, page: topic.page, ts: this.clock.now() };
    if (tokenId !== undefined) item.tokenId = tokenId;
    this.append(topic, seq, encodeItem(item));
    if (admission) this.moderation!.offer(admission, { cache, topic: name, value, tokenId, page: topic.page, seq, ts: item.ts, origin });
    return { seq, page: topic.page, ts: item.ts };
  }

  /** Records and fans out a non-item frame that takes the topic's next seq (a moderation
   * `retract`), so resuming subscribers get it in order. `build` may throw to refuse first. */
  stampNow(cache: string, name: string, build: (at: { page: number; seq: number; ts: number; lastSeq: number }) => object): PublishResult {
    const topic = this.registry.getOrCreate(cache, name);
    const frame = encodeFrame(build({ page: topic.page, seq: topic.seq + 1, ts: this.clock.now(), lastSeq: topic.seq }));
    const seq = ++topic.seq;
    this.append(topic, seq, frame);
    return { seq, page: topic.page };
  }

  /** Keeps the frame for resume and fans it out. */
  private append(topic: Topic, seq: number, frame: Uint8Array): void {
    this.registry.record(topic, { seq, frame });
    this.fanout!.publish(topic.key, frame);
    this.delivered += topic.subscribers;
  }

  async subscribe(cache: string, name: string): Promise<Position> {
    const topic = this.registry.getOrCreate(cache, name);
    topic.subscribers++;
    topic.lastActive = this.clock.now();
    return { page: topic.page, seq: topic.seq };
  }

  read(cache: string, name: string, after: Position, maxBytes: number): WindowRead {
    const topic = this.registry.get(cache, name);
    // A subscribed topic is never dropped, so this only happens for a reader that never subscribed.
    if (!topic) return { frames: [], next: after, caughtUp: true };
    return topic.readAfter(after, maxBytes);
  }

  unsubscribe(cache: string, name: string): void {
    const topic = this.registry.get(cache, name);
    if (topic && topic.subscribers > 0) {
      topic.subscribers--;
      topic.lastActive = this.clock.now();
    }
  }

  stats(): TopicStats {
    return {
      topics: this.registry.size, windowBytes: this.registry.windowBytes, published: this.published, delivered: this.delivered,
      windowEvictions: { ...this.registry.evictions },
    };
  }

  *activity(): Iterable<TopicActivity> {
    for (const t of this.registry.all()) yield { cache: t.cache, topic: t.name, page: t.page, seq: t.seq, subscribers: t.subscribers, windowBytes: t.windowBytes };
  }
}

export class MemoryEngine implements Engine {
  readonly topics: MemoryTopicEngine;
  readonly cache: MemoryCacheStore;
  readonly groups: MemoryModerationEngine;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepInterval: number;

  constructor(options: MemoryEngineOptions) {
    this.topics = new MemoryTopicEngine(options.topics, options.clock);
    this.cache = new MemoryCacheStore(options.store ?? DEFAULTS.store, options.clock, this.topics);
    this.groups = new MemoryModerationEngine(options.moderation ?? DEFAULTS.moderation, options.clock, {
      cache: this.cache,
      stampNow: (cache, topic, build) => this.topics.stampNow(cache, topic, build),
      notify: (connectionId, frame) => this.topics.fanout!.sendTo(connectionId, frame),
    });
    this.topics.moderation = this.groups;
    this.sweepInterval = Math.min(options.topics.idleTopicMs, 60_000);
  }

  start(fanout: Fanout): void {
    this.topics.fanout = fanout;
    this.sweepTimer = setInterval(() => { this.topics.registry.sweep(); this.groups.sweep(); }, this.sweepInterval);
    this.sweepTimer.unref();
    this.cache.start();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.groups.close();
    this.cache.close();
  }
}
