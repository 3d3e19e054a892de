/** Web Push subscriptions (a browser's endpoint and keys), by the tokenId that registered them. An
 * endpoint is one browser on one device, so it belongs to one tokenId: registering it under another
 * tokenId moves it there (the latest registration wins), as a device changes hands when a user
 * signs out and another signs in. Otherwise the device would get one push per tokenId that ever
 * registered it, and each of them a share of the push queue (docs/push.md).
 *
 * A tokenId is only a name: any API key may mint a token carrying any tokenId. So each
 * subscription keeps the scope of the credential that registered it (the latest registration's),
 * and is pushed only topics that scope may subscribe to: a token minted as "alice" by a key of
 * another cache gets none of alice's pushes of topics it could not read itself. */
import { LimitCause } from '../protocol/index.js';
import { invalidArgument, limitExceeded } from '../core/errors.js';
import type { Permission } from '../protocol/index.js';
import type { Maybe } from '../core/maybe.js';
import { internalHostProblem } from './destination-policy.js';

/** The browser's PushSubscription.toJSON() shape. */
export interface PushSubscriptionJson { endpoint: string; keys: { p256dh: string; auth: string } }

/** The topics a subscription may be pushed: those the credential that registered it may subscribe
 * to (the auth feature's compiled subscribe scope fits: SubscribeScopes). */
export interface PushScope {
  /** Stored with the subscription (engine redis), to be compiled again where it is loaded. */
  readonly permissions: readonly Permission[];
  allowsTopic(action: 'subscribe', cache: string, topic: string): boolean;
}

/** A registered subscription: the browser's, and the scope it is pushed within. */
export interface PushRegistration extends PushSubscriptionJson { scope: PushScope }

/** Writes answer once the change is stored (the Redis implementation,
 * engine/redis/shared-push-subscriptions.ts: once Redis has it; it mirrors them in one of these). */
export interface PushSubscriptions {
  /** Adds or replaces (keys and scope); an endpoint another tokenId holds moves to this one
   * (counted against this tokenId's bound, not again against the total). */
  add(tokenId: string, subscription: PushRegistration): Maybe<void>;
  /** Forgets the subscription with this endpoint; false when the tokenId had none. */
  remove(tokenId: string, endpoint: string): Maybe<boolean>;
  /** Drops every subscription of the tokenId (its credentials were revoked). */
  forget(tokenId: string): Maybe<void>;
  of(tokenId: string): readonly PushRegistration[];
}

export interface PushSubscriptionLimits { maxSubscriptionsPerToken: number; maxSubscriptions: number }

export class MemoryPushSubscriptions implements PushSubscriptions {
  private readonly byToken = new Map<string, Map<string, PushRegistration>>();
  /** endpoint -> the tokenId holding it (one each). */
  private readonly owners = new Map<string, string>();
  private total = 0;

  constructor(private readonly limits: PushSubscriptionLimits) {}

  add(tokenId: string, subscription: PushRegistration): void {
    let subs = this.byToken.get(tokenId);
    if (subs?.has(subscription.endpoint)) {
      // The browser re-registered (keys may have rotated, the token's scope changed): replace in place.
      subs.set(subscription.endpoint, subscription);
      return;
    }
    if ((subs?.size ?? 0) >= this.limits.maxSubscriptionsPerToken) {
      throw limitExceeded(LimitCause.PUSH_SUBSCRIPTIONS, `a tokenId may register at most ${this.limits.maxSubscriptionsPerToken} push subscriptions`);
    }
    const previous = this.owners.get(subscription.endpoint);
    // A move takes the endpoint from its earlier owner: the total does not grow.
    if (previous !== undefined) this.remove(previous, subscription.endpoint);
    else if (this.total >= this.limits.maxSubscriptions) throw limitExceeded(LimitCause.PUSH_SUBSCRIPTIONS, `the server holds at most ${this.limits.maxSubscriptions} push subscriptions`);
    if (!subs) this.byToken.set(tokenId, (subs = new Map()));
    subs.set(subscription.endpoint, subscription);
    this.owners.set(subscription.endpoint, tokenId);
    this.total++;
  }

  remove(tokenId: string, endpoint: string): boolean {
    const subs = this.byToken.get(tokenId);
    if (!subs?.delete(endpoint)) return false;
    if (subs.size === 0) this.byToken.delete(tokenId);
    this.owners.delete(endpoint);
    this.total--;
    return true;
  }

  forget(tokenId: string): void {
    const subs = this.byToken.get(tokenId);
    if (!subs) return;
    this.byToken.delete(tokenId);
    for (const endpoint of subs.keys()) this.owners.delete(endpoint);
    this.total -= subs.size;
  }

  of(tokenId: string): readonly PushRegistration[] {
    const subs = this.byToken.get(tokenId);
    return subs ? [...subs.values()] : [];
  }

  get size(): number { return this.total; }
}

const MAX_ENDPOINT_LENGTH = 2048;

/** Checks an untrusted PushSubscription JSON: an https endpoint (http only when allowed, for local
 * push services in tests), a P-256 public key (65 bytes uncompressed) and a 16-byte auth secret,
 * both base64url as browsers give them. Not on this machine or an internal address unless
 * `allowPrivate` (destination-policy.ts): whoever holds a token chooses where the server POSTs. */
export function parsePushSubscription(input: unknown, allowInsecure: boolean, allowPrivate = false): PushSubscriptionJson {
  if (typeof input !== 'object' || input === null) throw invalidArgument('subscription must be a PushSubscription JSON object');
  const { endpoint, keys } = input as Record<string, unknown>;
  if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_LENGTH || !URL.canParse(endpoint)) {
    throw invalidArgument(`subscription.endpoint must be a URL of at most ${MAX_ENDPOINT_LENGTH} characters`);
  }
  const url = new URL(endpoint);
  const protocol = url.protocol;
  // No push service asks for credentials in its endpoint; node:http would send them as Basic auth.
  if (url.username !== '' || url.password !== '') throw invalidArgument('subscription.endpoint must not contain user:password@');
  if (protocol !== 'https:' && !(allowInsecure && protocol === 'http:')) throw invalidArgument('subscription.endpoint must be an https URL');
  const internal = allowPrivate ? undefined : internalHostProblem(url);
  if (internal) throw invalidArgument(`subscription.endpoint must be a public push service: ${internal} (push.allowPrivateEndpoints)`);
  if (typeof keys !== 'object' || keys === null) throw invalidArgument('subscription.keys must be { p256dh, auth }');
  const { p256dh, auth } = keys as Record<string, unknown>;
  if (typeof p256dh !== 'string' || base64urlLength(p256dh) !== 65) throw invalidArgument('subscription.keys.p256dh must be a base64url P-256 public key (65 bytes)');
  if (typeof auth !== 'string' || base64urlLength(auth) !== 16) throw invalidArgument('subscription.keys.auth must be a base64url 16-byte secret');
  return { endpoint, keys: { p256dh, auth } };
}

function base64urlLength(text: string): number {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64url').length : -1;
}
