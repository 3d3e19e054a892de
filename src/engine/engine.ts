/** The seam between the broker core and where topics and data live. The memory engine serves one
 * node; a networked engine (Redis) for several nodes implements the same interfaces. The contracts
 * below are what the broker, the handlers and every transport rely on (docs/architecture.md,
 * "The engine seam and its contracts"):
 *
 * 1. Buffer ownership. A binary `Value` handed to any engine method may be a view into the
 *    transport's receive buffer, which is reused once the transport's callback returns. An engine
 *    that keeps it, or uses it after an `await`, copies it first (synchronously, before awaiting).
 * 2. Sequence numbers are contiguous integers per (topic, page), starting at 1: the SDK detects a
 *    lost item by a jump, and windows index by seq. A networked engine assigns them atomically in
 *    its backend (one script: increment, record, publish), never from stream auto-ids. A topic
 *    whose state the backend lost comes back under a new, larger page, so readers see a `disc`,
 *    never a silent gap.
 * 3. `TopicEngine.read` is synchronous and reads a node-local window: a subscriber that sees
 *    `caughtUp` attaches to the fan-out key in the same tick, so no item falls between the read and
 *    the attach. A networked engine therefore keeps a local copy of each locally subscribed topic's
 *    window (filled from the backend on `subscribe`, then fed by its subscription), and fans items
 *    out locally from that copy, in seq order.
 * 4. Connection ids come from `newConnectionId()` and are unique across every node of a cluster,
 *    so `Fanout.sendTo` can route to a connection on another node.
 * 5. Frames handed to `Fanout` are encoded once per item and own their bytes (never a view into an
 *    encoder's shared buffer): windows keep them, and a view would pin the whole buffer.
 * 6. `start()` may be asynchronous (connect, load scripts, subscribe); the server awaits it before
 *    it listens. Limits that protect one process (connections, send buffers) stay per node; limits
 *    on shared state (list length, store bytes) are the backend's. */
import type { Position, PublishResult, Value } from '../protocol/index.js';
import type { WindowRead } from '../topics/topic.js';
import type { CacheEngine } from '../store/cache-store.js';
import type { ModerationEngine } from '../moderation/moderation-engine.js';
import type { PublishHook } from '../core/publish-hook.js';
import type { SharedNotifyState } from '../notify/shared-state.js';
import type { PresenceEngine } from '../presence/presence.js';
import type { Maybe } from '../core/maybe.js';
import type { RevocationList } from '../auth/revocation.js';
import type { IdempotencyContext } from '../core/idempotency-key.js';

export type { PublishHook, PublishedItem } from '../core/publish-hook.js';

/** Native fan-out: hands one encoded frame to every connection attached to `key` (uWS publish),
 * or to one connection by id (e.g. a moderator's `rejected` to the sender). */
export interface Fanout {
  publish(key: string, frame: Uint8Array): void;
  sendTo(connectionId: string, frame: Uint8Array): void;
  /** Sends now what publish() holds back to coalesce (server/native-batching.ts): a frame sent
   * directly after it (a shutdown `bye` naming final positions) must not overtake it. */
  flush?(): void;
}

/** Items read from a topic's recent-items window (see Topic.readAfter). */
export type { WindowRead } from '../topics/topic.js';

/** Who subscribes: presence and per-subscriber bookkeeping key on it. */
export interface Subscriber { connectionId: string; tokenId: string | undefined }

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
  /** Subscriber-less topics dropped to make room for a new one at topics.maxTopics. */
  topicsEvicted: number;
  /** Engine redis: topic channels this node subscribes to in Redis, plus ones left while the link
   * was down (unsubscribed once it is back). At most one per topic with local subscribers, plus
   * those held when the link dropped. */
  redisChannels?: number;
}

/** One live topic, for the admin dashboard (node-local; O(topics), never on the hot path). */
export interface TopicActivity { cache: string; topic: string; page: number; seq: number; subscribers: number; windowBytes: number }

