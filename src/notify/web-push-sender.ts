/** Web Push: an encrypted message (RFC 8291 aes128gcm) with a VAPID signature (RFC 8292) to each
 * push subscription of a user who follows a topic and is not on it. The `web-push` library builds
 * the request (encryption, VAPID JWT, TTL / Urgency / Topic headers); sending it is ours, through
 * the bounded delivery queue, so retries, timeouts and the "gone" handling follow one policy. */
import { createHash } from 'node:crypto';
import webpush from 'web-push';
import type { PushConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Clock } from '../core/clock.js';
import { BurstCollapser } from './burst-collapser.js';
import { InternalDestinationError, type HostLookup } from './destination-policy.js';
import { OutboundPoster } from './outbound-post.js';
import { DeliveryQueue, type AttemptOutcome, type DeliveryStats, type RetryLater } from './delivery-queue.js';
import { outcomeOfAnswer } from './retry-after.js';
import type { ItemJson } from './events.js';
import type { PushSubscriptions } from './push-subscriptions.js';

export interface VapidKeys { publicKey: string; privateKey: string; subject: string }

/** What the service worker receives (JSON). `count`: items this push stands for (bursts collapse). */
export interface PushPayload { cache: string; topic: string; count: number; item: ItemJson; truncated?: true }

/** Push services accept 4096 bytes of encrypted payload (RFC 8030 §7.2); aes128gcm adds 86 bytes
 * of header, padding and tag around it. Past this the item's value is left out (`truncated`). */
const MAX_PAYLOAD_BYTES = 3993;

/** `endpoint`: the subscription's; its keys are read at each attempt (they may be registered again). */
interface Job { tokenId: string; endpoint: string; cache: string; topic: string; payload: string; topicHeader: string }

export class WebPushSender {
  private readonly queue: DeliveryQueue<Job>;
  private readonly collapser: BurstCollapser<{ tokenId: string; payload: PushPayload }>;
  private closed = false;
  /** Any token holder chooses an endpoint: no internal destination, by IP literal or by what its
   * name resolves to when connecting, unless push.allowPrivateEndpoints. */
  private readonly poster: OutboundPoster;

  constructor(
    private readonly config: PushConfig,
    private readonly vapid: VapidKeys,
    private readonly subscriptions: PushSubscriptions,
    private readonly log: Logger,
    clock: Clock,
    lookup?: HostLookup,
  ) {
    this.poster = new OutboundPoster(config.allowPrivateEndpoints, lookup);
    this.queue = new DeliveryQueue<Job>(
      // One message per request: Web Push has no batches. Each tokenId is an owner with its own
      // share of the queue and of the slots: one user's dead endpoints cannot starve the others.
      {
        queueSize: config.queueSize, maxQueuedPerOwner: config.maxQueuedPerOwner, maxBatch: 1,
        maxInFlight: config.maxInFlight, maxInFlightPerOwner: config.maxInFlightPerOwner,
        maxAttempts: config.maxAttempts, backoffInitialMs: config.backoffInitialMs, backoffMaxMs: config.backoffMaxMs,
      },
      ([job], _attempt, signal) => this.send(job!, signal),
    );
    this.collapser = new BurstCollapser(clock, config.collapseMs, (_key, { tokenId, payload }, count) => this.enqueue(tokenId, { ...payload, count }));
  }

  get publicKey(): string { return this.vapid.publicKey; }

  /** An item for a user who is away: one push per (user, topic) per collapse window, to each of
   * the user's subscriptions whose scope may subscribe to the topic. */
  notify(tokenId: string, cache: string, topic: string, item: ItemJson): void {
    if (this.closed || !this.subscriptions.of(tokenId).some((s) => s.scope.allowsTopic('subscribe', cache, topic))) return;
    this.collapser.offer(tokenId, `${tokenId}\u0000${cache}\u0000${topic}`, { tokenId, payload: { cache, topic, count: 1, item } });
  }

