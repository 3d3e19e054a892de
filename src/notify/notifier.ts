/** The publish hook and presence listener that turn what happens on topics into notifications:
 * webhook events for the app's backend, Web Push for followers who are away. Everything here only
 * looks up and queues; sending happens later, in the delivery queues, so a slow or dead receiver
 * never slows a publish. */
import { randomBytes } from 'node:crypto';
import type { PublishHook, PublishedItem } from '../core/publish-hook.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { itemJson, type ItemJson, type NotifyEvent } from './events.js';
import type { Followers } from './followers.js';
import type { WebhookEndpoints } from './webhook-endpoints.js';
import type { WebPushSender } from './web-push-sender.js';

/** What the notifier needs from presence (structurally the presence engine; named here so this
 * feature does not import another). */
export interface PresenceLookup {
  isPresent(cache: string, topic: string, tokenId: string): boolean | Promise<boolean>;
}
export interface PresenceChangeEvent { kind: 'join' | 'leave'; cache: string; topic: string; tokenId: string; ts: number }

export class Notifier implements PublishHook<true> {
  /** Event ids: unique per server run (random prefix) and ordered within it. */
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private nextId = 0;
  /** Follower notifications dropped because the presence lookup failed, since start (/metrics). */
  presenceFailures = 0;
  /** Of those, the ones not logged yet, and when the last log was (at most one per interval). */
  private unloggedFailures = 0;
  private failureLoggedAt: number | undefined;

  constructor(
    private readonly webhooks: WebhookEndpoints,
    private readonly followers: Followers,
    private readonly presence: PresenceLookup,
    private readonly push: WebPushSender | undefined,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly failureLogIntervalMs: number,
  ) {}

  /** Runs on every publish: three lookups, no allocation when nobody listens. */
  admit(cache: string, topic: string): true | undefined {
    if (this.followers.of(cache, topic) !== undefined || this.webhooks.wants(cache, topic, 'item.published')) return true;
    return undefined;
  }

  published(item: PublishedItem): void {
    const json = itemJson(item);
    if (this.webhooks.wants(item.cache, item.topic, 'item.published')) this.emit('item.published', item.cache, item.topic, undefined, json);
    const followers = this.followers.of(item.cache, item.topic);
    if (!followers) return;
    for (const tokenId of followers) {
      // The author is not notified of their own item.
      if (tokenId === item.tokenId) continue;
      const present = this.presence.isPresent(item.cache, item.topic, tokenId);
      if (present instanceof Promise) present.then((p) => { if (!p) this.away(tokenId, item.cache, item.topic, json); }, (err: unknown) => this.presenceFailed(err));
      else if (!present) this.away(tokenId, item.cache, item.topic, json);
    }
  }

  presenceChanged(change: PresenceChangeEvent): void {
    const type = change.kind === 'join' ? 'subscriber.joined' : 'subscriber.left';
    if (this.webhooks.wants(change.cache, change.topic, type)) this.emit(type, change.cache, change.topic, change.tokenId, undefined, change.ts);
  }

  /** Without knowing whether the follower is here, nothing is sent: a push to a reader who is
   * present would be a duplicate. Counted every time; logged once per interval, not per item. */
  private presenceFailed(err: unknown): void {
    this.presenceFailures++;
    this.unloggedFailures++;
    const now = this.clock.now();
    if (this.failureLoggedAt !== undefined && now - this.failureLoggedAt < this.failureLogIntervalMs) return;
    this.log.warn({ err: (err as Error)?.message, dropped: this.unloggedFailures }, 'presence lookup failed: follower notifications dropped (item.undelivered and Web Push)');
    this.failureLoggedAt = now;
    this.unloggedFailures = 0;
  }

  private away(tokenId: string, cache: string, topic: string, item: ItemJson): void {
    if (this.webhooks.wants(cache, topic, 'item.undelivered')) this.emit('item.undelivered', cache, topic, tokenId, item);
    this.push?.notify(tokenId, cache, topic, item);
  }

  private emit(type: NotifyEvent['type'], cache: string, topic: string, tokenId: string | undefined, item: ItemJson | undefined, ts = this.clock.now()): void {
    const event: NotifyEvent = { id: `${this.idPrefix}-${++this.nextId}`, type, cache, topic, ts };
    if (tokenId !== undefined) event.tokenId = tokenId;
    if (item) event.item = item;
    this.webhooks.emit(event);
  }
}
