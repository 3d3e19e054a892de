/** Single-node engine: topics in process memory, fan-out through the local server. */
import { encodeFrame, encodeItem, type ItemFrame, type Position, type PublishResult, type Value } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import { DEFAULTS, type ModerationConfig, type PresenceConfig, type StoreConfig, type TopicsConfig } from '../core/config.js';
import { MemoryPresence } from '../presence/memory-presence.js';
import { MemoryCacheStore } from '../store/memory-store.js';
import { TopicRegistry } from '../topics/topic-registry.js';
import type { Topic } from '../topics/topic.js';
import { MemoryModerationEngine } from '../moderation/memory-moderation.js';
import { inputTopicRefusal } from '../moderation/pattern.js';
import { RandomIds } from '../lib/random-ids.js';
import type { Engine, Fanout, PublishHook, Subscriber, TopicActivity, TopicEngine, TopicStats, WindowRead } from './engine.js';

export interface MemoryEngineOptions { topics: TopicsConfig; clock: Clock; store?: StoreConfig; moderation?: ModerationConfig; presence?: PresenceConfig }

class MemoryTopicEngine implements TopicEngine {
  readonly registry: TopicRegistry;
  private fanout: Fanout | undefined;
  private readonly hooks: PublishHook[] = [];
  /** What each hook's admit returned for the publish in progress (publishes run one at a time,
   * synchronously, so one array serves them all and a publish allocates nothing for it). */
  private readonly admissions: unknown[] = [];
  private published = 0;
  private delivered = 0;

  constructor(config: TopicsConfig, private readonly clock: Clock) {
    this.registry = new TopicRegistry(config, clock);
  }

  addPublishHook<A>(hook: PublishHook<A>): void {
    this.hooks.push(hook as PublishHook);
  }

  start(fanout: Fanout): void {
    this.fanout = fanout;
  }

  sendTo(connectionId: string, frame: Uint8Array): void {
    this.fanout!.sendTo(connectionId, frame);
  }

  publish(cache: string, name: string, value: Value, tokenId: string | undefined, origin?: string): PublishResult {
    return this.publishNow(cache, name, value, tokenId, origin);
  }

  /** publish, synchronously: the cache store's pubAppend publishes and appends in one step. */
  publishNow(cache: string, name: string, value: Value, tokenId: string | undefined, origin?: string): PublishResult & { ts: number } {
    const { hooks, admissions } = this;
    // Before anything changes: a hook (a moderator group with a full buffer) may refuse the publish.
    let admitted = false;
    for (let i = 0; i < hooks.length; i++) {
      const admission = hooks[i]!.admit(cache, name, value);
      admissions[i] = admission;
      if (admission !== undefined) admitted = true;
    }
    const topic = this.registry.getOrCreate(cache, name);
    const seq = ++topic.seq;
    this.published++;
    const item: ItemFrame = { t: 'item', cache, topic: name, value, seq, page: topic.page, ts: this.clock.now() };
    if (tokenId !== undefined) item.tokenId = tokenId;
    this.append(topic, seq, encodeItem(item));
    if (admitted) {
      const published = { cache, topic: name, value, tokenId, page: topic.page, seq, ts: item.ts, origin };
      for (let i = 0; i < hooks.length; i++) {
        const admission = admissions[i];
        admissions[i] = undefined;
        if (admission !== undefined) hooks[i]!.published(published, admission);
      }
    }
    return { seq, page: topic.page, ts: item.ts };
  }

  /** Records and fans out a non-item frame that takes the topic's next seq (a moderation
   * `retract`), so resuming subscribers get it in order. `build` may throw to refuse first: it
   * runs before a topic not held is created (on the page it would get), so a refusal leaves none. */
  stampNow(cache: string, name: string, build: (at: { page: number; seq: number; ts: number; lastSeq: number }) => object): PublishResult {
    const held = this.registry.get(cache, name);
    const page = held?.page ?? this.registry.peekPage();
    const frame = encodeFrame(build({ page, seq: (held?.seq ?? 0) + 1, ts: this.clock.now(), lastSeq: held?.seq ?? 0 }));
    const topic = held ?? this.registry.getOrCreate(cache, name, page);
    const seq = ++topic.seq;
    this.append(topic, seq, frame);
    return { seq, page: topic.page };
  }

