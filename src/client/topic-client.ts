/** Topics: publish, and subscriptions that survive reconnects. Local subscribers of one topic share
 * one server subscription; each remembers the last (page, seq) it saw, resubscribes with `after`
 * on every reconnect, and drops anything at or before it, so the application sees every item once,
 * in order, or an explicit discontinuity. */
import { ErrorCode, type DiscontinuityFrame, type ItemFrame, type Position, type PublishResult, type SubscribeResult, type Value, type WireError } from '../protocol/index.js';
import type { Connection, RequestOptions } from './connection.js';
import { TidingsClientError, asClientError } from './errors.js';
import { TopicPublish } from './responses.js';
import { TopicDiscontinuity, TopicHeartbeat, TopicItem, TopicRetraction } from './topic-items.js';

export interface SubscribeCallbacks {
  onItem?(item: TopicItem): void;
  /** Only for errors that end the subscription (e.g. a refreshed token no longer allows it). */
  onError?(error: TopicSubscribe.Error, subscription: TopicSubscription): void;
  onDiscontinuity?(discontinuity: TopicDiscontinuity): void;
  onHeartbeat?(heartbeat: TopicHeartbeat): void;
  /** The connection dropped; the subscription resumes by itself when it is back. */
  onConnectionLost?(): void;
  /** A moderator took an item down. */
  onRetraction?(retraction: TopicRetraction): void;
}
export interface SubscribeOptions extends SubscribeCallbacks {
  /** Resume from a saved position (e.g. after a page reload): items after it are replayed. */
  resumeFrom?: Position;
  /** How long to wait for the server to confirm, ms (default: the connection's request timeout). */
  timeoutMs?: number;
}

const RETRYABLE = new Set<string>([ErrorCode.CONNECTION_ERROR, ErrorCode.TIMEOUT_ERROR, ErrorCode.SERVER_UNAVAILABLE]);

export class TopicSubscription {
  readonly type = 'Subscription' as const;
  readonly is_subscribed_response = true;
  constructor(private readonly entry: TopicEntry, readonly callbacks: SubscribeCallbacks) {}
  get isSubscribed(): boolean { return this.entry.listeners.has(this) && this.entry.state !== 'ended'; }
  /** The last position delivered: save it to resume after a reload. */
  lastPosition(): Position | undefined { return this.entry.position; }
  unsubscribe(): void { this.entry.remove(this); }
}

export namespace TopicSubscribe {
  export type Subscription = TopicSubscription;
  export const Subscription = TopicSubscription;
  export class Error {
    readonly type = 'Error' as const;
    constructor(readonly error: TidingsClientError) {}
    errorCode(): ErrorCode { return this.error.code; }
    message(): string { return this.error.message; }
    toString(): string { return `${this.error.code}: ${this.error.message}`; }
  }
  export type Response = TopicSubscription | Error;
}

/** One server subscription and its local listeners. */
class TopicEntry {
  readonly listeners = new Set<TopicSubscription>();
  state: 'pending' | 'active' | 'ended' = 'pending';
  position: Position | undefined;
  private waiters: Array<(error?: TidingsClientError) => void> = [];
  private inFlight = false;

  constructor(readonly client: TopicClient, readonly cache: string, readonly topic: string) {}

  get key(): string { return `${this.cache}\u0000${this.topic}`; }

  /** Sends `sub` (with `after` once a position is known) when the connection is open. */
  subscribe(): void {
    if (this.state === 'ended' || this.inFlight || this.client.connection.status.state !== 'open') return;
    this.inFlight = true;
    const frame = { t: 'sub', cache: this.cache, topic: this.topic, ...(this.position ? { after: this.position } : {}) };
    this.client.connection.request<SubscribeResult>(frame).then(
      (r) => {
        this.inFlight = false;
        this.position ??= { page: r.page, seq: r.seq };
        this.state = 'active';
        this.settle();
      },
      (err: TidingsClientError) => {
        this.inFlight = false;
        // Lost with the connection: the next open sends it again.
        if (RETRYABLE.has(err.code)) return;
        this.end(err);
      },
    );
  }