export interface TopicEngine {
  /** Runs `hook` around every publish from now on (register before start()). Hooks run in
   * registration order; the first that throws refuses the publish. */
  addPublishHook<A>(hook: PublishHook<A>): void;
  /** Stamps, records for resume and fans out one item. May complete synchronously (the memory engine
   * does): the reply then leaves inside the transport's callback, where uWS coalesces it with the
   * connection's other writes into one syscall. `tokenId` comes from the verified credential;
   * `origin` is the publishing connection's id (moderation tells it when its input is rejected). */
  publish(cache: string, topic: string, value: Value, tokenId: string | undefined, origin?: string): Maybe<PublishResult>;
  /** Counts one more subscriber of the topic (creating it, and for a networked engine making its
   * local window current) and returns its newest position. `after`: where the subscriber resumes
   * from; a networked engine whose window has not reached it yet (another node delivered it)
   * brings the window up to it first, rather than take it for a position from the future. */
  subscribe(cache: string, topic: string, who: Subscriber, after?: Position): Promise<Position>;
  /** The topic's newest position in the node-local window (what has been fanned out here), or
   * undefined for a topic this node does not hold. Synchronous, like `read`. */
  position(cache: string, topic: string): Position | undefined;
  /** A networked engine: resolves once every item published (anywhere) before the call has reached
   * this node's windows, so `position` names it (the graceful shutdown's `bye` does). Absent: the
   * windows are always current (the memory engine fans out as it publishes). */
  settle?(): Promise<void>;
  /** A networked engine: the node's link carrying the topic's live items is down (its subscribers
   * were sent `topic_interrupted`, and get `topic_resumed` once it is back). A new subscriber is
   * told too. Absent: never. */
  liveInterrupted?(cache: string, topic: string): boolean;
  /** Recorded items after `after`, at most about `maxBytes`, from the node-local window (contract 3). */
  read(cache: string, topic: string, after: Position, maxBytes: number): WindowRead;
  /** Forgets one subscriber of the topic (the caller detached it from the fan-out key). Called
   * exactly once per successful `subscribe`, by the broker's one teardown path. */
  unsubscribe(cache: string, topic: string, who: Subscriber): void;
  stats(): TopicStats;
  /** Every live topic of this node. */
  activity(): Iterable<TopicActivity>;
}

/** One Redis server a node uses (shard `shard` of redis.shards; 0 with one Redis). */
export interface RedisLink {
  shard: number;
  connected: boolean;
  /** Set while Redis refuses this node: WRONGPASS, NOAUTH, NOPERM or DB (core/redis-refusal.ts). */
  refusal: string | undefined;
  /** Times the link came back after being lost, since start. */
  reconnects: number;
  /** A PING's round trip now, in seconds; undefined while the link is down. */
  pingSeconds(): Promise<number | undefined>;
}

export interface Engine {
  readonly topics: TopicEngine;
  /** Lists, dictionaries, sets, sorted sets and scalar items (src/store/cache-store.ts). */
  readonly cache: CacheEngine;
  /** Moderator groups (src/moderation/), registered as a publish hook on `topics`. */
  readonly groups: ModerationEngine;
  /** Who is subscribed where, by tokenId (src/presence/); fed by the presence feature. */
  readonly presence: PresenceEngine;
  /** Engine redis: where the broker puts the idempotency key of the write being applied, so the
   * write's script remembers its first result for every node (core/idempotency-key.ts). */
  readonly idempotency?: IdempotencyContext;
  /** A revocation list shared by every node (engine redis); absent: each server keeps its own. */
  readonly revocations?: RevocationList;
  /** Follows, push subscriptions and admin-added webhook endpoints shared by every node (engine
   * redis); absent: each server keeps its own in memory. */
  readonly notify?: SharedNotifyState;
  /** Engine redis: each Redis connection's state, for /metrics (docs/operations.md). */
  redisLinks?(): RedisLink[];
  /** An id for a new connection, unique across the cluster (contract 4). */
  newConnectionId(): string;
  /** Connects the engine to the server's fan-out; awaited once before any request (contract 6). */
  start(fanout: Fanout): Promise<void>;
  close(): Promise<void>;
}
