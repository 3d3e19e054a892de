/** Momento's permission model as plain JSON (it travels inside tokens and in POST /v1/tokens).
 * Permissions add up: an operation is allowed when any one permission allows it. */
export type CacheRole = 'readwrite' | 'readonly' | 'writeonly';
export type TopicRole = 'publishsubscribe' | 'subscribeonly' | 'publishonly';

/** `"*"` = every cache; a string or `{ name }` = that cache. */
export type CacheSelector = '*' | string | { name: string };
/** `"*"` = every item; a string or `{ key }` = that key; `{ keyPrefix }` = keys starting with it. */
export type ItemSelector = '*' | string | { key: string } | { keyPrefix: string };
/** `"*"` = every topic; a string or `{ name }` = that topic; `{ namePrefix }` = names starting with it;
 * `{ nameSuffix }` = names ending with it (e.g. every `*-input` topic, for moderators). */
export type TopicSelector = '*' | string | { name: string } | { namePrefix: string } | { nameSuffix: string };

export interface CachePermission { role: CacheRole; cache: CacheSelector; item?: ItemSelector }
/** `presence: true` also lets the holder see who is subscribed to the matching topics (the
 * `presence` request and join/leave events, docs/presence.md). Off by default: a member list says
 * more about other users than the items they publish. */
export interface TopicPermission { role: TopicRole; cache: CacheSelector; topic: TopicSelector; presence?: boolean }
export type Permission = CachePermission | TopicPermission;
export interface Scope { permissions: Permission[] }

export const CACHE_ROLES: readonly CacheRole[] = ['readwrite', 'readonly', 'writeonly'];
export const TOPIC_ROLES: readonly TopicRole[] = ['publishsubscribe', 'subscribeonly', 'publishonly'];
export const AllCaches = '*';
export const AllTopics = '*';
export const AllCacheItems = '*';

export function isTopicPermission(p: Permission): p is TopicPermission {
  return (TOPIC_ROLES as readonly string[]).includes(p.role);
}

/** The input-topic suffix of the moderation pattern: clients publish to `room1-input`, the moderated
 * result appears on `room1` (docs/moderation.md). */
export const MODERATION_INPUT_SUFFIX = '-input';

