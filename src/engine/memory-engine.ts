/** Single-node engine: topics in process memory, fan-out through the local server. */
import { encodeFrame, type ItemFrame, type Position, type PublishResult, type Value, type DiscontinuityFrame } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import type { TopicsConfig } from '../core/config.js';
import { TopicRegistry } from '../topics/topic-registry.js';
import type { Engine, Fanout, SubscriptionSink, TopicEngine } from './engine.js';

export interface MemoryEngineOptions { topics: TopicsConfig; clock: Clock }

class MemoryTopicEngine implements TopicEngine {
  readonly registry: TopicRegistry;
  fanout: Fanout | undefined;

  constructor(private readonly config: TopicsConfig, private readonly clock: Clock) {
    this.registry = new TopicRegistry(config, clock);
  }

  async publish(cache: string, name: string, value: Value, tokenId: string | undefined): Promise<PublishResult> {
    const topic = this.registry.getOrCreate(cache, name);
    const seq = ++topic.seq;
    const item: ItemFrame = { t: 'item', cache, topic: name, value, seq, page: topic.page, ts: this.clock.now() };
    if (tokenId !== undefined) item.tokenId = tokenId;
    const frame = encodeFrame(item);
    this.registry.record(topic, { seq, frame });
    this.fanout!.publish(topic.key, frame);
    return { seq, page: topic.page };
  }

  async subscribe(cache: string, name: string, after: Position | undefined, sink: SubscriptionSink): Promise<void> {
    const topic = this.registry.getOrCreate(cache, name);
    const replay = topic.replayAfter(after);
    topic.subscribers++;
    topic.lastActive = this.clock.now();
    sink.accepted({ page: topic.page, seq: topic.seq, replayed: replay.frames.length });
    if (replay.gap) {
      const disc: DiscontinuityFrame = { t: 'disc', cache, topic: name, lastSeq: replay.gap.lastSeq, newSeq: replay.gap.newSeq, page: topic.page };
      sink.send(encodeFrame(disc));
    }
    for (const frame of replay.frames) sink.send(frame);
    sink.attach(topic.key);
  }

  unsubscribe(cache: string, name: string): void {
    const topic = this.registry.get(cache, name);
    if (topic && topic.subscribers > 0) {
      topic.subscribers--;
      topic.lastActive = this.clock.now();
    }
  }

  stats(): { topics: number; windowBytes: number } {
    return { topics: this.registry.size, windowBytes: this.registry.windowBytes };
  }
}

export class MemoryEngine implements Engine {
  readonly topics: MemoryTopicEngine;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepInterval: number;

  constructor(options: MemoryEngineOptions) {
    this.topics = new MemoryTopicEngine(options.topics, options.clock);
    this.sweepInterval = Math.min(options.topics.idleTopicMs, 60_000);
  }

  start(fanout: Fanout): void {
    this.topics.fanout = fanout;
    this.sweepTimer = setInterval(() => this.topics.registry.sweep(), this.sweepInterval);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
  }
}
