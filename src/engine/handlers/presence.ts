/** presence: who is subscribed to a topic (docs/presence.md). */
import { permissionDenied } from '../../core/errors.js';
import type { BrokerDeps, HandlerTable } from '../handler.js';
import { nameField } from '../validate.js';

export function presenceHandlers({ engine }: BrokerDeps): HandlerTable {
  return {
    presence({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      if (!session.grant!.permissions.allowsTopic('presence', cache, topic)) {
        throw permissionDenied(`token may not see presence on topic "${topic}" in cache "${cache}"`);
      }
      return engine.presence.members(cache, topic);
    },
  };
}
