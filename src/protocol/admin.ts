/** The `adminStats` operation: what the operator dashboard (admin/app.js) asks the server for.
 * Types only, shared by the server (src/server/admin/stats.ts) and the SDK's typed request(). */
import type { GroupPattern } from './frames.js';

export interface AdminStatsRequest { t: 'adminStats'; id: number }

export interface AdminGroup {
  cache: string;
  group: string;
  pattern: GroupPattern;
  /** Members by tokenId (the connection id when its credential has none), with what each holds. */
  members: Array<{ name: string; inFlight: number }>;
  buffered: number;
  inFlight: number;
  redelivered: number;
  accepted: number;
  rejected: number;
  timedOut: number;
  deadLettered: number;
  /** Publishes refused because the buffer was full. */
  refused: number;
}

export interface AdminStats {
  /** Sample time, Unix ms. */
  at: number;
  /** The engine; with `redis` the figures are this node's (docs/operations.md), with its links to
   * Redis (one per shard) and why one refuses it (WRONGPASS, NOAUTH, NOPERM, DB). */
  engine: { kind: 'memory' | 'redis'; redisLinks: Array<{ shard: number; connected: boolean; refusal?: string }> };
  startedAt: number;
  /** cutOff: ended with 1006 (dropped links, or past the send buffer's hard limit); refused: upgrades
   * refused at the connection limit or a per-address cap. */
  connections: { open: number; limit: number; cutOff: number; refused: number };
  /** Connections detached from live fan-out for slowness now, and detaches since start. */
  slowConsumers: { detached: number; detaches: number };
  subscriptions: number;
  /** evicted: subscriber-less topics dropped since start to make room at the limit. */
  topics: { live: number; limit: number; evicted: number };
  /** Per second since the previous sample; null in the first one. */
  rates: { publishes: number; deliveries: number } | null;
  totals: { published: number; delivered: number };
  window: { bytes: number; limit: number; evictions: { perTopic: number; total: number; idle: number } };
  store: { items: number; bytes: number; limit: number };
  /** The admin.topGroups groups holding the most buffered + in-flight items. */
  groups: AdminGroup[];
  /** Moderator groups in all (this node's view with engine redis). */
  groupCount: number;
  /** LIMIT_EXCEEDED_ERROR replies since start, by cause. */
  limitEvents: Record<string, number>;
  /** Error replies since start, by operation and code, on every transport (most first). */
  errors: Array<{ op: string; code: string; count: number }>;
  /** Connections the server ended since start, by close code name (slow_consumer, revoked, ...). */
  closes: Record<string, number>;
  /** Busiest topics since the previous sample (empty in the first one). */
  topTopics: Array<{ cache: string; topic: string; perSecond: number; subscribers: number }>;
}
