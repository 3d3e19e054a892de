/** One server subscription and the local subscribers sharing it. It remembers the last (page, seq)
 * delivered, resubscribes with `after` on every reconnect, and drops anything at or before that
 * position, so each local subscriber sees every item once, in order, or an explicit discontinuity. */
import { ErrorCode, LimitCause, topicKey, type DiscontinuityFrame, type ItemFrame, type Position, type RetractFrame } from '../protocol/index.js';
import type { Connection, OutgoingFrame } from './connection.js';
import { cancelledError, guard, type TidingsClientError } from './errors.js';
import { ErrorResponse } from './responses.js';
import { TopicDiscontinuity, TopicHeartbeat, TopicItem, TopicNotice, TopicPresenceEvent, TopicRetraction } from './topic-items.js';

export interface SubscribeCallbacks {
  onItem?(item: TopicItem): void;
  /** Only for errors that end an established subscription (e.g. a refreshed token no longer
   * allows it, or the connection closed for good). The subscription is already ended. */
  onError?(error: TopicSubscribe.Error, subscription: TopicSubscription): void;
  onDiscontinuity?(discontinuity: TopicDiscontinuity): void;
  /** The server's heartbeat (every `heartbeatMs`), on every subscription of the connection. */
  onHeartbeat?(heartbeat: TopicHeartbeat): void;
  /** The server's shared store (engine `redis`) went away for this topic, or came back and the
   * topic caught up (TopicNotice kind topic_interrupted / topic_resumed). The connection stays
   * open; items resume by themselves. */
  onNotice?(notice: TopicNotice): void;
  /** The connection dropped (once per outage); the subscription resumes by itself when it is back. */
  onConnectionLost?(): void;
  /** The subscription ended: unsubscribe(), or after onError. */
  onSubscriptionEnd?(): void;
  /** A moderator took an item down (docs/moderation.md). */
  onRetraction?(retraction: TopicRetraction): void;
  /** A user joined / left the topic (needs `presence: true` and a token that may see presence). */
  onJoin?(event: TopicPresenceEvent): void;
  onLeave?(event: TopicPresenceEvent): void;
}

export interface SubscribeOptions extends SubscribeCallbacks {
  /** Resume from a saved position (e.g. after a page reload): items after it are replayed, or a
   * discontinuity says what the server no longer holds. Ignored when this connection already
   * subscribes to the topic (the new subscriber joins the live stream). */
  resumeFrom?: Position;
  /** How long to wait for the server to confirm, ms (default: the connection's request timeout). */
  timeoutMs?: number;
  /** Also receive the topic's join/leave events (onJoin / onLeave). The token needs the presence
   * permission (docs/tokens.md), else the subscribe fails with PERMISSION_ERROR. */
  presence?: boolean;
  /** Gives up waiting for the confirmation (CANCELLED_ERROR). */
  signal?: AbortSignal;
  abortSignal?: AbortSignal;
}

export class TopicSubscription {
  readonly type = 'Subscription' as const;
  readonly is_subscribed_response = true;
  /** @internal */
  constructor(private readonly entry: TopicEntry, readonly callbacks: SubscribeCallbacks) {}
  get cacheName(): string { return this.entry.cache; }
  get topicName(): string { return this.entry.topic; }
  get isSubscribed(): boolean { return this.entry.listeners.has(this) && this.entry.state !== 'ended'; }
  /** The last position delivered (item or discontinuity): save it to resume after a reload. */
  lastPosition(): Position | undefined { return this.entry.position && { ...this.entry.position }; }
  unsubscribe(): void { this.entry.remove(this, true); }
  toString(): string { return `Subscription: ${this.entry.cache}/${this.entry.topic}`; }
}

export namespace TopicSubscribe {
  export type Subscription = TopicSubscription;
  export const Subscription = TopicSubscription;
  export class Error extends ErrorResponse {}
  export type Response = TopicSubscription | Error;
}

/** What an entry needs from the topics of its connection (topic-client.ts: ConnectionTopics). */
export interface EntryOwner {
  readonly connection: Connection;
  forget(entry: TopicEntry): void;
}

/** Errors after which a subscription simply waits for the next connection. */
const WAIT_FOR_RECONNECT: ReadonlySet<string> = new Set<string>([ErrorCode.CONNECTION_ERROR, ErrorCode.SERVER_UNAVAILABLE]);

/** How long a resubscription refused with topic_subscriptions_limit_exceeded is asked again: the
 * slots may be held by this client's own previous, half-open connection until the server drops it
 * (server.idleTimeoutSec, at most 960 s, what uWebSockets.js allows). Past that, the limit is real. */
const LIMIT_RETRY_MS = 960_000;

/** A resubscription refused because the server still counts the subscriptions of a link it has not
 * yet seen die. */
