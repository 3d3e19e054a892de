/** follow / unfollow / pushRegister / pushUnregister / pushKey (docs/push.md). Everything is tied
 * to the caller's tokenId, so a token without one cannot use them. */
import { LimitCause, utf8Length } from '../../protocol/index.js';
import { failedPrecondition, invalidArgument, limitExceeded, permissionDenied } from '../../core/errors.js';
import { SubscribeScopes } from '../../auth/scopes.js';
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

/** `limits`: which push endpoints are accepted (push.allowInsecureEndpoints,
 * push.allowPrivateEndpoints) and how large a scope a subscription keeps (push.maxScopeBytes). */
export function notifyHandlers(service: NotifyService, limits: { allowInsecureEndpoints: boolean; allowPrivateEndpoints: boolean; maxScopeBytes: number }): HandlerTable {
  const scopes = new SubscribeScopes();
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
      const tokenId = tokenIdOf(session);
      const subscription = parsePushSubscription(frame['subscription'], limits.allowInsecureEndpoints, limits.allowPrivateEndpoints);
      // The subscription is pushed only what this credential may subscribe to: the tokenId alone
      // says nothing of who minted the token (docs/push.md).
      const scope = scopes.of(session.grant!.permissions.permissions);
      if (scope.permissions.length === 0) throw permissionDenied('token may subscribe to no topic, so a push subscription registered with it would receive nothing');
      const bytes = utf8Length(JSON.stringify(scope.permissions));
      if (bytes > limits.maxScopeBytes) {
        throw limitExceeded(LimitCause.PUSH_SUBSCRIPTIONS, `a push subscription keeps the topic permissions of the token that registers it, at most ${limits.maxScopeBytes} bytes of them (push.maxScopeBytes); this token's take ${bytes}`);
      }
      return map(service.subscriptions.add(tokenId, { ...subscription, scope }), () => ({}));
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
