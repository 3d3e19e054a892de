/** tidings/client: the SDK for browsers and Node. Shares only the protocol module with the server.
 * Also served as one ES module at GET /sdk/tidings.js (scripts/build-sdk-bundle.mjs). */
import { Connection } from './connection.js';
import type { ConnectionOptions } from './options.js';
import { TopicClient } from './topic-client.js';
import { CacheClient } from './cache-client.js';
import { NotifyClient } from './notify-client.js';

export { Connection, type ConnectionStatus, type IdempotentWriteOptions, type RequestOptions, type TokenRefreshEvent, type TransportKind } from './connection.js';
export {
  CONNECTION_DEFAULTS, type ConnectionOptions, type WebSocketConstructor, type WebSocketFactory, type WebSocketLike, type TransportMode, type FetchLike,
} from './options.js';
export { HttpStreamSocket } from './http-transport.js';
export type { ClientOptions } from './client-options.js';
export { TopicClient, type TopicClientOptions } from './topic-client.js';
export { TopicSubscription, TopicSubscribe, type SubscribeCallbacks, type SubscribeOptions } from './subscription.js';
export { TopicItem, TopicDiscontinuity, TopicHeartbeat, TopicNotice, TopicRetraction, TopicPresenceEvent } from './topic-items.js';
export { CacheClient, CollectionTtl, type CacheClientOptions, type ListWriteOptions, type ListRangeOptions, type ScalarWriteOptions } from './cache-client.js';
export { AuthClient, type AuthClientOptions } from './auth-client.js';
export { NotifyClient, PushKey, PushUnregister, type PushSubscriptionJson } from './notify-client.js';
export { Moderator, type ModeratorLink, type ModeratorOptions, type ModerationInput, type ModerationDecision, type ModeratorStats } from './moderator.js';
export { TidingsClientError, ClientCause } from './errors.js';
export {
  ErrorResponse, TopicPublish, TopicPresence, GenericWrite, ListWrite, ListFetch, ValueRead, ListPop, ListLength, ItemGetTtl, UpdateTtl, PubAppend,
  Increment, ConditionalWrite, HashedRead, HashedWrite, ListErase, ChangeTtl, DictionaryGetField, DictionaryGetFields, DictionaryFetch, ItemGetType, ItemType,
  SetElements, SetContainsElement, SetContainsElements,
  SortedSetFetch, SortedSetScore, SortedSetIncrementScore, SortedSetGetScores, SortedSetGetRank, SortedSetUnionStore, SortedSetOrder, SortedSetAggregate,
  GenerateDisposableToken, ExpiresAt, type ListItemMeta,
} from './responses.js';
export * from './momento-names.js';
export {
  Configuration, Configurations, TopicConfigurations, CredentialProvider, CacheRole, TopicRole, AllDataReadWrite, MomentoErrorCode, SdkError,
  type CredentialProviderProps,
} from './momento-config.js';
export type { MomentoStyleOptions } from './client-options.js';
export { reconnectDelay } from './backoff.js';
export {
  ErrorCode, CloseCode, LimitCause, ExpiresIn, PermissionScopes, AllCaches, AllTopics, AllCacheItems, MODERATION_INPUT_SUFFIX,
  type Scope, type Permission, type Value, type Position,
} from '../protocol/index.js';

/** One connection with a topic client and a cache client on it: the usual starting point. */
export function connect(options: ConnectionOptions & { defaultTtlSeconds?: number }): {
  connection: Connection; topics: TopicClient; cache: CacheClient; notify: NotifyClient; close(): void;
} {
  const { defaultTtlSeconds, ...connectionOptions } = options;
  const connection = new Connection(connectionOptions);
  return {
    connection,
    topics: new TopicClient({ connection }),
    cache: new CacheClient({ connection, ...(defaultTtlSeconds !== undefined ? { defaultTtlSeconds } : {}) }),
    notify: new NotifyClient({ connection }),
    close: () => connection.close(),
  };
}