function heldByOldLink(err: TidingsClientError): boolean {
  return err.code === ErrorCode.LIMIT_EXCEEDED_ERROR && err.limitCause === LimitCause.SUBSCRIPTIONS;
}

export class TopicEntry {
  readonly listeners = new Set<TopicSubscription>();
  state: 'pending' | 'active' | 'ended' = 'pending';
  position: Position | undefined;
  /** The position at which the server last shut down with this topic (a shutdown `bye`), until the
   * resume shows whether its page ended. */
  private previousPageEnd: Position | undefined;
  /** Some local subscriber asked for join/leave events: every `sub` of this entry asks for them. */
  presence = false;
  private waiters: Array<(error?: TidingsClientError) => void> = [];
  private inFlight = false;
  private recovering = false;
  /** A `sub` refused SERVER_UNAVAILABLE on a link that stays open is asked again after a backoff. */
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** The `after` of the last `sub` sent: a replay's `disc` counts from it (see discontinuity()). */
  private sentAfter: Position | undefined;
  /** A hole seen before the `sub` in flight was confirmed (see recover()). */
  private holeBeforeConfirm = false;
  /** When a resubscription was first refused by the subscriptions limit (see LIMIT_RETRY_MS). */
  private limitedSince: number | undefined;
  /** `sub` requests of this entry the server has not answered yet (see awaitingSub). */
  private subsUnanswered = 0;
  private endError: TidingsClientError | undefined;

  constructor(private readonly owner: EntryOwner, readonly cache: string, readonly topic: string) {}

  get key(): string { return topicKey(this.cache, this.topic); }

  /** A `sub` of this entry awaits its reply. The server sends a subscription's frames only after
   * that reply, so a `disc` or `end` read now was sent for an earlier subscription to the topic on
   * this connection (one unsubscribed a moment ago, or the one a resubscription replaces). */
  get awaitingSub(): boolean { return this.subsUnanswered > 0; }

  /** Sends a `sub`; `answered` runs as its reply is read (or it fails without one), before the
   * frames read after that reply. */
  private requestSub(frame: OutgoingFrame<'sub'>, answered?: () => void) {
    let unanswered = true;
    const settle = () => {
      if (!unanswered) return;
      unanswered = false;
      this.subsUnanswered--;
      answered?.();
    };
    this.subsUnanswered++;
    const reply = this.owner.connection.request(frame, { onReply: settle });
    reply.then(settle, settle);
    return reply;
  }

  /** Sends `sub` (with `after` once a position is known) when the connection is open. */
  subscribe(): void {
    const connection = this.owner.connection;
    if (this.state === 'ended' || this.inFlight || connection.status.state !== 'open') return;
    this.inFlight = true;
    clearTimeout(this.retryTimer); // this one asks already (e.g. sent on a reconnect's open)
    const frame = { t: 'sub' as const, cache: this.cache, topic: this.topic, ...(this.position ? { after: this.position } : {}), ...(this.presence ? { presence: true } : {}) };
    this.sentAfter = this.position;
    this.holeBeforeConfirm = false; // this `sub` resumes after the position: the server refills it
    this.requestSub(frame).then(
      (r) => {
        this.inFlight = false;
        if (this.state === 'ended') return;
        this.retries = 0;
        this.limitedSince = undefined;
        this.position ??= { page: r.page, seq: r.seq };
        // The resume after a shutdown found the page going on (engine redis keeps it in Redis):
        // that bye named no page end, and a later page change is not counted from it.
        if (this.previousPageEnd?.page === r.page) this.previousPageEnd = undefined;
        this.state = 'active';
        this.settle();
        // A local subscriber asked for join/leave events while this `sub` (without them) was in
        // flight, or a hole showed before it was confirmed.
        if (this.holeBeforeConfirm || (this.presence && !frame.presence)) this.resubscribe();
      },
      (err: TidingsClientError) => {
        this.inFlight = false;
        if (this.state === 'ended') return;
        if (WAIT_FOR_RECONNECT.has(err.code)) {
          // The next open sends it again. But SERVER_UNAVAILABLE can come on a link that stays
          // open (engine redis: Redis unreachable for now): then no open comes, and without asking
          // again the subscription would wait for ever, silently (after a reconnect, it is already
          // "active" for the app).
          if (err.code === ErrorCode.SERVER_UNAVAILABLE && connection.status.state === 'open') this.retryLater();
          return;
        }
        if (err.code === ErrorCode.TIMEOUT_ERROR) {
          // The server may have taken it after all (its late reply is dropped): end that one first,
          // else the new `sub` is refused ALREADY_EXISTS_ERROR while the server keeps the old one.
          // Not when the link is gone (with it the server's subscription): a queued `unsub` would
          // go out after the resubscription on the next link, which sends the `sub` again itself.
          // Asked again after the backoff, as every other retry: a server too slow to answer now
          // is not helped by an immediate second `sub` (from every client at once).
          if (connection.status.state !== 'open') return;
          connection.request({ t: 'unsub', cache: this.cache, topic: this.topic }).catch(() => {});
          return this.retryLater();
        }
        if (err.code === ErrorCode.ALREADY_EXISTS_ERROR && this.state === 'active') return; // an earlier attempt landed after all
        if (this.limitRetry(err)) return;
        this.end(err);
      },
    );
  }

