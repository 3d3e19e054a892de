/** The seam between the broker core and where topics and data live. The memory engine serves one
 * node; a Redis engine for several nodes implements the same interfaces (docs/architecture.md). */
import type { Position, PublishResult, SubscribeResult, Value } from '../protocol/index.js';

/** Native fan-out: hands one encoded frame to every connection attached to `key` (uWS publish). */
export interface Fanout {
  publish(key: string, frame: Uint8Array): void;
}

/** Where a subscribe delivers. The engine calls, synchronously and in this order: accepted(),
 * send() for each replayed frame, attach(); no live item of the topic is fanned out in between,
 * so a subscriber sees replay then live with no gap and no duplicate. */
export interface SubscriptionSink {
  accepted(result: SubscribeResult): void;
  send(frame: Uint8Array): void;
  attach(fanoutKey: string): void;
}

export interface TopicEngine {
  /** Stamps, records for resume and fans out one item. `tokenId` comes from the verified credential. */
  publish(cache: string, topic: string, value: Value, tokenId: string | undefined): Promise<PublishResult>;
  subscribe(cache: string, topic: string, after: Position | undefined, sink: SubscriptionSink): Promise<void>;
  /** Forgets one subscriber of the topic (the caller detaches it from the fan-out key). */
  unsubscribe(cache: string, topic: string): void;
  stats(): { topics: number; windowBytes: number };
}

export interface Engine {
  readonly topics: TopicEngine;
  /** Connects the engine to the server's fan-out; called once before any request. */
  start(fanout: Fanout): void;
  close(): Promise<void>;
}