  /** Keeps the frame for resume and fans it out. The encoder returns a view into its shared,
   * growing output buffer; the window keeps an exact copy, or one retained item would pin the
   * whole buffer (after one 64 KiB publish, ~770 KiB), and windowTotalBytes would bound payload,
   * not memory. The copy is fanned out too: uWS copies into each socket anyway. (The encoder
   * returns a Node Buffer, whose slice() is a view: the Uint8Array constructor copies.) */
  private append(topic: Topic, seq: number, encoded: Uint8Array): void {
    const frame = new Uint8Array(encoded);
    this.registry.record(topic, { seq, frame });
    this.fanout!.publish(topic.key, frame);
    this.delivered += topic.subscribers;
  }

  async subscribe(cache: string, name: string, _who: Subscriber): Promise<Position> {
    return this.registry.getOrCreate(cache, name).attach(this.clock.now());
  }

  position(cache: string, name: string): Position | undefined {
    return this.registry.position(cache, name);
  }

  read(cache: string, name: string, after: Position, maxBytes: number): WindowRead {
    // A subscribed topic is never dropped, so a miss only happens for a reader that never subscribed.
    return this.registry.read(cache, name, after, maxBytes);
  }

  unsubscribe(cache: string, name: string, _who: Subscriber): void {
    this.registry.get(cache, name)?.detach(this.clock.now());
  }

  stats(): TopicStats {
    return {
      topics: this.registry.size, windowBytes: this.registry.windowBytes, published: this.published, delivered: this.delivered,
      windowEvictions: { ...this.registry.evictions }, topicsEvicted: this.registry.topicsEvicted,
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
  readonly presence: MemoryPresence;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly ids = new RandomIds();
  private readonly sweepInterval: number;

  constructor(options: MemoryEngineOptions) {
    this.topics = new MemoryTopicEngine(options.topics, options.clock);
    // pubAppend to a group's input topic is refused, as on the Redis engine (moderation/pattern.ts).
    this.cache = new MemoryCacheStore(options.store ?? DEFAULTS.store, options.clock, {
      checkTopic: (cache, topic) => {
        if (this.groups.registry.feeds(cache, topic)) throw inputTopicRefusal(topic);
      },
      publishNow: (cache, topic, value, tokenId) => this.topics.publishNow(cache, topic, value, tokenId),
    });
    this.groups = new MemoryModerationEngine(options.moderation ?? DEFAULTS.moderation, options.clock, {
      pubAppend: (...args) => this.cache.pubAppend(...args),
      listRemoveOrigin: (...args) => this.cache.listRemoveOrigin(...args),
      // A read: it throws for a key holding a scalar and changes nothing else.
      checkList: (cache, list) => { this.cache.listLength(cache, list); },
      stampNow: (cache, topic, build) => this.topics.stampNow(cache, topic, build),
      notify: (connectionId, frame) => this.topics.sendTo(connectionId, frame),
    });
    // A publish to an input topic is acknowledged only once every group it feeds took it.
    this.topics.addPublishHook(this.groups);
    this.presence = new MemoryPresence(options.presence ?? DEFAULTS.presence, options.clock);
    this.sweepInterval = Math.min(options.topics.idleTopicMs, 60_000);
  }

  newConnectionId(): string {
    return this.ids.next(8);
  }

  async start(fanout: Fanout): Promise<void> {
    this.topics.start(fanout);
    this.presence.start((key, frame) => fanout.publish(key, frame));
    this.sweepTimer = setInterval(() => { this.topics.registry.sweep(); this.groups.sweep(); }, this.sweepInterval);
    this.sweepTimer.unref();
    this.cache.start();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.groups.close();
    this.presence.close();
    this.cache.close();
  }
}
