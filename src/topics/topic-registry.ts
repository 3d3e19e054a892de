/** Dynamic topics: created on first use, dropped when idle (no subscriber, no publish), bounded in
 * count and in window bytes across all topics. A dropped topic comes back under a new page.
 *
 * At `maxTopics` the registry makes room as a cache would: it drops the least recently used topic
 * that has no subscriber (idle-topics.ts), so one client publishing to many names cannot lock every
 * other user out of new topics until `idleTopicMs` passes. Only when every topic has subscribers is
 * a new one refused. A dropped topic's next use starts a new page: a subscriber resuming from the
 * old page gets a `disc`, never a silent gap. */
import { LimitCause, topicKey } from '../protocol/index.js';
import type { TopicsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded } from '../core/errors.js';
import { Fifo } from '../lib/fifo.js';
import { IdleTopics } from './idle-topics.js';
import { Topic, type WindowEntry, type WindowRead } from './topic.js';

export interface TopicRegistryOptions {
  /** Whether the registry itself drops subscriber-less topics (idle sweep, room at maxTopics).
   * False for the Redis engine's node-local windows: each belongs to a Redis subscription the
   * engine holds (a subscribe under way has no subscriber yet) and drops itself. Default true. */
  dropsIdle?: boolean;
  /** Said after the maximum when a full table refuses a topic: where `maxTopics` came from when it
   * is not the configured figure itself (a node on several Redis shards splits it among them). */
  limitSource?: string;
}

export class TopicRegistry {
  private readonly topics = new Map<string, Topic>();
  /** Subscriber-less topics, least recently used first; undefined when the registry drops none. */
  private readonly idle: IdleTopics | undefined;
  /** Every window entry in publish order, across topics, for the global byte budget. */
  private readonly budgetQueue = new Fifo<{ topic: Topic; seq: number }>();
  private totalWindowBytes = 0;
  /** Window items dropped since start, by why (metrics). */
  readonly evictions = { perTopic: 0, total: 0, idle: 0 };
  /** Subscriber-less topics dropped to make room at maxTopics since start (metrics). */
  topicsEvicted = 0;
  private liveEntries = 0;
  private lastPage = 0;
  private readonly limitSource: string;

  constructor(private readonly config: TopicsConfig, private readonly clock: Clock, options: TopicRegistryOptions = {}) {
    this.idle = options.dropsIdle === false ? undefined : new IdleTopics();
    this.limitSource = options.limitSource === undefined ? '' : ` (${options.limitSource})`;
  }

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

  /** `page`: one peekPage() gave in the same synchronous step (the caller checked a request
   * against it before creating anything); else the next page. */
  getOrCreate(cache: string, name: string, page?: number): Topic {
    const key = topicKey(cache, name);
    let topic = this.topics.get(key);
    if (topic) return topic;
    if (this.topics.size >= this.config.maxTopics) this.makeRoom();
    topic = new Topic(key, cache, name, this.nextPage(page), this.clock.now(), this.idle);
    this.place(topic);
    return topic;
  }

  /** Frees one slot: topics idle past idleTopicMs first, else the least recently used topic without
   * subscribers; refuses when every topic has subscribers. */
  private makeRoom(): void {
    this.sweep();
    if (this.topics.size < this.config.maxTopics) return;
    const lru = this.idle?.oldest();
    if (!lru) {
      throw limitExceeded(LimitCause.TOPICS, `the server holds its maximum of ${this.config.maxTopics} live topics${this.limitSource}, each with subscribers`);
    }
    this.evictions.idle += lru.window.length;
    this.topicsEvicted++;
    this.forget(lru);
  }

  /** Puts `topic` in the table (replacing any other copy of its key) and in the idle list if it has
   * no subscriber. A copy it replaces needs no removal from that list: adopt() forgets its old copy
   * first, and the one getOrCreateWithPage replaces was created the step before without
   * subscribers, so touch() replaces its entry (the list is keyed by topic key). */
  private place(topic: Topic): void {
    this.topics.set(topic.key, topic);
    if (topic.subscribers === 0) this.idle?.touch(topic);
  }

  /** A local copy of a topic whose page a shared backend decides (the Redis topic engine): creates
   * it, or replaces a copy of another page (the backend lost and restarted the topic) with an empty
   * one that keeps its subscriber count. */
  adopt(cache: string, name: string, page: number): Topic {
    const old = this.get(cache, name);
    if (old?.page === page) return old;
    const topic = old ? new Topic(old.key, cache, name, page, this.clock.now(), this.idle) : this.getOrCreateWithPage(cache, name, page);
    if (old) {
      topic.subscribers = old.subscribers;
      this.forget(old);
      this.place(topic);
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
    const adopted = new Topic(topic.key, cache, name, page, this.clock.now(), this.idle);
    this.place(adopted);
    return adopted;
  }

  private forget(topic: Topic): void {
    this.totalWindowBytes -= topic.windowBytes;
    this.liveEntries -= topic.window.length;
    topic.window.clear();
    topic.windowBytes = 0;
    this.idle?.remove(topic);
    this.topics.delete(topic.key);
  }

  /** Records a published frame in the topic's window and enforces the per-topic and global bounds.
   * `topic` is the registry's current copy: every caller got it from get, getOrCreate or adopt in
   * the same synchronous step. */
  record(topic: Topic, entry: WindowEntry): void {
    const bytesBefore = topic.windowBytes;
    const lengthBefore = topic.window.length;
    topic.append(entry, this.config.windowItems, this.config.windowBytes);
    this.totalWindowBytes += topic.windowBytes - bytesBefore;
    this.liveEntries += topic.window.length - lengthBefore;
    this.evictions.perTopic += lengthBefore + 1 - topic.window.length;
    this.budgetQueue.push({ topic, seq: entry.seq });
    topic.lastActive = this.clock.now();
    if (topic.subscribers === 0) this.idle?.touch(topic);
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

  /** Drops topics idle past idleTopicMs. Returns how many were dropped. The idle list is in
   * last-use order, so this stops at the first topic still in use: O(dropped), never a scan. */
  sweep(): number {
    if (!this.idle) return 0;
    const cutoff = this.clock.now() - this.config.idleTopicMs;
    let dropped = 0;
    for (let topic = this.idle.oldest(); topic && topic.lastActive <= cutoff; topic = this.idle.oldest()) {
      this.evictions.idle += topic.window.length;
      this.forget(topic);
      dropped++;
    }
    return dropped;
  }

  /** The page a topic created now would start: after every page handed out (pages only grow, also
   * across restarts: they start from the wall clock). */
  peekPage(): number {
    return Math.max(this.clock.now(), this.lastPage + 1);
  }

  /** `peeked` came from peekPage() in this same synchronous step (getOrCreate's contract), and only
   * this method moves lastPage: it is still after every page handed out. */
  private nextPage(peeked?: number): number {
    this.lastPage = peeked ?? this.peekPage();
    return this.lastPage;
  }

  /** A topic the registry no longer holds has an empty window (forget() cleared it, and record()
   * gets only current copies), so its entries are stale by the first test. */
  private isStale(entry: { topic: Topic; seq: number }): boolean {
    const head = entry.topic.window.peek();
    return !head || head.seq > entry.seq;
  }
}
