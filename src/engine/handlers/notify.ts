/** follow / unfollow / pushRegister / pushUnregister / pushKey (docs/push.md). Everything is tied
 * to the caller's tokenId, so a token without one cannot use them. */
import { failedPrecondition, invalidArgument, permissionDenied } from '../../core/errors.js';
import type { NotifyService } from '../../notify/notify-service.js';
import { parsePushSubscription } from '../../notify/push-subscriptions.js';
import { map, type HandlerTable } from '../handler.js';
import type { Session } from '../session.js';
import { nameField } from '../validate.js';

function tokenIdOf(session: Session): string {
  const tokenId = session.grant!.tokenId;
  if (tokenId === undefined) throw failedPrecondition('notifications are per user: the token needs a tokenId');
  return tokenId;
}

/** `endpoints`: which push endpoints are accepted (push.allowInsecureEndpoints, push.allowPrivateEndpoints). */
export function notifyHandlers(service: NotifyService, endpoints: { allowInsecureEndpoints: boolean; allowPrivateEndpoints: boolean }): HandlerTable {
  const push = () => {
    if (!service.push) throw failedPrecondition('Web Push is not configured on this server (push.vapidPublicKey)');
    return service.push;
  };
  return {
    follow({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      // Following reveals items through notifications: only for topics the token may read.
      if (!session.grant!.permissions.allowsTopic('subscribe', cache, topic)) {
        throw permissionDenied(`token may not subscribe to topic "${topic}" in cache "${cache}", so it may not follow it`);
      }
      return map(service.followers.follow(tokenIdOf(session), cache, topic), () => ({}));
    },
    unfollow({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      return map(service.followers.unfollow(tokenIdOf(session), cache, topic), () => ({}));
    },
    pushRegister({ session, frame }) {
      push();
      return map(service.subscriptions.add(tokenIdOf(session), parsePushSubscription(frame['subscription'], endpoints.allowInsecureEndpoints, endpoints.allowPrivateEndpoints)), () => ({}));
    },
    pushUnregister({ session, frame }) {
      const endpoint = frame['endpoint'];
      if (typeof endpoint !== 'string') throw invalidArgument('endpoint must be a string (the push subscription\'s endpoint URL)');
      return map(service.subscriptions.remove(tokenIdOf(session), endpoint), (removed) => ({ removed }));
    },
    pushKey() {
      return { publicKey: push().publicKey };
    },
  };
}
