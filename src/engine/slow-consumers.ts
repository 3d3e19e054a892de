/** Turns backpressure into replay instead of dropped frames. A subscriber whose send buffer passes
 * the high-water mark (server.maxBackpressureBytes) is detached from the live fan-out of its topics;
 * each of those subscriptions switches to the paced catch-up from the window that resume uses
 * (engine/catch-up.ts), starting at the topic's newest position, since everything up to it is already
 * queued for the socket. When the socket drains it catches up and reattaches with no gap and no
 * duplicate; only what fell out of the window meanwhile is announced by a `disc`. A connection
 * still detached after server.slowConsumerTimeoutMs gets `bye` 4002 and close 4002.
 *
 * Detection is bounded by bytes, not time: a socket's buffer grows by at most the bytes fanned out
 * since the last scan, so scanning every (hardLimit - highWater) / 2 bytes fanned out guarantees a
 * subscriber is detached before the transport's hard limit (where uWS would drop frames and close). */
import { CloseCode } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import type { ServerConfig } from '../core/config.js';
import type { TopicEngine } from './engine.js';
import type { Session } from './session.js';

export interface SlowConsumerDeps {
  sessions: ReadonlyMap<string, Session>;
  topics: TopicEngine;
  config: Readonly<ServerConfig>;
  clock: Clock;
  bye(session: Session, code: number, reason: string): void;
}

export class SlowConsumers {
  /** Detached connections and when they were detached. */
  private readonly detachedAt = new Map<Session, number>();
  private fannedOutSinceScan = 0;
  private readonly scanEveryBytes: number;
  private timer: NodeJS.Timeout | undefined;
  /** Detaches since start (metrics). */
  detaches = 0;

  constructor(private readonly deps: SlowConsumerDeps) {
    this.scanEveryBytes = Math.max(1, (deps.config.sendBufferHardLimitBytes - deps.config.maxBackpressureBytes) / 2);
  }

  get detached(): number { return this.detachedAt.size; }

  start(): void {
    // The byte-driven scans find slow sockets under load; this one finds them when traffic stops,
    // and ends those past the deadline.
    const every = Math.min(1000, Math.max(10, Math.floor(this.deps.config.slowConsumerTimeoutMs / 4)));
    this.timer = setInterval(() => { this.scan(); this.expire(); }, every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A frame of `bytes` went to the fan-out: scan once enough has gone out to matter. */
  fannedOut(bytes: number): void {
    this.fannedOutSinceScan += bytes;
    if (this.fannedOutSinceScan >= this.scanEveryBytes) this.scan();
  }

  /** The connection's buffer drained and its catch-ups ran: is it whole again? */
  drained(session: Session): void {
    if (!session.catchUps?.size) this.detachedAt.delete(session);
  }

  closed(session: Session): void {
    this.detachedAt.delete(session);
  }

  private scan(): void {
    this.fannedOutSinceScan = 0;
    const highWater = this.deps.config.maxBackpressureBytes;
    for (const session of this.deps.sessions.values()) {
      if (session.state !== 'open' || session.subscriptions.size === 0 || this.detachedAt.has(session)) continue;
      if (session.connection.bufferedAmount() > highWater) this.detach(session);
    }
  }

  private detach(session: Session): void {
    const { connection } = session;
    for (const [key, ref] of session.subscriptions) {
      if (!ref.engaged || session.catchUps?.has(key)) continue;
      const position = this.deps.topics.position(ref.cache, ref.topic);
      if (!position) continue;
      connection.detach(key);
      session.setCatchUp(key, position);
    }
    this.detachedAt.set(session, this.deps.clock.now());
    this.detaches++;
  }

  private expire(): void {
    const cutoff = this.deps.clock.now() - this.deps.config.slowConsumerTimeoutMs;
    for (const [session, since] of this.detachedAt) {
      if (since > cutoff) continue;
      this.detachedAt.delete(session);
      // Every subscription caught up (or ended) since: attached again, not slow.
      if (!session.catchUps?.size) continue;
      this.deps.bye(session, CloseCode.SLOW_CONSUMER, `the connection could not take its items for ${this.deps.config.slowConsumerTimeoutMs} ms; resume from the last (page, seq)`);
    }
  }
}