  /** A resubscription (the app holds this subscription already; never a first subscribe, which
   * reports the refusal) refused by the subscriptions limit, after a reconnect or on the open link
   * (a presence upgrade, a gap recovery): the previous link may be half-open, its subscriptions
   * still counted until the server notices. Ask again with the backoff until its slots are freed,
   * for LIMIT_RETRY_MS at most. */
  private limitRetry(err: TidingsClientError): boolean {
    if (this.state !== 'active' || !heldByOldLink(err) || this.owner.connection.status.state !== 'open') return false;
    this.limitedSince ??= Date.now();
    if (Date.now() - this.limitedSince > LIMIT_RETRY_MS) return false;
    this.retryLater();
    return true;
  }

  /** Asks again (`subscribe()` unless told otherwise) after the reconnect backoff. */
  private retryLater(ask: () => void = () => this.subscribe()): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; ask(); }, this.owner.connection.backoffDelay(this.retries++));
  }

  waitSettled(): Promise<TidingsClientError | undefined> {
    if (this.state !== 'pending') return Promise.resolve(this.state === 'ended' ? this.endError : undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends the subscription for every local subscriber (server `end`, refusal, connection closed).
   * `quiet`: the application closed the connection itself, so no onError, only onSubscriptionEnd. */
  end(error: TidingsClientError, quiet = false): void {
    if (this.state === 'ended') return;
    const wasActive = this.state === 'active';
    this.state = 'ended';
    clearTimeout(this.retryTimer);
    this.endError = error;
    this.owner.forget(this);
    this.settle(error);
    if (!wasActive) return;
    for (const s of [...this.listeners]) {
      if (!quiet) guard(() => s.callbacks.onError?.(new TopicSubscribe.Error(error), s));
      guard(() => s.callbacks.onSubscriptionEnd?.());
    }
  }

  item(frame: ItemFrame | RetractFrame): void {
    const pos = this.position;
    // Pages only grow; within a page, seq does. Anything at or before the position was delivered.
    if (pos && (frame.page < pos.page || (frame.page === pos.page && frame.seq <= pos.seq))) return;
    // A jump in seq, or a newer page that no `disc` announced (the server announces every page
    // change with one): frames were lost.
    if (pos && (frame.page > pos.page || frame.seq > pos.seq + 1)) return this.recover();
    this.position = { page: frame.page, seq: frame.seq };
    if (frame.t === 'retract') {
      const retraction = new TopicRetraction(frame.target, frame.reason, frame.tokenId);
      for (const s of [...this.listeners]) guard(() => s.callbacks.onRetraction?.(retraction));
      return;
    }
    const item = new TopicItem(frame);
    for (const s of [...this.listeners]) guard(() => s.callbacks.onItem?.(item));
  }

  /** A hole in the live stream without a `disc` (a seq jump, or a new page with no `disc` first):
   * the server's WebSocket layer dropped frames for a connection whose send buffer overflowed.
   * Rather than skip them, resubscribe after the last item delivered; the server replays the rest
   * from its window (or says `disc` if it no longer can). Items arriving meanwhile are dropped
   * here and come again in the replay.
   * Before the first `sub` is confirmed, the items of an earlier subscription of this connection
   * (unsubscribed a moment ago) may set the position, and the server starts this one after its
   * reply's position, not from there: an item published between its `unsub` and `sub` is a hole no
   * replay refills. Resubscribe once the `sub` is confirmed (resubscribe() needs it active). */
  private recover(): void {
    if (this.state === 'pending') this.holeBeforeConfirm = true;
    this.resubscribe();
  }

  /** A later local subscriber asks for join/leave events the server subscription lacks: subscribe
   * again with them, after the last item delivered (nothing is lost; the server's leave grace
   * hides the brief unsubscribe from other members). */
  wantPresence(): void {
    if (this.presence) return;
    this.presence = true;
    if (this.state === 'active') this.resubscribe();
  }

  private resubscribe(): void {
    const connection = this.owner.connection;
    if (this.recovering || this.state !== 'active' || connection.status.state !== 'open') return;
    this.recovering = true;
    const done = () => { this.recovering = false; };
    const presence = this.presence;
    connection.request({ t: 'unsub', cache: this.cache, topic: this.topic }).catch(() => {});
    this.sentAfter = this.position;
    // Done once its reply is read: a hole among the frames after it (read before the promise's
    // callbacks run) is not one this `sub` refills, and starts the next recovery at once.
    this.requestSub({ t: 'sub', cache: this.cache, topic: this.topic, after: this.position, ...(presence ? { presence: true } : {}) }, done).then(() => {
      this.retries = 0;
      // A local subscriber asked for join/leave events while this `sub` (without them) was in
      // flight: wantPresence() could not resubscribe then.
      if (this.presence && !presence) this.resubscribe();
    }, (err: TidingsClientError) => {
      if (this.state === 'ended') return;
      // Its unsub went through: on a link that stays open, ask again (as in subscribe()).
      if (err.code === ErrorCode.SERVER_UNAVAILABLE && connection.status.state === 'open') return this.retryLater();
      if (this.limitRetry(err)) return;
      // Not answered in time: the server may take it yet, or refuse it (a late reply is dropped),
      // and a hole being refilled stays open until another item comes (on a quiet topic, never).
      // Ask again, unsub first, as this one did; the next open resubscribes anyway.
      if (err.code === ErrorCode.TIMEOUT_ERROR && connection.status.state === 'open') return this.retryLater(() => this.resubscribe());
      if (!WAIT_FOR_RECONNECT.has(err.code) && err.code !== ErrorCode.TIMEOUT_ERROR) this.end(err);
    });
  }

  /** The server shut down with the topic at `end` (from its `bye`). */
  pageEnded(end: Position): void {
    this.previousPageEnd = { page: end.page, seq: end.seq };
  }

  discontinuity(frame: DiscontinuityFrame): void {
    const pos = this.position;
    let lastSeq = frame.lastSeq;
    // Only a disc counted from the position itself may take it back (the position was one the
    // topic never reached): the last `sub` sent it. A replay's lastSeq is its `after`'s seq, which
    // across a page change is an older page's and may equal the new position's seq by chance.
    const fromPosition = pos !== undefined && lastSeq === pos.seq && this.sentAfter?.page === pos.page && this.sentAfter.seq === pos.seq;
    if (pos && frame.page === pos.page && !fromPosition) {
      // A replay's disc counted from an older `after` than this entry's position: a resubscribe on
      // an open connection sends the position of that moment, and items already on their way
      // arrive before the server takes the `sub`. Only what lies past the position was missed;
      // when nothing does, the disc is stale: taking the position back would deliver the replayed
      // items twice.
      if (frame.newSeq <= pos.seq + 1) return;
      lastSeq = pos.seq;
    }
    // Onto a new page after a shutdown: the old page's final seq (from the bye) tells what was missed.
    const ended = this.previousPageEnd;
    const missed = ended && this.position && ended.page === this.position.page && frame.page !== ended.page
      ? Math.max(0, ended.seq - this.position.seq) : undefined;
    this.previousPageEnd = undefined;
    this.position = { page: frame.page, seq: frame.newSeq - 1 };
    const d = new TopicDiscontinuity(lastSeq, frame.newSeq, frame.page, missed);
    for (const s of [...this.listeners]) guard(() => s.callbacks.onDiscontinuity?.(d));
  }

  presenceEvent(kind: 'join' | 'leave', tokenId: string): void {
    const event = new TopicPresenceEvent(kind, tokenId);
    for (const s of [...this.listeners]) guard(() => (kind === 'join' ? s.callbacks.onJoin : s.callbacks.onLeave)?.(event));
  }

  notice(kind: TopicNotice['kind']): void {
    const notice = new TopicNotice(kind, this.cache, this.topic);
    for (const s of [...this.listeners]) guard(() => s.callbacks.onNotice?.(notice));
  }

  heartbeat(hb: TopicHeartbeat): void {
    for (const s of [...this.listeners]) guard(() => s.callbacks.onHeartbeat?.(hb));
  }

  connectionLost(): void {
    for (const s of [...this.listeners]) guard(() => s.callbacks.onConnectionLost?.());
  }

  /** Detaches one local subscriber; the last one out ends the server subscription. */
  remove(subscription: TopicSubscription, notify: boolean): void {
    if (!this.listeners.delete(subscription)) return;
    if (notify && this.state === 'active') guard(() => subscription.callbacks.onSubscriptionEnd?.());
    if (this.listeners.size > 0 || this.state === 'ended') return;
    const wasSubscribed = this.state === 'active' || this.inFlight;
    this.state = 'ended';
    clearTimeout(this.retryTimer);
    this.owner.forget(this);
    this.settle(cancelledError('unsubscribed before the server confirmed'));
    const connection = this.owner.connection;
    if (wasSubscribed && connection.status.state === 'open') {
      connection.request({ t: 'unsub', cache: this.cache, topic: this.topic }).catch(() => { /* gone with the connection */ });
    }
  }

  private settle(error?: TidingsClientError): void {
    for (const resolve of this.waiters.splice(0)) resolve(error);
  }
}
