/** Moderation requests (docs/moderation.md): gsub / gunsub join and leave a moderator group on a
 * topic pattern; accept / reject / nack settle one delivery; retract takes a published item down.
 * Each request is checked against the token: joining needs subscribe on the whole pattern, accept
 * and retract need publish on the output topic and write on its history list. */
import { encodeFrame, utf8Length, type GroupEndFrame, type Value } from '../../protocol/index.js';
import { failedPrecondition, invalidArgument, permissionDenied } from '../../core/errors.js';
import { parsePattern, toWirePattern, type Affix } from '../../moderation/pattern.js';
import type { NormalSelector, Permissions } from '../../auth/scopes.js';
import { REPLIED, type BrokerDeps, type HandlerTable } from '../handler.js';
import { nameField, optionalInt, optionalPosition, valueField } from '../validate.js';
import { groupKey } from '../session.js';

type Frame = Record<string, unknown>;

export function moderationHandlers({ engine, config, limits: identity }: BrokerDeps): HandlerTable {
  const limits = config.moderation;
  const groups = engine.groups;

  const deliveryField = (frame: Frame): number => {
    const delivery = optionalInt(frame, 'delivery', 1);
    if (delivery === undefined) throw invalidArgument('delivery must be the id of a delivery this connection holds');
    return delivery;
  };

  const reasonField = (frame: Frame, required: boolean): string | undefined => {
    const reason = frame['reason'];
    if ((reason === undefined || reason === null) && !required) return undefined;
    if (typeof reason !== 'string' || reason.length === 0) throw invalidArgument('reason must be a non-empty string');
    if (utf8Length(reason) > limits.maxReasonBytes) throw invalidArgument(`reason must be at most ${limits.maxReasonBytes} bytes of UTF-8`);
    return reason;
  };

  /** Publishing the result and writing its history both need the token's say-so. */
  const checkOutput = (permissions: Permissions, cache: string, topic: string, what: string): void => {
    if (!permissions.allowsTopic('publish', cache, topic)) throw permissionDenied(`token may not publish to topic "${topic}" in cache "${cache}" (needed to ${what})`);
    if (!permissions.allowsCache('write', cache, topic)) throw permissionDenied(`token may not write the history list "${topic}" in cache "${cache}" (needed to ${what})`);
  };

  return {
    async gsub({ session, frame, replyNow }): Promise<typeof REPLIED> {
      const cache = nameField(frame, 'cache', 'cache');
      const group = nameField(frame, 'group', 'group');
      const affix = parsePattern(frame['pattern']);
      const maxInFlight = optionalInt(frame, 'maxInFlight', 1) ?? limits.maxInFlightPerMember;
      // A pattern subscription is allowed only when one permission covers every topic it can match.
      const selector = toSelector(affix);
      if (!session.grant!.permissions.allowsTopicSelector('subscribe', cache, selector)) {
        throw permissionDenied(`token may not subscribe to every topic ${describe(affix)} in cache "${cache}" (a group pattern must be covered whole)`);
      }
      // Counted for the tokenId before the join (two joins at once cannot both pass the bound), and
      // listed before it is done (engine redis: a round trip): a refresh meanwhile that no longer
      // covers the pattern ends it (its leave waits for the join), as it would a finished one. The
      // count follows the listing: whoever takes the entry out (a refresh, the close) uncounts it.
      // A second join of a listed membership makes none and counts nothing: uncounting it after
      // the join could reach another connection's count (this one closed meanwhile, and was the
      // tokenId's last).
      const tokenId = session.grant!.tokenId;
      const key = groupKey(cache, group);
      const memberships = (session.groups ??= new Map());
      const entry = memberships.has(key) ? undefined : { cache, group, selector };
      if (entry) {
        identity.joinGroup(tokenId);
        memberships.set(key, entry);
      }
      try {
        await groups.join(cache, group, toWirePattern(affix), {
          id: session.id,
          accepted: (result) => replyNow(result),
          deliver: (f) => { session.connection.send(f); },
          ended: (error) => {
            if (entry !== undefined && memberships.get(key) === entry) {
              memberships.delete(key);
              identity.leaveGroups(tokenId);
            }
            const end: GroupEndFrame = { t: 'gend', cache, group, e: error.toWire() };
            session.connection.send(encodeFrame(end));
          },
        }, maxInFlight);
      } catch (err) {
        if (entry !== undefined && memberships.get(key) === entry) {
          memberships.delete(key);
          identity.leaveGroups(tokenId);
        }
        throw err;
      }
      // The connection may have closed while the join was under way (the close uncounted the entry): leave again.
      if (session.state === 'closed') groups.connectionClosed(session.id);
      return REPLIED;
    },

    async gunsub({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const group = nameField(frame, 'group', 'group');
      const left = await groups.leave(session.id, cache, group);
      // Whoever takes the entry out uncounts it: a close during the leave already did (Broker.closed).
      if (session.groups?.delete(groupKey(cache, group))) identity.leaveGroups(session.grant!.tokenId);
      return left;
    },

    async accept({ session, frame }) {
      const delivery = deliveryField(frame);
      // The sender's identity is the server's to state, never the moderator's.
      if (frame['tokenId'] !== undefined) throw invalidArgument("tokenId is set by the server: an accepted item keeps its sender's tokenId");
      const value = frame['value'] === undefined || frame['value'] === null ? undefined : own(valueField(frame, 'value', config.topics.maxValueBytes));
      const keep = optionalInt(frame, 'keep', 1, config.store.maxListLength) ?? limits.historyLength;
      const held = await groups.held(session.id, delivery);
      if (!held) throw failedPrecondition(`delivery ${delivery} is not held by this connection (settled, timed out, or not its own)`);
      checkOutput(session.grant!.permissions, held.cache, held.output, 'accept');
      return groups.accept(session.id, delivery, value, keep);
    },

    async reject({ session, frame }) {
      const delivery = deliveryField(frame);
      const reason = reasonField(frame, true)!;
      await groups.reject(session.id, delivery, reason);
      return {};
    },

    async nack({ session, frame }) {
      await groups.nack(session.id, deliveryField(frame));
      return {};
    },

    async retract({ session, frame }) {
      const cache = nameField(frame, 'cache', 'cache');
      const topic = nameField(frame, 'topic', 'topic');
      const target = optionalPosition(frame, 'target');
      if (!target || target.page < 1 || target.seq < 1) throw invalidArgument('target must be the { page, seq } of a published item');
      const reason = reasonField(frame, false);
      const grant = session.grant!;
      checkOutput(grant.permissions, cache, topic, 'retract');
      return groups.retract(cache, topic, target, grant.tokenId, reason);
    },
  };
}

/** The selector a token must cover whole to join a group on this pattern. */
function toSelector(affix: Affix): NormalSelector {
  return 'suffix' in affix ? { suffix: affix.suffix } : { prefix: affix.prefix };
}

function describe(affix: Affix): string {
  return 'suffix' in affix ? `ending with "${affix.suffix}"` : `starting with "${affix.prefix}"`;
}

/** A binary value from a decoded frame is a view into the WebSocket message, which uWS reuses once
 * the handler's synchronous part returns; keep a copy across the await. */
function own(value: Value): Value {
  return typeof value === 'string' ? value : new Uint8Array(value);
}
