/** Per-connection state: who it is (grant), what it listens to, what it has in flight. */
import type { Position } from '../protocol/index.js';
import type { Grant } from '../auth/tokens.js';
import type { NormalSelector } from '../auth/scopes.js';
import type { DueBucket } from './session-deadlines.js';
import { SmallMap } from '../lib/small-map.js';
import type { RefusalRecord } from '../limits/refusal-budget.js';

/** What the broker needs from a transport connection (the server implements it over uWS). */
export interface Connection {
  /** Queues one binary frame. A transport past its hard send-buffer limit, or closed, drops it; the
   * broker learns of a slow connection from bufferedAmount(), not from here. */
  send(frame: Uint8Array): void;
  /** `send` copies the frame or writes it out before returning and keeps no reference to it, so the
   * caller may overwrite the buffer right after (replies reuse one cached frame: engine/replies.ts).
   * Absent (false) for a transport that queues the frame object itself. */
  readonly sendsSynchronously?: boolean;
  /** Bytes queued for sending and not yet written to the socket. */
  bufferedAmount(): number;
  /** Attaches to / detaches from a native fan-out key. */
  attach(key: string): void;
  detach(key: string): void;
  close(code: number, reason: string): void;
  /** `hello` succeeded: the edge moves it from "awaiting hello" to the authenticated count. False
   * when the server already holds its maximum of authenticated connections (the hello is refused). */
  authenticated?(): boolean;
  /** The client asked for batch frames in `hello`; true when this transport sends them (then the
   * connection attaches to its keys' batch variants). Absent: one frame per message. */
  acceptBatches?(): boolean;
}

/** The connection of a session that only dispatches (an HTTP API or gRPC call, answered by its
 * reply): nothing is ever pushed to it, so it holds nothing and sends nothing. */
export const DISPATCH_ONLY: Connection = Object.freeze({
  send: () => {},
  bufferedAmount: () => 0,
  attach: () => {},
  detach: () => {},
  close: () => {},
});

/** Once engaged, one frozen object shared by every connection subscribed to the topic the same way
 * (engine/subscriptions.ts): never change an engaged ref. */
export interface SubscriptionRef {
  readonly cache: string;
  readonly topic: string;
  /** The engine counted this subscriber (its subscribe completed); teardown then releases it. */
  readonly engaged: boolean;
  /** The subscriber asked for the topic's join/leave events (and may see presence). */
  readonly presence?: boolean;
}

/** The key of a membership in Session.groups. */
export function groupKey(cache: string, group: string): string {
  return `${cache}\u0000${group}`;
}

export class Session {
  state: 'awaiting_hello' | 'open' | 'closed' = 'awaiting_hello';
  grant: Grant | undefined;
  /** Fan-out key -> topic, for every topic this connection is subscribed to. */
  readonly subscriptions = new SmallMap<string, SubscriptionRef>();
  /** Moderator groups this connection joined (gsub), by `cache\0group`, with the topics their
   * pattern can match: an in-band refresh that no longer covers them ends the membership. Created
   * on first join: most connections never moderate. */
  groups: Map<string, { cache: string; group: string; selector: NormalSelector }> | undefined;
  /** Subscriptions still receiving their backlog, by fan-out key: the last position sent. They
   * join live fan-out once caught up (engine/catch-up.ts). Created on first use: most connections
   * never have one pending, and idle connections are most of a broker's memory. */
  catchUps: Map<string, Position> | undefined;
  pending = 0;
  /** This connection's request-rate bucket (limits/identity-limits.ts, RequestRateHolder):
   * requests taken since it was last full, and when that was. */
  opsTaken = 0;
  opsFullAt: number | undefined = undefined;
  /** The refused frames charged to this connection (limits/refusal-budget.ts); created on its first. */
  refusals: RefusalRecord | undefined;
  /** Ids of this connection's requests still awaiting an asynchronous answer (created on first
   * use): a new request may not reuse one. */
  inFlightIds: Set<number> | undefined;
  /** Set by a handler whose reply must be followed by closing the connection (failed hello). */
  closeAfterReply: { code: number; reason: string } | undefined;
  /** The token-expiry deadline and what happens then (the sessions due at its time for it), kept
   * by the broker's SessionDeadlines (no Timeout per connection). */
  due: DueBucket | undefined;

  /** Charged instead of this session for per-connection request rates: the client address of a
   * transport whose every call is its own session (gRPC). */
  rateKey: string | undefined;
  /** Its next request was charged already (chargeCall): an HTTP API call pays before its body is
   * parsed, so a malformed or unknown one counts too; the request it becomes is not charged twice. */
  callCharged = false;

  constructor(readonly id: string, readonly connection: Connection) {}

  setCatchUp(key: string, position: Position): void {
    (this.catchUps ??= new Map()).set(key, position);
  }

  clearCatchUp(key: string): void {
    // Dropped once empty: every subscription starts with a catch-up, and an empty Map held by an
    // idle connection for life is ~200 B.
    if (this.catchUps?.delete(key) && this.catchUps.size === 0) this.catchUps = undefined;
  }
}