/** Builders shaped like Momento's PermissionScopes / DisposableTokenScopes. */
export const PermissionScopes = {
  allDataReadWrite: (): Scope => ({
    permissions: [
      { role: 'readwrite', cache: '*', item: '*' },
      { role: 'publishsubscribe', cache: '*', topic: '*' },
    ],
  }),
  cacheReadWrite: (cache: CacheSelector): Scope => ({ permissions: [{ role: 'readwrite', cache }] }),
  cacheReadOnly: (cache: CacheSelector): Scope => ({ permissions: [{ role: 'readonly', cache }] }),
  cacheWriteOnly: (cache: CacheSelector): Scope => ({ permissions: [{ role: 'writeonly', cache }] }),
  cacheKeyReadWrite: (cache: CacheSelector, key: string): Scope => ({ permissions: [{ role: 'readwrite', cache, item: { key } }] }),
  cacheKeyReadOnly: (cache: CacheSelector, key: string): Scope => ({ permissions: [{ role: 'readonly', cache, item: { key } }] }),
  cacheKeyWriteOnly: (cache: CacheSelector, key: string): Scope => ({ permissions: [{ role: 'writeonly', cache, item: { key } }] }),
  cacheKeyPrefixReadWrite: (cache: CacheSelector, keyPrefix: string): Scope => ({ permissions: [{ role: 'readwrite', cache, item: { keyPrefix } }] }),
  cacheKeyPrefixReadOnly: (cache: CacheSelector, keyPrefix: string): Scope => ({ permissions: [{ role: 'readonly', cache, item: { keyPrefix } }] }),
  cacheKeyPrefixWriteOnly: (cache: CacheSelector, keyPrefix: string): Scope => ({ permissions: [{ role: 'writeonly', cache, item: { keyPrefix } }] }),
  topicPublishSubscribe: (cache: CacheSelector, topic: TopicSelector): Scope => ({ permissions: [{ role: 'publishsubscribe', cache, topic }] }),
  topicSubscribeOnly: (cache: CacheSelector, topic: TopicSelector): Scope => ({ permissions: [{ role: 'subscribeonly', cache, topic }] }),
  topicPublishOnly: (cache: CacheSelector, topic: TopicSelector): Scope => ({ permissions: [{ role: 'publishonly', cache, topic }] }),
  topicNamePrefixPublishSubscribe: (cache: CacheSelector, namePrefix: string): Scope => ({ permissions: [{ role: 'publishsubscribe', cache, topic: { namePrefix } }] }),
  topicNamePrefixSubscribeOnly: (cache: CacheSelector, namePrefix: string): Scope => ({ permissions: [{ role: 'subscribeonly', cache, topic: { namePrefix } }] }),
  /** Subscribe to matching topics and see who is subscribed to them (presence request, join/leave
   * events): `subscribeonly` with `presence: true` (docs/tokens.md, "hear the room and see who is in it"). */
  topicPresence: (cache: CacheSelector, topic: TopicSelector): Scope => ({ permissions: [{ role: 'subscribeonly', cache, topic, presence: true }] }),
  topicNamePrefixPublishOnly: (cache: CacheSelector, namePrefix: string): Scope => ({ permissions: [{ role: 'publishonly', cache, topic: { namePrefix } }] }),
  /** A chat client in the moderation-input pattern (docs/moderation.md): may only publish raw input
   * to `<chatId><inputSuffix>`, only subscribe to `<chatId>` (the moderated stream) and only read
   * the history list `<chatId>`. It cannot publish to `<chatId>`, so it cannot skip the moderator.
   * The chat id must not itself end with the input suffix (its stream would be another chat's input). */
  chatParticipant: (cache: string, chatId: string, inputSuffix: string = MODERATION_INPUT_SUFFIX): Scope => {
    if (chatId.length === 0 || inputSuffix.length === 0) throw new Error('chatParticipant needs a non-empty chat id and input suffix');
    if (chatId.endsWith(inputSuffix)) throw new Error(`chat id "${chatId}" must not end with the input suffix "${inputSuffix}"`);
    return {
      permissions: [
        { role: 'publishonly', cache: { name: cache }, topic: { name: chatId + inputSuffix } },
        { role: 'subscribeonly', cache: { name: cache }, topic: { name: chatId } },
        { role: 'readonly', cache: { name: cache }, item: { key: chatId } },
      ],
    };
  },
  /** A trusted moderator of every chat of `cache`: may join a group on the whole pattern
   * `*<inputSuffix>` (subscribe on it), publish the moderated result to any topic of the cache and
   * append to / remove from its history lists. */
  moderator: (cache: string, inputSuffix: string = MODERATION_INPUT_SUFFIX): Scope => {
    if (inputSuffix.length === 0) throw new Error('moderator needs a non-empty input suffix');
    return {
      permissions: [
        { role: 'subscribeonly', cache: { name: cache }, topic: { nameSuffix: inputSuffix } },
        { role: 'publishonly', cache: { name: cache }, topic: '*' },
        { role: 'readwrite', cache: { name: cache }, item: '*' },
      ],
    };
  },
  /** Union of several scopes. */
  combine: (...scopes: Scope[]): Scope => ({ permissions: scopes.flatMap((s) => s.permissions) }),
} as const;

/** Token lifetimes, shaped like Momento's ExpiresIn. `never()` is refused for disposable tokens. */
export class ExpiresIn {
  private constructor(private readonly secondsValue: number | null) {}
  static seconds(n: number): ExpiresIn { return new ExpiresIn(n); }
  static minutes(n: number): ExpiresIn { return new ExpiresIn(n * 60); }
  static hours(n: number): ExpiresIn { return new ExpiresIn(n * 3600); }
  static days(n: number): ExpiresIn { return new ExpiresIn(n * 86400); }
  /** Expire at a Unix time in seconds. */
  static epoch(unixSeconds: number): ExpiresIn { return new ExpiresIn(unixSeconds - Math.floor(Date.now() / 1000)); }
  static never(): ExpiresIn { return new ExpiresIn(null); }
  doesExpire(): boolean { return this.secondsValue !== null; }
  /** Seconds from now; null for never. */
  seconds(): number | null { return this.secondsValue; }
}
