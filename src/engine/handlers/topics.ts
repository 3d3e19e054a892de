/** pub / sub / unsub. */
import { ErrorCode, LimitCause, encodeFrame, topicKey, type Position } from '../../protocol/index.js';
import { catchUpBufferLimit, continueCatchUp } from '../catch-up.js';
import { TidingsError, limitExceeded, permissionDenied, failedPrecondition } from '../../core/errors.js';
import { REPLIED, type BrokerDeps, type HandlerTable } from '../handler.js';
import { subscriber, type Subscriptions } from '../subscriptions.js';
import { Interner } from '../../lib/interner.js';
import { nameField, optionalBool, optionalPosition, valueField } from '../validate.js';

export function topicHandlers({ engine, config }: BrokerDeps, subscriptions: Subscriptions): HandlerTable {
  const names = new Interner();
  return {
    pub({ session, frame, once }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      const value = valueField(frame, 'value', config.topics.maxValueBytes);
      const grant = session.grant!;
      if (!grant.permissions.allowsTopic('publish', cache, topic)) {
        throw permissionDenied(`token may not publish to topic "${topic}" in cache "${cache}"`);
      }
      return once([cache, topic], () => engine.topics.publish(cache, topic, value, grant.tokenId, session.id));
    },

    async sub({ session, frame, replyNow }): Promise<typeof REPLIED> {
      // Interned: an idle subscriber holds these strings for life, and most share them.
      const cache = names.intern(nameField(frame, 'cache', 'cache'));
      const topic = names.intern(nameField(frame, 'topic', 'topic'));
      const after = optionalPosition(frame, 'after');
      const presence = optionalBool(frame, 'presence');
      if (!session.grant!.permissions.allowsTopic('subscribe', cache, topic)) {
        throw permissionDenied(`token may not subscribe to topic "${topic}" in cache "${cache}"`);
      }
      if (presence && !session.grant!.permissions.allowsTopic('presence', cache, topic)) {
        throw permissionDenied(`token may not see presence on topic "${topic}" in cache "${cache}"`);
      }
      const key = names.intern(topicKey(cache, topic));
      if (session.subscriptions.has(key)) throw new TidingsError(ErrorCode.ALREADY_EXISTS_ERROR, `already subscribed to topic "${topic}" in cache "${cache}"`);
      if (session.subscriptions.size >= config.topics.maxSubscriptionsPerConnection) {
        throw limitExceeded(LimitCause.SUBSCRIPTIONS, `a connection may hold at most ${config.topics.maxSubscriptionsPerConnection} subscriptions`);
      }
      const ref = subscriptions.reserve(session, key, cache, topic, presence === true);
      let position: Position;
      try {
        position = await engine.topics.subscribe(cache, topic, subscriber(session), after);
      } catch (err) {
        // Only its own reservation: an unsub may have ended it and a newer `sub` taken the key.
        if (session.subscriptions.get(key) === ref) subscriptions.end(session, key);
        throw err;
      }
      subscriptions.engage(session, key, ref);
      replyNow({ page: position.page, seq: position.seq });
      // Joined while the node's link to Redis is down: told, as the subscribers it had then were.
      if (engine.topics.liveInterrupted?.(cache, topic)) session.connection.send(encodeFrame({ t: 'notice', kind: 'topic_interrupted', cache, topic }));
      // Without `after`, start from the position just reported: anything published since is
      // delivered too, so "live" has no hole between the reply and the attach.
      session.setCatchUp(key, after ?? position);
      continueCatchUp(session, key, engine.topics, catchUpBufferLimit(config.server.maxBackpressureBytes));
      return REPLIED;
    },

    unsub({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      if (!subscriptions.end(session, topicKey(cache, topic))) throw failedPrecondition(`not subscribed to topic "${topic}" in cache "${cache}"`);
      return {};
    },
  };
}
