/** The one way a subscription begins and the one way it ends. Unsubscribe, a refresh that narrows
 * the token's scope, the server ending a subscription, a subscribe cancelled while it was being set
 * up, and the connection closing all go through `end`, so the session, the catch-up state, the
 * fan-out attachment, the engine's subscriber count and every observer (presence, per-subscription
 * metrics) change together. */
import { ErrorCode, encodeFrame, type SubscriptionEndFrame, type WireError } from '../protocol/index.js';
import { TidingsError } from '../core/errors.js';
import type { Subscriber, TopicEngine } from './engine.js';
import type { Session, SubscriptionRef } from './session.js';
import { SharedValues } from '../lib/interner.js';

/** Sees every subscription that the engine counted start and end (exactly once each). */
export interface SubscriptionObserver {
  started?(session: Session, ref: SubscriptionRef): void;
  ended?(session: Session, ref: SubscriptionRef): void;
}

/** Subscriptions per tokenId (limits/identity-limits.ts); `subscribe` throws past the bound. */
export interface SubscriptionCount {
  subscribe(tokenId: string | undefined): void;
  unsubscribe(tokenId: string | undefined): void;
}

export class Subscriptions {
  private readonly observers: SubscriptionObserver[] = [];
  /** Engaged refs by fan-out key, without and with presence. An engaged ref never changes, so every
   * connection subscribed to a topic the same way holds one frozen object instead of its own copy
   * (48 B held for life by every idle subscriber; bench/analysis.md, "Connect, memory and history"). */
  private readonly engagedRefs = [new SharedValues<SubscriptionRef>(), new SharedValues<SubscriptionRef>()] as const;
  /** Why a reservation was ended with an error while its `sub` was being set up: that `sub`'s answer. */
  private readonly reservationErrors = new WeakMap<SubscriptionRef, WireError>();

  /** `perTokenId` counts every subscription by its tokenId (limits.maxSubscriptionsPerTokenId). */
  constructor(private readonly topics: TopicEngine, private readonly perTokenId: SubscriptionCount) {}

  observe(observer: SubscriptionObserver): void {
    this.observers.push(observer);
  }

  /** Holds the connection's slot for (cache, topic) before the engine is asked, so two concurrent
   * subscribes cannot both pass the per-connection limit; throws past the tokenId's. */
  reserve(session: Session, key: string, cache: string, topic: string, presence: boolean): SubscriptionRef {
    this.perTokenId.subscribe(session.grant?.tokenId);
    const ref: SubscriptionRef = presence ? { cache, topic, engaged: false, presence: true } : { cache, topic, engaged: false };
    session.subscriptions.set(key, ref);
    return ref;
  }

  /** The engine counted the subscriber. Throws (and releases the engine side) when the reservation
   * ended while the engine was busy: CANCELLED_ERROR when it unsubscribed or the connection closed
   * (endAll ended it), the error it was ended with otherwise (a refresh that no longer allows it). */
  engage(session: Session, key: string, ref: SubscriptionRef): void {
    if (session.subscriptions.get(key) !== ref) {
      this.topics.unsubscribe(ref.cache, ref.topic, subscriber(session));
      const error = this.reservationErrors.get(ref);
      if (error) throw new TidingsError(error.code, error.message);
      throw new TidingsError(ErrorCode.CANCELLED_ERROR, 'the subscription was cancelled while it was being set up');
    }
    const engaged = this.sharedEngaged(key, ref);
    session.subscriptions.set(key, engaged);
    for (const o of this.observers) o.started?.(session, engaged);
  }

  /** The shared, frozen engaged form of `ref` (whose own identity only mattered until now: `engage`
   * tells a reservation from a newer one for the same key by it). */
  private sharedEngaged(key: string, ref: SubscriptionRef): SubscriptionRef {
    const table = this.engagedRefs[ref.presence ? 1 : 0];
    return table.get(key) ?? table.add(key, Object.freeze<SubscriptionRef>(ref.presence
      ? { cache: ref.cache, topic: ref.topic, engaged: true, presence: true } : { cache: ref.cache, topic: ref.topic, engaged: true }));
  }

  /** Ends one subscription; with `error`, tells the client why: in an `end` frame, or, for one still
   * being set up, in its `sub`'s reply (no frame of a subscription precedes that reply). False when
   * the connection had no such subscription. */
  end(session: Session, key: string, error?: WireError): boolean {
    const ref = session.subscriptions.get(key);
    if (!ref) return false;
    session.subscriptions.delete(key);
    this.perTokenId.unsubscribe(session.grant?.tokenId);
    session.clearCatchUp(key);
    session.connection.detach(key);
    if (ref.engaged) {
      this.topics.unsubscribe(ref.cache, ref.topic, subscriber(session));
      for (const o of this.observers) o.ended?.(session, ref);
    }
    if (error && !ref.engaged) this.reservationErrors.set(ref, error);
    else if (error) {
      const end: SubscriptionEndFrame = { t: 'end', cache: ref.cache, topic: ref.topic, e: error };
      session.connection.send(encodeFrame(end));
    }
    return true;
  }

  /** The connection closed: every subscription ends, silently (each with its catch-up). */
  endAll(session: Session): void {
    for (const key of [...session.subscriptions.keys()]) this.end(session, key);
  }
}

export function subscriber(session: Session): Subscriber {
  return { connectionId: session.id, tokenId: session.grant?.tokenId };
}
