/** The seam between the broker core and where topics and data live. The memory engine serves one
 * node; a Redis engine for several nodes implements the same interfaces (docs/architecture.md). */
import type { Position, PublishResult, Value } from '../protocol/index.js';
import type { WindowRead } from '../topics/topic.js';
import type { CacheEngine } from '../store/cache-store.js';
import type { ModerationEngine } from '../moderation/moderation-engine.js';

/** Native fan-out: hands one encoded frame to every connection attached to `key` (uWS publish),
 * or to one connection by id (e.g. a moderator's `rejected` to the sender). */
export interface Fanout {
  publish(key: string, frame: Uint8Array): void;
  sendTo(connectionId: string, frame: Uint8Array): void;
}

/** Items read from a topic's recent-items window (see Topic.readAfter). */
export type { WindowRead } from '../topics/topic.js';

/** Counters for metrics; read on scrape, never on the hot path. */
export interface TopicStats {
  topics: number;
  windowBytes: number;
  published: number;
  /** Item deliveries: each item counted once per subscriber of its topic when published. */
  delivered: number;
  /** Items dropped from resume windows: by a topic's own bounds (`perTopic`), by the total budget
   * (`total`, the oldest anywhere), or with a whole idle topic (`idle`). */
  windowEvictions: { perTopic: number; total: number; idle: number };
}

/** One live topic, for the admin dashboard (node-local; O(topics), never on the hot path). */
export interface TopicActivity { cache: string; topic: string; page: number; seq: number; subscribers: number; windowBytes: number }

export interface TopicEngine {
  /** Stamps, records for resume and fans out one item. May complete synchronously (the memory engine
   * does): the reply then leaves inside the uWS message callback, where uWS coalesces it with the
   * connection's other writes into one syscall. `tokenId` comes from the verified credential;
   * `origin` is the publishing connection's id (moderation tells it when its input is rejected). */
  publish(cache: string, topic: string, value: Value, tokenId: string | undefined, origin?: string): PublishResult | Promise<PublishResult>;
  /** Counts one more subscriber of the topic (creating it) and returns its newest position. */
  subscribe(cache: string, topic: string): Promise<Position>;
  /** Recorded items after `after`, at most about `maxBytes`. Synchronous on purpose: a caller that
   * sees `caughtUp` attaches to the fan-out key in the same tick, so no live item falls between
   * the read and the attach (no gap, no duplicate). */
  read(cache: string, topic: string, after: Position, maxBytes: number): WindowRead;
  /** Forgets one subscriber of the topic (the caller detaches it from the fan-out key). */
  unsubscribe(cache: string, topic: string): void;
  stats(): TopicStats;
  /** Every live topic of this node. */
  activity(): Iterable<TopicActivity>;
}

export interface Engine {
  readonly topics: TopicEngine;
  /** Lists and scalar items (src/store/cache-store.ts). */
  readonly cache: CacheEngine;
  /** Moderator groups (src/moderation/). A publish to a topic matching a group's pattern is offered
   * to the group inside `topics.publish`; `origin` (the publishing connection id) lets a rejection
   * reach its sender. */
  readonly groups: ModerationEngine;
  /** Connects the engine to the server's fan-out; called once before any request. */
  start(fanout: Fanout): void;
  close(): Promise<void>;
}
