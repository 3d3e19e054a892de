/** Topics, shaped like Momento's TopicClient: publish, and subscriptions that survive reconnects.
 * Local subscribers of one topic share one server subscription (subscription.ts). */
import { ErrorCode, topicKey, type ByeFrame, type DiscontinuityFrame, type ItemFrame, type RetractFrame, type Value, type WireError } from '../protocol/index.js';
import { clientLink, type ClientOptions } from './client-options.js';
import type { Connection, IdempotentWriteOptions, RequestOptions } from './connection.js';
import { TidingsClientError, asClientError, cancelledError } from './errors.js';
import { TopicPresence, TopicPublish, orThrow } from './responses.js';
import { TopicEntry, TopicSubscribe, TopicSubscription, type EntryOwner, type SubscribeOptions } from './subscription.js';
import { TopicHeartbeat } from './topic-items.js';
import { timeoutProblem } from './options.js';

export { TopicSubscribe, TopicSubscription, type SubscribeCallbacks, type SubscribeOptions } from './subscription.js';

/** `{ connection }` to share one (see connect()), or connection options to open its own. */
export type TopicClientOptions = ClientOptions;

/** The topics subscribed on one connection, by whichever TopicClients on it: the server holds one
 * subscription per topic and connection (a second `sub` is ALREADY_EXISTS_ERROR), so the clients
 * sharing a connection share its entries, and one set of listeners feeds them. */
export class ConnectionTopics implements EntryOwner {
  readonly entries = new Map<string, TopicEntry>();
  private readonly detach: Array<() => void>;
  /** onConnectionLost fires once per outage, not once per failed reconnect attempt. */
  private lostNotified = false;
  private clients = 0;

  /** The connection's topics, counting one more client until it calls release(). */
  static join(connection: Connection): ConnectionTopics {
    const topics = (connection.topics ??= new ConnectionTopics(connection));
    topics.clients++;
    return topics;
  }

  private constructor(readonly connection: Connection) {
    this.detach = [
      this.connection.onOpen(() => {
        this.lostNotified = false;
        for (const entry of [...this.entries.values()]) entry.subscribe();
      }),
      this.connection.onPush((frame) => this.push(frame)),
      this.connection.onStatus((status) => {
        if (status.state === 'reconnecting' && !this.lostNotified) {
          this.lostNotified = true;
          for (const entry of [...this.entries.values()]) if (entry.state === 'active') entry.connectionLost();
        }
        if (status.state === 'closed') {
          // No `error`: closed by the application, which needs no onError about it.
          const error = status.error ?? new TidingsClientError(ErrorCode.CONNECTION_ERROR, status.reason);
          for (const entry of [...this.entries.values()]) entry.end(error, status.error === undefined);
        }
      }),
    ];
  }

  /** A client is done with the connection: the last one stops listening to it. */
  release(): void {
    if (--this.clients > 0) return;
    for (const off of this.detach.splice(0)) off();
    this.connection.topics = undefined;
  }

  /** @internal An entry calls this once, as it ends (subscription.ts: end(), remove()); until then
   * it is the one under its key: an entry is added only under a free key and removed only here. */
  forget(entry: TopicEntry): void {
    this.entries.delete(entry.key);
  }

  private push(frame: Record<string, unknown>): void {
    const t = frame['t'];
    if (t === 'hb') {
      const hb = new TopicHeartbeat();
      for (const entry of [...this.entries.values()]) if (entry.state === 'active') entry.heartbeat(hb);
      return;
    }
    if (t === 'bye' && Array.isArray(frame['ends'])) {
      // A shutdown: where each topic stood, so a resume on a new page can say what it missed.
      for (const end of frame['ends'] as NonNullable<ByeFrame['ends']>) this.entries.get(topicKey(end.cache, end.topic))?.pageEnded(end);
      return;
    }
    const notice = t === 'notice' && (frame['kind'] === 'topic_interrupted' || frame['kind'] === 'topic_resumed');
    if (t !== 'item' && t !== 'disc' && t !== 'end' && t !== 'retract' && t !== 'join' && t !== 'leave' && !notice) return;
    const entry = this.entries.get(topicKey(frame['cache'] as string, frame['topic'] as string));
    if (!entry) return;
    // Sent for an earlier server subscription to the topic (see awaitingSub): not this entry's.
    if ((t === 'disc' || t === 'end') && entry.awaitingSub) return;
    // So is a notice read before a new entry's first `sub` is answered: the server tells the new
    // subscription after its reply (topic_interrupted, if still so). Not while an active entry
    // resubscribes: the subscription replaced was this one's, and its topic_resumed is not sent
    // again. join/leave are never dropped: the server may send the subscriber's own join first.
    if (notice && entry.state === 'pending' && entry.awaitingSub) return;
    if (notice) return entry.notice(frame['kind'] as 'topic_interrupted' | 'topic_resumed');
    if (t === 'join' || t === 'leave') return entry.presenceEvent(t, frame['tokenId'] as string);
    if (t === 'item' || t === 'retract') entry.item(frame as unknown as ItemFrame | RetractFrame);
    else if (t === 'disc') entry.discontinuity(frame as unknown as DiscontinuityFrame);
    else entry.end(TidingsClientError.fromWire(frame['e'] as WireError));
  }
}

