/** tidings/client: the SDK for browsers and Node. Shares only the protocol module with the server. */
import { Connection } from './connection.js';
import type { ConnectionOptions } from './options.js';
import { TopicClient } from './topic-client.js';
import { CacheClient } from './cache-client.js';

export { Connection, type ConnectionStatus, type RequestOptions } from './connection.js';
export { CONNECTION_DEFAULTS, type ConnectionOptions, type WebSocketConstructor, type WebSocketLike } from './options.js';
export { TopicClient, TopicSubscription, TopicSubscribe, type SubscribeCallbacks, type SubscribeOptions } from './topic-client.js';
export { TopicItem, TopicDiscontinuity, TopicHeartbeat, TopicRetraction } from './topic-items.js';
export { CacheClient, CollectionTtl, type ListWriteOptions, type ListRangeOptions } from './cache-client.js';
export { AuthClient, type AuthClientOptions } from './auth-client.js';
export { Moderator, type ModeratorLink, type ModeratorOptions, type ModerationInput, type ModerationDecision, type ModeratorStats } from './moderator.js';
export { TidingsClientError } from './errors.js';
export * from './responses.js';
export { reconnectDelay } from './backoff.js';
export {
  ErrorCode, CloseCode, LimitCause, ExpiresIn, PermissionScopes, AllCaches, AllTopics, AllCacheItems, MODERATION_INPUT_SUFFIX,
  type Scope, type Permission, type Value, type Position,
} from '../protocol/index.js';

/** One connection with a topic client and a cache client on it: the usual starting point. */
export function connect(options: ConnectionOptions): { connection: Connection; topics: TopicClient; cache: CacheClient; close(): void } {
  const connection = new Connection(options);
  return { connection, topics: new TopicClient({ connection }), cache: new CacheClient({ connection }), close: () => connection.close() };
}
