/** Per-connection state: who it is (grant), what it listens to, what it has in flight. */
import type { Position } from '../protocol/index.js';
import type { Grant } from '../auth/tokens.js';

/** What the broker needs from a transport connection (the server implements it over uWS). */
export interface Connection {
  /** Queues one binary frame. Returns false when the frame was not accepted (backpressure). */
  send(frame: Uint8Array): boolean;
  /** Bytes queued for sending and not yet written to the socket. */
  bufferedAmount(): number;
  /** Attaches to / detaches from a native fan-out key. */
  attach(key: string): void;
  detach(key: string): void;
  close(code: number, reason: string): void;
}

export interface SubscriptionRef { cache: string; topic: string }

export class Session {
  state: 'awaiting_hello' | 'open' | 'closed' = 'awaiting_hello';
  grant: Grant | undefined;
  /** Fan-out key -> topic, for every topic this connection is subscribed to. */
  readonly subscriptions = new Map<string, SubscriptionRef>();
  /** Subscriptions still receiving their backlog, by fan-out key: the last position sent. They
   * join live fan-out once caught up (engine/catch-up.ts). */
  readonly catchUps = new Map<string, Position>();
  pending = 0;
  /** Set by a handler whose reply must be followed by closing the connection (failed hello). */
  closeAfterReply: { code: number; reason: string } | undefined;
  timers: { hello?: NodeJS.Timeout; notice?: NodeJS.Timeout; expiry?: NodeJS.Timeout } = {};

  constructor(readonly id: string, readonly connection: Connection) {}

  clearTimers(): void {
    clearTimeout(this.timers.hello);
    clearTimeout(this.timers.notice);
    clearTimeout(this.timers.expiry);
    this.timers = {};
  }
}