export class TopicClient {
  readonly connection: Connection;
  private readonly topics: ConnectionTopics;
  /** This client's subscriptions (its close() ends them, not other clients' on the connection). */
  private readonly own = new WeakSet<TopicSubscription>();
  private readonly owned: boolean;
  private readonly throwOnErrors: boolean;
  /** close() was called: it stopped listening to the connection, so a subscription made now would
   * never hear its items (on a shared connection, which stays open). */
  private closed = false;

  constructor(options: TopicClientOptions) {
    const link = clientLink(options);
    this.connection = link.connection;
    this.owned = link.owned;
    this.throwOnErrors = link.throwOnErrors;
    this.topics = ConnectionTopics.join(this.connection);
  }

  /** Publishes text or bytes. Success carries the item's (seq, page). */
  async publish(cacheName: string, topicName: string, value: Value, options?: IdempotentWriteOptions): Promise<TopicPublish.Response> {
    let response: TopicPublish.Response;
    try {
      const r = await this.connection.request({ t: 'pub', cache: cacheName, topic: topicName, value }, options);
      response = new TopicPublish.Success(r.seq, r.page);
    } catch (err) {
      response = new TopicPublish.Error(asClientError(err));
    }
    return orThrow(response, this.throwOnErrors);
  }

  /** Who is subscribed to the topic now, by tokenId (docs/presence.md). Needs a token that may see
   * presence there (PERMISSION_ERROR otherwise). */
  async presence(cacheName: string, topicName: string, options?: RequestOptions): Promise<TopicPresence.Response> {
    let response: TopicPresence.Response;
    try {
      const r = await this.connection.request({ t: 'presence', cache: cacheName, topic: topicName }, options);
      response = new TopicPresence.Success(r.members, r.untracked);
    } catch (err) {
      response = new TopicPresence.Error(asClientError(err));
    }
    return orThrow(response, this.throwOnErrors);
  }

  /** Resolves once the server accepted the subscription, or to TopicSubscribe.Error when it was
   * refused (PERMISSION_ERROR, ...), not confirmed in time (TIMEOUT_ERROR; CONNECTION_ERROR when
   * the connection was down the whole time) or cancelled. */
  async subscribe(cacheName: string, topicName: string, options: SubscribeOptions = {}): Promise<TopicSubscribe.Response> {
    return orThrow(await this.subscribeOrError(cacheName, topicName, options), this.throwOnErrors);
  }

  /** Ends every subscription of this client; closes the connection when the client opened it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of [...this.topics.entries.values()]) for (const s of [...entry.listeners]) if (this.own.has(s)) s.unsubscribe();
    this.topics.release();
    if (this.owned) this.connection.close();
  }

  private async subscribeOrError(cache: string, topic: string, options: SubscribeOptions): Promise<TopicSubscribe.Response> {
    const problem = options.timeoutMs === undefined ? undefined : timeoutProblem(options.timeoutMs);
    if (problem) return new TopicSubscribe.Error(new TidingsClientError(ErrorCode.INVALID_ARGUMENT_ERROR, `subscribe: ${problem}`));
    if (this.closed) return new TopicSubscribe.Error(new TidingsClientError(ErrorCode.CONNECTION_ERROR, 'the TopicClient is closed'));
    const status = this.connection.status;
    if (status.state === 'closed') {
      return new TopicSubscribe.Error(new TidingsClientError(ErrorCode.CONNECTION_ERROR, `connection is closed: ${status.reason}`));
    }
    const signal = options.signal ?? options.abortSignal;
    if (signal?.aborted) return new TopicSubscribe.Error(cancelledError('subscribe was cancelled'));
    const key = topicKey(cache, topic);
    let entry = this.topics.entries.get(key);
    if (!entry) {
      entry = new TopicEntry(this.topics, cache, topic);
      if (options.resumeFrom) entry.position = { page: options.resumeFrom.page, seq: options.resumeFrom.seq };
      if (options.presence) entry.presence = true;
      this.topics.entries.set(key, entry);
      entry.subscribe();
    } else if (options.presence) {
      entry.wantPresence();
    }
    const subscription = new TopicSubscription(entry, options);
    entry.listeners.add(subscription);
    this.own.add(subscription);

    const timeoutMs = options.timeoutMs ?? this.connection.requestTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const gaveUp = new Promise<TidingsClientError>((resolve) => {
      timer = setTimeout(() => resolve(this.connection.status.state === 'open'
        ? new TidingsClientError(ErrorCode.TIMEOUT_ERROR, `subscription to ${topic} not confirmed within ${timeoutMs} ms`)
        : new TidingsClientError(ErrorCode.CONNECTION_ERROR, `not connected: subscription to ${topic} not established within ${timeoutMs} ms`)), timeoutMs);
      onAbort = () => resolve(cancelledError('subscribe was cancelled'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const error = await Promise.race([entry.waitSettled(), gaveUp]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    if (error) {
      entry.remove(subscription, false);
      return new TopicSubscribe.Error(error);
    }
    return subscription;
  }
}
