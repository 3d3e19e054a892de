/** The notification feature's state, one per server: who follows what, push subscriptions, the
 * webhook endpoints and the senders. Created before the server starts (it registers the publish
 * hook), closed when it stops. */
import webpush from 'web-push';
import type { TidingsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { MemoryFollowers, type Followers } from './followers.js';
import { MemoryPushSubscriptions, type PushSubscriptions } from './push-subscriptions.js';
import { WebhookEndpoints } from './webhook-endpoints.js';
import { WebPushSender, type VapidKeys } from './web-push-sender.js';
import { Notifier, type PresenceLookup } from './notifier.js';
import type { SharedNotifyState } from './shared-state.js';
import type { HostLookup } from './destination-policy.js';

export interface NotifyServiceOptions {
  config: Readonly<TidingsConfig>;
  presence: PresenceLookup;
  /** The engine's shared follows and push subscriptions (engine redis); else this server's own. */
  shared?: SharedNotifyState | undefined;
  clock: Clock;
  log: Logger;
  /** Host names of webhook and push destinations to addresses (default node:dns lookup); what it
   * answers is checked against the internal-destination policy like any answer. */
  lookup?: HostLookup | undefined;
}

export class NotifyService {
  readonly followers: Followers;
  readonly subscriptions: PushSubscriptions;
  readonly webhooks: WebhookEndpoints;
  /** Undefined when no VAPID keys are configured (and not in dev mode): push is off. */
  readonly push: WebPushSender | undefined;
  readonly notifier: Notifier;

  private readonly log: Logger;

  constructor({ config, presence, shared, clock, log, lookup }: NotifyServiceOptions) {
    this.log = log;
    this.followers = shared?.followers ?? new MemoryFollowers(config.notify);
    this.subscriptions = shared?.subscriptions ?? new MemoryPushSubscriptions(config.push);
    this.webhooks = new WebhookEndpoints(config.webhooks, clock, log, shared?.webhooks, lookup);
    const vapid = vapidKeys(config);
    this.push = vapid ? new WebPushSender(config.push, vapid, this.subscriptions, log, clock, lookup) : undefined;
    this.notifier = new Notifier(this.webhooks, this.followers, presence, this.push, clock, log, config.notify.failureLogIntervalMs);
  }

  /** A revoked tokenId's follows and push subscriptions go with it: a leaked credential's push
   * endpoint must not keep receiving the topics it followed. With shared state every node hears
   * the revocation and removes them (the same idempotent removal; one that fails while Redis is
   * away is done by the other nodes, and this node's copy forgets them at once regardless). Its
   * pushes already queued here are dropped and its requests in flight aborted: once the revocation
   * is acknowledged, nothing more of it leaves this node. */
  tokenIdRevoked(tokenId: string): void {
    for (const forgetting of [this.followers.forget(tokenId), this.subscriptions.forget(tokenId)]) {
      if (forgetting instanceof Promise) forgetting.catch((err: unknown) => this.log.warn({ err: (err as Error).message, tokenId }, 'forgetting a revoked tokenId\'s notifications failed'));
    }
    // After the copies forgot the subscriptions (synchronously): a burst emitted now finds none.
    const dropped = this.push?.revoked(tokenId) ?? 0;
    if (dropped > 0) this.log.info({ tokenId, dropped }, 'queued pushes of a revoked tokenId dropped');
  }

  close(): void {
    this.webhooks.close();
    this.push?.close();
  }
}

/** Configured keys; in dev mode without keys, a fresh pair (browsers then need to subscribe again
 * after each restart, which is fine for a demo). */
function vapidKeys(config: Readonly<TidingsConfig>): VapidKeys | undefined {
  const { vapidPublicKey, vapidPrivateKey, subject } = config.push;
  if (vapidPublicKey !== '') return { publicKey: vapidPublicKey, privateKey: vapidPrivateKey, subject };
  if (!config.dev) return undefined;
  const generated = webpush.generateVAPIDKeys();
  return { publicKey: generated.publicKey, privateKey: generated.privateKey, subject };
}
