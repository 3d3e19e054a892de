/** pub / sub / unsub. */
import { ErrorCode, LimitCause, topicKey, type Position, type PublishResult, type SubscribeResult } from '../../protocol/index.js';
import { catchUpBufferLimit, continueCatchUp } from '../catch-up.js';
import { TidingsError, limitExceeded, permissionDenied, failedPrecondition } from '../../core/errors.js';
import { REPLIED, type BrokerDeps, type HandlerTable } from '../handler.js';
import { nameField, optionalPosition, valueField } from '../validate.js';

export function topicHandlers({ engine, config }: BrokerDeps): HandlerTable {
  return {
    pub({ session, frame }): PublishResult | Promise<PublishResult> {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      const value = valueField(frame, 'value', config.topics.maxValueBytes);
      const grant = session.grant!;
      if (!grant.permissions.allowsTopic('publish', cache, topic)) {
        throw permissionDenied(`token may not publish to topic "${topic}" in cache "${cache}"`);
      }
      return engine.topics.publish(cache, topic, value, grant.tokenId, session.id);
    },

    async sub({ session, frame, replyNow }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      const after = optionalPosition(frame, 'after');
      if (!session.grant!.permissions.allowsTopic('subscribe', cache, topic)) {
        throw permissionDenied(`token may not subscribe to topic "${topic}" in cache "${cache}"`);
      }
      const key = topicKey(cache, topic);
      if (session.subscriptions.has(key)) throw new TidingsError(ErrorCode.ALREADY_EXISTS_ERROR, `already subscribed to topic "${topic}" in cache "${cache}"`);
      if (session.subscriptions.size >= config.topics.maxSubscriptionsPerConnection) {
        throw limitExceeded(LimitCause.SUBSCRIPTIONS, `a connection may hold at most ${config.topics.maxSubscriptionsPerConnection} subscriptions`);
      }
      // Reserve the slot before the engine call so two concurrent subscribes cannot both pass.
      session.subscriptions.set(key, { cache, topic });
      let position: Position;
      try {
        position = await engine.topics.subscribe(cache, topic);
      } catch (err) {
        session.subscriptions.delete(key);
        throw err;
      }
      if (session.state === 'closed' || !session.subscriptions.has(key)) {
        engine.topics.unsubscribe(cache, topic);
        throw new TidingsError(ErrorCode.CANCELLED_ERROR, 'the subscription was cancelled while it was being set up');
      }
      replyNow({ page: position.page, seq: position.seq } satisfies SubscribeResult);
      // Without `after`, start from the position just reported: anything published since is
      // delivered too, so "live" has no hole between the reply and the attach.
      session.setCatchUp(key, after ?? position);
      continueCatchUp(session, key, engine.topics, catchUpBufferLimit(config.server.maxBackpressureBytes));
      return REPLIED;
    },

    unsub({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      const key = topicKey(cache, topic);
      if (!session.subscriptions.delete(key)) throw failedPrecondition(`not subscribed to topic "${topic}" in cache "${cache}"`);
      session.clearCatchUp(key);
      session.connection.detach(key);
      engine.topics.unsubscribe(cache, topic);
      return {};
    },
  };
}