  /** The tokenId's credentials were revoked (its subscriptions are already forgotten): nothing more
   * of it leaves. Its collapsed bursts are forgotten, its queued pushes and pending retries dropped
   * and its requests in flight aborted, counted as dead letters `revoked`. Answers how many. */
  revoked(tokenId: string): number {
    this.collapser.dropOwner(tokenId);
    return this.queue.dropOwner(tokenId, 'revoked');
  }

  stats(): DeliveryStats & { collapsed: number } {
    return { ...this.queue.snapshot(), collapsed: this.collapser.collapsed };
  }

  close(): void {
    this.closed = true;
    this.collapser.close();
    this.queue.close();
    this.poster.close();
  }

  private enqueue(tokenId: string, payload: PushPayload): void {
    let json = JSON.stringify(payload);
    if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) {
      const { value: _v, valueBase64: _b, ...rest } = payload.item;
      json = JSON.stringify({ ...payload, item: rest, truncated: true });
    }
    // The push service keeps only the newest undelivered message per Topic header: a phone that
    // was offline gets one notification per room, not a backlog. At most 32 base64url characters.
    const topicHeader = createHash('sha256').update(`${payload.cache}\u0000${payload.topic}`).digest('base64url').slice(0, 32);
    const { cache, topic } = payload;
    for (const { endpoint, scope } of this.subscriptions.of(tokenId)) {
      // Registered by a credential that may not read the topic (another key's token carrying this
      // tokenId): not its push.
      if (!scope.allowsTopic('subscribe', cache, topic)) continue;
      // The lane is the subscription: one browser's pushes arrive in order. A drop past the
      // tokenId's share or the queue's size is counted (queue_full).
      this.queue.enqueue(endpoint, { tokenId, endpoint, cache, topic, payload: json, topicHeader }, tokenId);
    }
  }

  /** Removes the job's subscription (everywhere, when the store is shared). A failed removal (Redis
   * away) leaves it for the next push, whose answer removes it then. */
  private forget(job: Job): void {
    Promise.resolve(this.subscriptions.remove(job.tokenId, job.endpoint))
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message, tokenId: job.tokenId }, 'removing a gone push subscription failed'));
  }

  private async send(job: Job, dropped: AbortSignal): Promise<AttemptOutcome | RetryLater> {
    // Checked at each attempt, not only when queued: an endpoint unregistered, moved to another
    // tokenId, forgotten (revoked, on any node) or registered again with a scope that does not
    // cover the topic since must not get this push. Encrypted to the keys registered now: the
    // browser holds only its newest ones.
    const current = this.subscriptions.of(job.tokenId).find((s) => s.endpoint === job.endpoint);
    if (!current?.scope.allowsTopic('subscribe', job.cache, job.topic)) return 'unregistered';
    let request: webpush.RequestDetails;
    try {
      request = webpush.generateRequestDetails({ endpoint: current.endpoint, keys: current.keys }, job.payload, {
        vapidDetails: { subject: this.vapid.subject, publicKey: this.vapid.publicKey, privateKey: this.vapid.privateKey },
        TTL: this.config.ttlSec,
        urgency: this.config.urgency,
        topic: job.topicHeader,
        contentEncoding: 'aes128gcm',
      });
    } catch (err) {
      // A subscription whose keys cannot be used will never work.
      this.log.warn({ err: (err as Error).message, tokenId: job.tokenId }, 'push subscription unusable: removed');
      this.forget(job);
      return 'reject';
    }
    try {
      // The poster sets the length itself.
      const { 'Content-Length': _length, ...headers } = request.headers as Record<string, string>;
      const res = await this.poster.post(request.endpoint, headers, request.body ? new Uint8Array(request.body) : null,
        dropped, this.config.timeoutMs);
      if (res.status === 404 || res.status === 410) {
        // The browser unsubscribed or the subscription expired: it will never accept a push again.
        this.forget(job);
        return 'gone';
      }
      return outcomeOfAnswer(res.status, res.retryAfter, Date.now());
    } catch (err) {
      // An endpoint whose name resolves to an internal address stays refused: rejected, not retried.
      if (err instanceof InternalDestinationError) {
        this.log.warn({ tokenId: job.tokenId, reason: err.message }, 'push endpoint refused: internal address');
        return 'reject';
      }
      return 'retry';
    }
  }
}