  waitSettled(): Promise<TidingsClientError | undefined> {
    if (this.state !== 'pending') return Promise.resolve(this.state === 'ended' ? this.endError : undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private endError: TidingsClientError | undefined;

  end(error: TidingsClientError): void {
    if (this.state === 'ended') return;
    const wasActive = this.state === 'active';
    this.state = 'ended';
    this.endError = error;
    this.client.forget(this);
    this.settle(error);
    if (wasActive) for (const s of [...this.listeners]) s.callbacks.onError?.(new TopicSubscribe.Error(error), s);
  }

  private settle(error?: TidingsClientError): void {
    for (const resolve of this.waiters.splice(0)) resolve(error);
  }

  item(frame: ItemFrame | (ItemFrame & { t: 'retract'; target: Position; reason?: string })): void {
    const pos = this.position;
    if (pos && frame.page === pos.page && frame.seq <= pos.seq) return; // already delivered
    this.position = { page: frame.page, seq: frame.seq };
    if ((frame as { t: string }).t === 'retract') {
      const r = frame as unknown as { target: Position; reason?: string; tokenId?: string };
      const retraction = new TopicRetraction(r.target, r.reason, r.tokenId);
      for (const s of [...this.listeners]) s.callbacks.onRetraction?.(retraction);
      return;
    }
    const item = new TopicItem(frame);
    for (const s of [...this.listeners]) s.callbacks.onItem?.(item);
  }

  discontinuity(frame: DiscontinuityFrame): void {
    this.position = { page: frame.page, seq: frame.newSeq - 1 };
    const d = new TopicDiscontinuity(frame.lastSeq, frame.newSeq, frame.page);
    for (const s of [...this.listeners]) s.callbacks.onDiscontinuity?.(d);
  }

  remove(subscription: TopicSubscription): void {
    if (!this.listeners.delete(subscription) || this.listeners.size > 0) return;
    this.state = 'ended';
    this.client.forget(this);
    if (this.client.connection.status.state === 'open') {
      this.client.connection.request({ t: 'unsub', cache: this.cache, topic: this.topic }).catch(() => {});
    }
  }
}

export interface TopicClientOptions { connection: Connection }

export class TopicClient {
  readonly connection: Connection;
  private readonly entries = new Map<string, TopicEntry>();

  constructor(options: TopicClientOptions) {
    this.connection = options.connection;
    this.connection.onOpen(() => { for (const entry of this.entries.values()) entry.subscribe(); });
    this.connection.onPush((frame) => this.push(frame));
    this.connection.onStatus((status) => {
      if (status.state === 'reconnecting') {
        for (const entry of this.entries.values()) for (const s of entry.listeners) s.callbacks.onConnectionLost?.();
      }
      if (status.state === 'closed') {
        const error = status.error ?? new TidingsClientError(ErrorCode.CONNECTION_ERROR, status.reason);
        for (const entry of [...this.entries.values()]) entry.end(error);
      }
    });
  }

  async publish(cache: string, topic: string, value: Value, options?: RequestOptions): Promise<TopicPublish.Response> {
    try {
      const r = await this.connection.request<PublishResult>({ t: 'pub', cache, topic, value }, options);
      return new TopicPublish.Success(r.seq, r.page);
    } catch (err) {
      return new TopicPublish.Error(asClientError(err));
    }
  }

  /** Resolves once the server accepted the subscription (or refused it: TopicSubscribe.Error). */
  async subscribe(cache: string, topic: string, options: SubscribeOptions = {}): Promise<TopicSubscribe.Response> {
    const key = `${cache}\u0000${topic}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = new TopicEntry(this, cache, topic);
      if (options.resumeFrom) entry.position = { ...options.resumeFrom };
      this.entries.set(key, entry);
      entry.subscribe();
    }
    const subscription = new TopicSubscription(entry, options);
    entry.listeners.add(subscription);
    const timeoutMs = options.timeoutMs ?? this.connection.requestTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<TidingsClientError>((resolve) => {
      timer = setTimeout(() => resolve(new TidingsClientError(ErrorCode.TIMEOUT_ERROR, `subscription not confirmed within ${timeoutMs} ms`)), timeoutMs);
    });
    const error = await Promise.race([entry.waitSettled(), timedOut]);
    clearTimeout(timer);
    if (error) {
      entry.remove(subscription);
      return new TopicSubscribe.Error(error);
    }
    return subscription;
  }

  /** @internal */
  forget(entry: TopicEntry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
  }

  private push(frame: Record<string, unknown>): void {
    const t = frame['t'];
    if (t === 'hb') {
      const hb = new TopicHeartbeat();
      for (const entry of this.entries.values()) for (const s of entry.listeners) s.callbacks.onHeartbeat?.(hb);
      return;
    }
    if (t !== 'item' && t !== 'disc' && t !== 'end' && t !== 'retract') return;
    const entry = this.entries.get(`${frame['cache'] as string}\u0000${frame['topic'] as string}`);
    if (!entry) return;
    if (t === 'item' || t === 'retract') entry.item(frame as unknown as ItemFrame);
    else if (t === 'disc') entry.discontinuity(frame as unknown as DiscontinuityFrame);
    else entry.end(TidingsClientError.fromWire(frame['e'] as WireError));
  }
}
