/** Feeds presence from the one subscription path: every subscription that starts or ends (unsubscribe,
 * narrowed refresh, server end, connection close) counts once, so two tabs, a reconnect and a
 * crashed connection all come out right. Also attaches subscribers that asked for join/leave
 * events to the topic's presence fan-out key. */
import { presenceKey } from '../protocol/index.js';
import type { PresenceEngine } from '../presence/presence.js';
import type { SubscriptionObserver } from './subscriptions.js';

export function presenceTracking(presence: PresenceEngine): SubscriptionObserver {
  return {
    started(session, ref) {
      // Attach first: the subscriber hears its own join, so a member list built from the
      // `presence` reply plus events never misses the subscriber itself.
      if (ref.presence) { session.connection.attach(presenceKey(ref.cache, ref.topic)); presence.watch?.(ref.cache, ref.topic); }
      const tokenId = session.grant?.tokenId;
      if (tokenId !== undefined) presence.add(ref.cache, ref.topic, { connectionId: session.id, tokenId });
    },
    ended(session, ref) {
      if (ref.presence) { session.connection.detach(presenceKey(ref.cache, ref.topic)); presence.unwatch?.(ref.cache, ref.topic); }
      const tokenId = session.grant?.tokenId;
      if (tokenId !== undefined) presence.remove(ref.cache, ref.topic, { connectionId: session.id, tokenId });
    },
  };
}
