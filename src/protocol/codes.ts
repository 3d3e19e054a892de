/** The one table of stable error codes shared by server and SDK (modelled on Momento's
 * MomentoErrorCode). A code never changes meaning; docs/protocol.md lists each one. */
export const ErrorCode = {
  INVALID_ARGUMENT_ERROR: 'INVALID_ARGUMENT_ERROR',
  BAD_REQUEST_ERROR: 'BAD_REQUEST_ERROR',
  NOT_FOUND_ERROR: 'NOT_FOUND_ERROR',
  ALREADY_EXISTS_ERROR: 'ALREADY_EXISTS_ERROR',
  PERMISSION_ERROR: 'PERMISSION_ERROR',
  AUTHENTICATION_ERROR: 'AUTHENTICATION_ERROR',
  LIMIT_EXCEEDED_ERROR: 'LIMIT_EXCEEDED_ERROR',
  FAILED_PRECONDITION_ERROR: 'FAILED_PRECONDITION_ERROR',
  TIMEOUT_ERROR: 'TIMEOUT_ERROR',
  CANCELLED_ERROR: 'CANCELLED_ERROR',
  SERVER_UNAVAILABLE: 'SERVER_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  /** Client-side only: the connection is down and the request could not be sent or answered. */
  CONNECTION_ERROR: 'CONNECTION_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ErrorCode, value);
}

/** Which limit a LIMIT_EXCEEDED_ERROR hit (Momento's `err` causes plus ours). */
export const LimitCause = {
  FRAME_SIZE: 'frame_size_limit_exceeded',
  REQUEST_SIZE: 'request_size_limit_exceeded',
  VALUE_SIZE: 'value_size_limit_exceeded',
  ITEM_SIZE: 'item_size_limit_exceeded',
  ELEMENT_SIZE: 'element_size_limit_exceeded',
  /** More values in one request than server.maxRequestElements (counted before decoding). */
  REQUEST_ELEMENTS: 'request_elements_limit_exceeded',
  /** Containers nested deeper in one request than server.maxRequestDepth. */
  REQUEST_DEPTH: 'request_depth_limit_exceeded',
  LIST_LENGTH: 'list_length_limit_exceeded',
  /** A dictionary would hold more than store.maxDictionaryFields fields. */
  DICTIONARY_FIELDS: 'dictionary_fields_limit_exceeded',
  /** A set would hold more than store.maxSetElements elements. */
  SET_ELEMENTS: 'set_elements_limit_exceeded',
  /** A sorted set would hold more than store.maxSortedSetElements elements. */
  SORTED_SET_ELEMENTS: 'sorted_set_elements_limit_exceeded',
  TTL: 'ttl_limit_exceeded',
  SUBSCRIPTIONS: 'topic_subscriptions_limit_exceeded',
  PENDING_REQUESTS: 'pending_requests_limit_exceeded',
  OPERATIONS_RATE: 'operations_rate_limit_exceeded',
  CONNECTIONS: 'connections_limit_exceeded',
  TOPICS: 'topics_limit_exceeded',
  GROUP_BUFFER: 'group_buffer_limit_exceeded',
  /** Too many moderation groups on the server, or memberships on one connection. */
  GROUPS: 'groups_limit_exceeded',
  /** The server holds its maximum of revocation entries. */
  REVOCATIONS: 'revocations_limit_exceeded',
  /** Webhook endpoints on the server (webhooks.maxEndpoints). */
  WEBHOOKS: 'webhooks_limit_exceeded',
  /** Topics one tokenId follows, or follows on the server (notify.*). */
  FOLLOWS: 'follows_limit_exceeded',
  /** Push subscriptions of one tokenId, or on the server (push.*); a registering token's scope
   * past push.maxScopeBytes. */
  PUSH_SUBSCRIPTIONS: 'push_subscriptions_limit_exceeded',
} as const;
export type LimitCause = (typeof LimitCause)[keyof typeof LimitCause];

/** Why a SERVER_UNAVAILABLE was sent, when the client can act on it (in the error's `cause`). */
export const UnavailableCause = {
  /** The server is draining for a graceful shutdown: the request was not applied, and the link
   * closes (4000) once the requests in flight are answered; send it again after reconnecting. */
  SHUTTING_DOWN: 'server_shutting_down',
} as const;
export type UnavailableCause = (typeof UnavailableCause)[keyof typeof UnavailableCause];

/** WebSocket close codes. The range tells the client what to do (the idea is Centrifugo's):
 * 4000–4499: reconnect with backoff and resume; 4500–4999: do not reconnect with the same
 * credentials (a client with a token provider may fetch a new token, then reconnect). */
export const CloseCode = {
  NORMAL: 1000,
  /** Server is shutting down or restarting. */
  SHUTDOWN: 4000,
  /** No hello in time (server.helloTimeoutMs), or evicted while awaiting it (too many connections awaiting hello). */
  HELLO_TIMEOUT: 4001,
  /** The connection fell too far behind; resume from the last (page, seq). */
  SLOW_CONSUMER: 4002,
  /** Server-side failure; reconnecting may help. */
  INTERNAL: 4003,
  /** The server holds its maximum of authenticated connections; reconnect with backoff. */
  SERVER_FULL: 4004,
  /** Credential rejected at hello (bad signature, wrong kind, malformed). */
  AUTHENTICATION_FAILED: 4500,
  /** The token expired on an open connection and no fresh one arrived in time. */
  TOKEN_EXPIRED: 4501,
  /** The client broke the protocol (e.g. request before hello, no common version). */
  PROTOCOL_VIOLATION: 4502,
  /** A limit refuses this client (connections per tokenId, a frame too large before hello). */
  POLICY: 4503,
  /** The credential was revoked; do not reconnect with it. */
  REVOKED: 4504,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export function shouldReconnect(closeCode: number): boolean {
  if (closeCode >= 4500 && closeCode <= 4999) return false;
  return closeCode !== CloseCode.NORMAL;
}
