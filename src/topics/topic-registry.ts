/** Dynamic topics: created on first use, dropped when idle (no subscriber, no publish), bounded in
 * count and in window bytes across all topics. A dropped topic comes back under a new page. */
import { LimitCause, topicKey } from '../protocol/index.js';
import type { TopicsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded } from '../core/errors.js';
import { Fifo } from '../lib/fifo.js';
import { Topic, type WindowEntry, type WindowRead } from './topic.js';

export class TopicRegistry {
  private readonly topics = new Map<string, Topic>();
  /** Every window entry in publish order, across topics, for the global byte budget. */
  private readonly budgetQueue = new Fifo<{ topic: Topic; seq: number }>();
  private totalWindowBytes = 0;
  /** Window items dropped since start, by why (metrics). */
  readonly evictions = { perTopic: 0, total: 0, idle: 0 };
  private liveEntries = 0;
  private lastPage = 0;
  /** No topic can be idle long enough to drop before this time (as of the last sweep): a full
   * registry refuses new topics without scanning every topic on each refused publish. */
  private nextSweepAt = -Infinity;

  constructor(private readonly config: TopicsConfig, private readonly clock: Clock) {}

  get size(): number { return this.topics.size; }
  get windowBytes(): number { return this.totalWindowBytes; }

  all(): IterableIterator<Topic> {
    return this.topics.values();
  }

  get(cache: string, name: string): Topic | undefined {
    return this.topics.get(topicKey(cache, name));
  }

  /** The topic's newest position, or undefined for a topic this node does not hold. */
  position(cache: string, name: string): { page: number; seq: number } | undefined {
    const topic = this.get(cache, name);
    return topic && { page: topic.page, seq: topic.seq };
  }

  /** Window items after `after` (Topic.readAfter); a topic this node does not hold has none. */
  read(cache: string, name: string, after: { page: number; seq: number }, maxBytes: number): WindowRead {
    const topic = this.get(cache, name);
    if (!topic) return { frames: [], next: after, caughtUp: true };
    return topic.readAfter(after, maxBytes);
  }

  getOrCreate(cache: string, name: string): Topic {
    const key = topicKey(cache, name);
    let topic = this.topics.get(key);
    if (topic) return topic;
    if (this.topics.size >= this.config.maxTopics) {
      if (this.clock.now() >= this.nextSweepAt) this.sweep();
      if (this.topics.size >= this.config.maxTopics) {
        throw limitExceeded(LimitCause.TOPICS, `the server holds its maximum of ${this.config.maxTopics} live topics`);
      }
    }
    topic = new Topic(key, cache, name, this.nextPage(), this.clock.now());
    this.topics.set(key, topic);
    return topic;
  }

  /** A local copy of a topic whose page a shared backend decides (the Redis topic engine): creates
   * it, or replaces a copy of another page (the backend lost and restarted the topic) with an empty
   * one that keeps its subscriber count. */
  adopt(cache: string, name: string, page: number): Topic {
    const old = this.get(cache, name);
    if (old?.page === page) return old;
    const topic = old ? new Topic(old.key, cache, name, page, this.clock.now()) : this.getOrCreateWithPage(cache, name, page);
    if (old) {
      topic.subscribers = old.subscribers;
      this.forget(old);
      this.topics.set(topic.key, topic);
    }
    return topic;
  }

  /** Drops a topic's local state now (a networked engine whose last local subscriber left). */
  drop(cache: string, name: string): void {
    const topic = this.get(cache, name);
    if (topic) this.forget(topic);
  }

  private getOrCreateWithPage(cache: string, name: string, page: number): Topic {
    const topic = this.getOrCreate(cache, name);
    if (topic.page === page) return topic;
    const adopted = new Topic(topic.key, cache, name, page, this.clock.now());
    this.topics.set(topic.key, adopted);
    return adopted;
  }

  private forget(topic: Topic): void {
    this.totalWindowBytes -= topic.windowBytes;
    this.liveEntries -= topic.window.length;
    topic.window.clear();
    topic.windowBytes = 0;
    this.topics.delete(topic.key);
  }

  /** Records a published frame in the topic's window and enforces the per-topic and global bounds. */
  record(topic: Topic, entry: WindowEntry): void {
    const bytesBefore = topic.windowBytes;
    const lengthBefore = topic.window.length;
    topic.append(entry, this.config.windowItems, this.config.windowBytes);
    this.totalWindowBytes += topic.windowBytes - bytesBefore;
    this.liveEntries += topic.window.length - lengthBefore;
    this.evictions.perTopic += lengthBefore + 1 - topic.window.length;
    this.budgetQueue.push({ topic, seq: entry.seq });
    topic.lastActive = this.clock.now();
    while (this.totalWindowBytes > this.config.windowTotalBytes) {
      const oldest = this.budgetQueue.shift();
      if (!oldest) break;
      const freed = oldest.topic.dropIfOldest(oldest.seq);
      if (freed > 0) { this.totalWindowBytes -= freed; this.liveEntries--; this.evictions.total++; }
    }
    // Entries for items a topic already dropped itself are stale; compact before they outnumber
    // the live ones, so the queue stays proportional to what the windows hold.
    if (this.budgetQueue.length > 2 * this.liveEntries + 1024) {
      const live = [...this.budgetQueue].filter((e) => !this.isStale(e));
      this.budgetQueue.clear();
      for (const e of live) this.budgetQueue.push(e);
    }
  }

  /** Drops topics idle past idleTopicMs. Returns how many were dropped. */
  sweep(): number {
    const now = this.clock.now();
    const cutoff = now - this.config.idleTopicMs;
    // A topic with subscribers now, or active later, goes idle no sooner than now + idleTopicMs.
    let next = now + this.config.idleTopicMs;
    let dropped = 0;
    for (const [key, topic] of this.topics) {
      if (topic.subscribers === 0 && topic.lastActive > cutoff) next = Math.min(next, topic.lastActive + this.config.idleTopicMs);
      if (topic.subscribers === 0 && topic.lastActive <= cutoff) {
        this.totalWindowBytes -= topic.windowBytes;
        this.liveEntries -= topic.window.length;
        this.evictions.idle += topic.window.length;
        topic.window.clear();
        topic.windowBytes = 0;
        this.topics.delete(key);
        dropped++;
      }
    }
    this.nextSweepAt = next;
    return dropped;
  }

  /** Pages only grow, also across restarts (they start from the wall clock). */
  private nextPage(): number {
    this.lastPage = Math.max(this.clock.now(), this.lastPage + 1);
    return this.lastPage;
  }

  private isStale(entry: { topic: Topic; seq: number }): boolean {
    const head = entry.topic.window.peek();
    return !head || head.seq > entry.seq || this.topics.get(entry.topic.key) !== entry.topic;
  }
}
