/** The seam between the broker core and where topics and data live. The memory engine serves one
 * node; a Redis engine for several nodes implements the same interfaces (docs/architecture.md). */
import type { Position, PublishResult, Value } from '../protocol/index.js';
import type { WindowRead } from '../topics/topic.js';
import type { CacheEngine } from '../store/cache-store.js';

/** Native fan-out: hands one encoded frame to every connection attached to `key` (uWS publish). */
export interface Fanout {
  publish(key: string, frame: Uint8Array): void;
}

/** Items read from a topic's recent-items window (see Topic.readAfter). */
export type { WindowRead } from '../topics/topic.js';

/** Counters for metrics; read on scrape, never on the hot path. */
export interface TopicStats { topics: number; windowBytes: number; published: number }

export interface TopicEngine {
  /** Stamps, records for resume and fans out one item. `tokenId` comes from the verified credential. */
  publish(cache: string, topic: string, value: Value, tokenId: string | undefined): Promise<PublishResult>;
  /** Counts one more subscriber of the topic (creating it) and returns its newest position. */
  subscribe(cache: string, topic: string): Promise<Position>;
  /** Recorded items after `after`, at most about `maxBytes`. Synchronous on purpose: a caller that
   * sees `caughtUp` attaches to the fan-out key in the same tick, so no live item falls between
   * the read and the attach (no gap, no duplicate). */
  read(cache: string, topic: string, after: Position, maxBytes: number): WindowRead;
  /** Forgets one subscriber of the topic (the caller detaches it from the fan-out key). */
  unsubscribe(cache: string, topic: string): void;
  stats(): TopicStats;
}

export interface Engine {
  readonly topics: TopicEngine;
  /** Lists and scalar items (src/store/cache-store.ts). */
  readonly cache: CacheEngine;
  /** Connects the engine to the server's fan-out; called once before any request. */
  start(fanout: Fanout): void;
  close(): Promise<void>;
}
