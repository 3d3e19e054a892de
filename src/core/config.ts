/** Every knob with its default, in one place. resolveConfig() merges partial input over DEFAULTS,
 * validates (errors name the key path), and freezes. docs/configuration.md lists each key; a test
 * checks that it does. A module that owns one concern (a store, a registry, a limiter) receives its
 * own slice; only code that composes several (the server, engine selection, the broker and its
 * handlers, a feature's setup) reads the whole config. */
import { nameProblem } from '../protocol/names.js';
import { MAX_TIMER_MS } from './clock.js';

export interface ServerConfig {
  /** Interface to bind. */
  host: string;
  /** TCP port; 0 picks a free one (read it back from the running server). */
  port: number;
  /** Largest WebSocket message accepted, bytes. Larger frames close the socket (uWS rule), so
   * keep it above `topics.maxValueBytes` plus framing. */
  maxFrameBytes: number;
  /** Values one request may hold at most (every MessagePack value of a frame, containers and map
   * keys included; every JSON value of an HTTP body): decoding costs per value, so a frame of
   * empty maps would cost many times its size in CPU. Counted before decoding; past it the
   * request is refused undecoded (LIMIT_EXCEEDED_ERROR, request_elements_limit_exceeded). At
   * least store.maxListLength + 64, so a list of maxListLength values fits in one concatenate. */
  maxRequestElements: number;
  /** Containers (maps, arrays, objects) one request may nest at most; deeper is refused undecoded
   * (LIMIT_EXCEEDED_ERROR, request_depth_limit_exceeded). No operation needs more than 4. */
  maxRequestDepth: number;
  /** Per-connection send buffer, bytes; past it the slow-consumer policy applies. */
  maxBackpressureBytes: number;
  /** Hard per-connection send buffer limit of the transport: past it frames would be dropped and the
   * connection closed (1006). Detaching at maxBackpressureBytes keeps every subscriber below it. */
  sendBufferHardLimitBytes: number;
  /** A subscriber detached for slowness that has not caught up within this gets bye + close 4002. */
  slowConsumerTimeoutMs: number;
  /** Graceful shutdown: how long to wait for send buffers to drain before closing anyway. */
  shutdownGraceMs: number;
  /** How long the first result of a write with an idempotencyKey is remembered. */
  idempotencyWindowMs: number;
  /** Idempotency keys remembered at most (least recently written dropped first). */
  maxIdempotencyKeys: number;
  /** Seconds without traffic before uWS drops a connection (pings are automatic). */
  idleTimeoutSec: number;
  /** A new connection must send `hello` within this many ms. */
  helloTimeoutMs: number;
  /** Heartbeat frame interval, ms. */
  heartbeatMs: number;
  /** Batches (docs/protocol.md): under load, a key whose frames were still held at the end of an
   * event-loop iteration keeps them up to this many ms more, so more share one message and one
   * send. 0 = flush at the end of every iteration. An idle key sends its first frame at once. */
  batchDelayMs: number;
  /** Items in one batch frame at most; a key holding this many sends them at once. 1 = no batches. */
  batchMaxItems: number;
  /** Bytes of held frames per key at most before they are sent at once (bounds a batch frame). */
  batchMaxBytes: number;
  /** Authenticated connections at most; further upgrades are refused with HTTP 503. Connections
   * awaiting hello are bounded separately (maxPendingHellos). */
  maxConnections: number;
  /** Requests a connection may have in flight at once. */
  maxPendingRequests: number;
  /** Largest HTTP request body (POST /v1/tokens and the HTTP API), bytes. */
  maxHttpBodyBytes: number;
  /** Request-body bytes all HTTP requests together may have in flight (reserved by Content-Length,
   * else as they arrive, until the request is answered); past it a request gets 503. Bounds what
   * many slow uploads may make the server hold. */
  maxInFlightBodyBytes: number;
  /** The share of maxInFlightBodyBytes one client address (as for maxConnectionsPerIp) may hold;
   * past it its next body gets 503. Bodies read before any credential (gRPC-web, the fallback
   * stream's POST) could otherwise let one address fill the whole budget with a few slow uploads. */
  maxInFlightBodyBytesPerIp: number;
  /** Origins whose pages may load the SDK bundle (/sdk/tidings.js), call the HTTP API and open
   * streams cross-origin, e.g. `https://app.example`; `*` = any. Empty = CORS off: only pages the
   * broker serves itself. */
  corsOrigins: string[];
  /** Largest frame accepted before `hello` succeeds, bytes. Larger ones are refused without being
   * decoded and the connection is closed (4503): an unauthenticated peer cannot spend server CPU.
   * At least auth.maxTokenBytes + HELLO_FIELDS_BYTES, so every token that can be minted fits a hello. */
  maxPreHelloFrameBytes: number;
  /** Values a frame may hold before `hello` succeeds (a hello holds about 15): as
   * maxRequestElements, for a peer with no credential yet; a frame past it is refused undecoded
   * and the connection closed (4503). */
  maxPreHelloRequestElements: number;
  /** Connections awaiting `hello`, server-wide. They do not count towards `maxConnections`, so
   * silent sockets cannot lock authenticated clients out; past this, upgrades get HTTP 503. */
  maxPendingHellos: number;
  /** Connections awaiting `hello` from one client IP; past it, upgrades get HTTP 429. */
  maxPendingHellosPerIp: number;
  /** Open connections (awaiting hello or not) from one client IP; past it, upgrades get HTTP 429. */
  maxConnectionsPerIp: number;
  /** Request header carrying the client IP set by a trusted reverse proxy (e.g. `x-forwarded-for`;
   * its last entry is used). Empty = the socket's peer address. */
  trustedProxyHeader: string;
  /** Listen with SO_REUSEPORT so several processes can share the port. Off: a busy port is an
   * error at start. */
  reusePort: boolean;
  /** Who may read GET /metrics: `apiKey` (an admin API key as bearer) or `open`. */
  metricsAccess: 'apiKey' | 'open';
  /** How often the event-loop delay histogram (tidings_nodejs_eventloop_lag_*) samples, ms. Each
   * sample wakes an idle process: prom-client's default, 10 ms, is 100 wake-ups a second. */
  eventLoopMonitorMs: number;
  /** Moderator groups with series of their own in GET /metrics (the busiest by buffered + in-flight
   * items); totals cover every group. At 12 series a group, 2,000 groups made a 1.9 MiB scrape. */
  metricsMaxGroups: number;
  /** tidings_request_duration_seconds{op,transport} in GET /metrics: each request timed from its
   * arrival to its reply. Off: no series, and no clock read per request. */
  requestHistogram: boolean;
}

/** Per-identity limits: connections per tokenId and request rates (token buckets). */
export interface LimitsConfig {
  /** Open connections carrying the same tokenId; one more is refused at `hello` with
   * LIMIT_EXCEEDED_ERROR (connections_limit_exceeded). Credentials without a tokenId are not counted. */
  maxConnectionsPerTokenId: number;
  /** Topic subscriptions all connections and streams of one tokenId may hold together on this node;
   * one more is refused with LIMIT_EXCEEDED_ERROR (topic_subscriptions_limit_exceeded). Without it
   * one user could open maxConnectionsPerTokenId connections of maxSubscriptionsPerConnection each
   * and pin every one of topics.maxTopics, so no one else could use a new topic. Credentials
   * without a tokenId are not counted. */
  maxSubscriptionsPerTokenId: number;
  /** Moderator group memberships all connections of one tokenId may hold together on this node;
   * one more `gsub` is refused with LIMIT_EXCEEDED_ERROR (groups_limit_exceeded). Without it one
   * user could take every one of moderation.maxGroups through many connections. Credentials
   * without a tokenId are not counted. */
  maxGroupsPerTokenId: number;
  /** Requests per second one connection may sustain (token bucket refill rate). */
  connectionOpsPerSec: number;
  /** Requests one connection may send in a burst (token bucket size). */
  connectionOpsBurst: number;
  /** A request of more values than this (server.maxRequestElements counts them) is charged one
   * more request per this many values, to the connection's and the tokenId's buckets, before it is
   * decoded: the rates bound decoding work, not only the number of requests. Ordinary requests
   * (fewer than 32 values) cost one; none costs more than a full bucket holds. */
  requestElementsPerOp: number;
  /** Requests per second all connections of one tokenId may sustain together. */
  tokenIdOpsPerSec: number;
  /** Requests all connections of one tokenId may send in a burst. */
  tokenIdOpsBurst: number;
  /** Disposable tokens one API key may mint per second (POST /v1/tokens, gRPC
   * GenerateDisposableToken), so a leaked or looping backend cannot mint without bound. */
  tokenMintsPerSec: number;
  /** Disposable tokens one API key may mint in a burst. */
  tokenMintsBurst: number;
  /** Refusals (a frame refused over the request rates or server.maxPendingRequests, or malformed) one connection may earn in a
   * burst; the one that finds none left closes it (4503). Refilled at connectionRefusalsPerSec. */
  connectionRefusalsBurst: number;
  /** Refusals per second one connection may sustain without being closed. */
  connectionRefusalsPerSec: number;
  /** Malformed frames (not binary, not MessagePack, no id or `t`, an ext type) one connection may
   * send: the one that reaches this closes it (4502). A conforming client sends none. */
  maxMalformedFrames: number;
  /** Request buckets remembered for tokenIds with no open connection and for client addresses of
   * gRPC calls, until they are full again (so closing and reopening, or one unary call after
   * another, does not start from a full bucket); past this many the oldest are forgotten. */
  maxIdleBuckets: number;
}

/** The HTTP transports beside WebSocket (docs/http-api.md): the HTTP API, Server-Sent Events,
 * long-poll and the SDK's SSE + HTTP fallback stream. */
export interface HttpConfig {
  /** How long a browser may cache a preflight answer, seconds. */
  corsMaxAgeSec: number;
  /** Lifetime of a one-use SSE ticket (what EventSource, which cannot send headers, puts in the
   * URL instead of a credential), ms. */
  ticketTtlMs: number;
  /** Unused tickets held at most; minting one more fails with LIMIT_EXCEEDED_ERROR. */
  maxTickets: number;
  /** Unused tickets one credential may hold at once, so one client cannot take them all. */
  maxTicketsPerCredential: number;
  /** Reconnect delay an SSE stream tells EventSource (the `retry:` field), ms. */
  sseRetryMs: number;
  /** Longest a long-poll request waits for an item before answering empty, ms. */
  longPollMaxWaitMs: number;
  /** Largest request batch the SDK's fallback transport may POST at once, bytes. */
  maxStreamPostBytes: number;
}

export interface AuthConfig {
  /** HMAC secrets (base64url, ≥ 32 bytes once decoded). The first signs; all verify, so a key can
   * be rotated by prepending the new one. Empty = dev mode generates an ephemeral one. */
  signingKeys: string[];
  /** JWT issuer and audience claim. */
  issuer: string;
  /** Longest lifetime a disposable token may have, seconds (Momento: 25 h). */
  maxTokenTtlSec: number;
  /** Clock skew tolerated when checking exp/nbf, seconds. */
  clockToleranceSec: number;
  /** How long before expiry a connection gets a `token_expiring` notice, ms. */
  expiryNoticeMs: number;
  /** Permissions a token may carry at most (Momento: 20). */
  maxPermissions: number;
  /** Revocation entries held at most; a revocation past it is refused (never evicted: that would
   * silently un-revoke). Entries leave when the credentials they cover have expired. */
  maxRevocations: number;
  /** Longest credential (the signed token, characters) verified at all, and minted: a scope that
   * would make a longer one is refused at mint rather than handed out unusable. */
  maxTokenBytes: number;
}

export interface TopicsConfig {
  /** Largest published value, bytes. */
  maxValueBytes: number;
  /** Items kept per topic for resume. */
  windowItems: number;
  /** Bytes kept per topic for resume. */
  windowBytes: number;
  /** Bytes kept for resume across all topics; past it the oldest items anywhere are dropped first. */
  windowTotalBytes: number;
  /** A topic with no subscriber and no publish for this long is dropped; its next use starts a new page. */
  idleTopicMs: number;
  /** Live topics at most. One more takes the place of the least recently used topic without
   * subscribers (its next use starts a new page); only when all have subscribers does it fail with
   * LIMIT_EXCEEDED_ERROR (topics_limit_exceeded). Engine redis: a node's windows, never evicted. */
  maxTopics: number;
  /** Subscriptions one connection may hold. */
  maxSubscriptionsPerConnection: number;
}

/** Cache data (lists, dictionaries, sets, sorted sets and scalar items) in one LRU bounded by memory bytes. */
export interface StoreConfig {
  /** Memory the store may hold, bytes: keys, values and per-element/per-entry overhead (measured,
   * src/store/sizes.ts). Past it the least recently used items are evicted. */
  maxBytes: number;
  /** Largest item (key + value, or key + all list elements), payload bytes (Momento: 5 MB). */
  maxItemBytes: number;
  /** Largest list or set element, or dictionary field plus its value, bytes (Momento: 128 KB). */
  maxElementBytes: number;
  /** Elements a list may hold. */
  maxListLength: number;
  /** Fields a dictionary may hold. */
  maxDictionaryFields: number;
  /** Elements a set may hold. */
  maxSetElements: number;
  /** Elements a sorted set may hold (the memory store's sorted array moves up to this many slots on
   * an insert). */
  maxSortedSetElements: number;
  /** Longest TTL a write may ask for, seconds (Momento on-demand: 24 h). */
  maxTtlSec: number;
  /** TTL of a write that names none, seconds. */
  defaultTtlSec: number;
  /** How often expired items are swept from memory, ms (an expired item is never served either way). */
  purgeIntervalMs: number;
  /** Bytes of encoded listFetch replies kept for re-use until the list changes (many clients joining
   * a room fetch the same history); least recently used dropped first. 0 = off. */
  fetchCacheBytes: number;
  /** Cache names that exist. Empty = every cache is created on first use; otherwise cache data
   * operations on any other cache get NOT_FOUND_ERROR. */
  caches: string[];
}

/** Moderator groups (docs/moderation.md): how items published to input topics wait for and reach
 * moderators. */
export interface ModerationConfig {
  /** A delivery not settled (accept / reject / nack) within this many ms goes to another member. */
  ackTimeoutMs: number;
  /** Deliveries one member holds unsettled at most (a join may ask for fewer). */
  maxInFlightPerMember: number;
  /** Items a group holds not yet handed to a member (none connected, or all busy). Past it a publish
   * to a matching input topic fails with LIMIT_EXCEEDED_ERROR (group_buffer_limit_exceeded). */
  bufferItems: number;
  /** Value bytes a group holds not yet handed to a member; same error past it. */
  bufferBytes: number;
  /** Value bytes all groups together hold not yet handed to a member; same error past it. */
  totalBufferBytes: number;
  /** Deliveries of one item before it is given up (its sender gets `rejected`, by: server). */
  maxAttempts: number;
  /** A group with no member and no item for this long is forgotten (its pattern is no longer
   * moderated). A group holding items is never forgotten. */
  groupIdleMs: number;
  /** Groups on the server at most (engine redis: in the deployment). */
  maxGroups: number;
  /** engine redis: a node that has not refreshed its heartbeat in Redis for this long is taken for
   * gone; its members leave their groups and the items they held go to other members. */
  nodeTimeoutMs: number;
  /** Groups one connection may be a member of. */
  maxGroupsPerConnection: number;
  /** Elements an accepted item's history list keeps by default (an accept may name its own `keep`). */
  historyLength: number;
  /** TTL of a history list, seconds, refreshed on every accepted item; at most store.maxTtlSec. */
  historyTtlSec: number;
  /** Longest reject / retract reason, bytes of UTF-8. */
  maxReasonBytes: number;
}

/** The operators' dashboard at /admin (docs/operations.md). */
export interface AdminConfig {
  /** tokenIds of the API keys that may open it (mint one: `tidings api-key --token-id ops`). A
   * disposable token never qualifies. Empty = the dashboard is off: /admin is 404 and `adminStats`
   * is refused. */
  tokenIds: string[];
  /** Topics listed in the dashboard's "top topics by rate". */
  topTopics: number;
  /** Moderator groups listed in the dashboard (those with the most buffered + in-flight items):
   * each sample carries every listed group with its members, sent every second. */
  topGroups: number;
}

/** Where topics and cache data live: in this process, or in Redis shared by several nodes. */
export type EngineKind = 'memory' | 'redis';

/** The Redis connection of the redis engine (docs/operations.md). Every wait is bounded: a command
 * gets an answer, SERVER_UNAVAILABLE or TIMEOUT_ERROR within about queueTimeoutMs + commandTimeoutMs. */
export interface RedisConfig {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
  url: string;
  /** Two or more Redis URLs: each cache (its topics, lists, items, groups, presence) lives on one of
   * them, chosen by a hash of its name, and `url` is not used. Every node must list the same
   * shards in the same order. Empty: one Redis, `url`. */
  shards: string[];
  /** Prepended to every key, so several deployments (or tests) can share one Redis. */
  keyPrefix: string;
  /** A connection attempt longer than this fails (and is retried with backoff); at start-up the
   * server refuses to start when Redis has not answered within it. */
  connectTimeoutMs: number;
  /** A command sent and not answered within this fails with TIMEOUT_ERROR (a write may have been applied). */
  commandTimeoutMs: number;
  /** A connection on which Redis sends nothing for this long while replies are awaited is taken
   * for dead and reconnected: a link that went silent without closing (a frozen host, a dropped NAT
   * entry, a failover behind one address) is otherwise kept for good. Subscriber connections are
   * PINGed every commandTimeoutMs so that theirs is noticed too. */
  linkTimeoutMs: number;
  /** First reconnect delay after the connection drops; doubles per attempt up to reconnectMaxMs. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Commands held while Redis is unreachable, waiting for the connection to come back. Past it a
   * command fails at once with SERVER_UNAVAILABLE (never queued unboundedly). */
  maxQueuedCommands: number;
  /** How long a held command waits for the connection; then SERVER_UNAVAILABLE, and it is never sent. */
  queueTimeoutMs: number;
  /** Publishes to one topic arriving in one event-loop iteration go to Redis as one script call of
   * at most this many items (engine/redis/publish-batches.ts); 1 = every publish alone. */
  publishBatchMaxItems: number;
  /** ...and at most this many encoded bytes (an item bigger than this goes alone). */
  publishBatchMaxBytes: number;
  /** A node loads the shared follows and push subscriptions (at start, after its link comes back)
   * in script calls of about this many each, so Redis is never busy with the whole set at once. */
  notifyLoadPageSize: number;
}

/** The Momento-compatible gRPC listener (docs/momento-compat.md): the official Momento SDKs talk
 * to it unmodified. Off by default; it is a second port with its own HTTP/2 server (grpc-js). */
export interface MomentoConfig {
  /** Start the gRPC listener (`tidings serve --momento-port N` turns it on). */
  enabled: boolean;
  /** TCP port of the gRPC listener; 0 picks a free one. It binds `server.host`. */
  port: number;
  /** The `endpoint` written into Momento-shaped credentials and disposable-token replies. The
   * SDKs connect to `cache.<endpoint>` (TLS) unless given endpoint overrides. Empty = host:port of
   * the listener (usable only with overrides; see docs/momento-compat.md). */
  endpoint: string;
  /** Largest gRPC message received, bytes (grpc-js refuses larger ones with RESOURCE_EXHAUSTED).
   * Keep it above store.maxItemBytes so an item-size error is ours, typed, not a transport one. */
  maxMessageBytes: number;
  /** Concurrent Subscribe streams at most (each is one session; they count towards
   * server.maxConnections too). Past it a Subscribe ends with RESOURCE_EXHAUSTED
   * (topic_subscriptions_limit_exceeded). */
  maxStreams: number;
  /** TCP connections the gRPC listener holds at once; one past it is closed as it arrives. Each
   * costs memory (an HTTP/2 session) even idle, and they are not sessions, so server.maxConnections
   * does not bound them. */
  maxConnections: number;
  /** TCP connections one client address holds at once; one past it is closed as it arrives, so one
   * address cannot take every slot of maxConnections. Addresses are those the listener sees: behind
   * a TCP-level proxy every client has the proxy's. 0 = no cap. */
  maxConnectionsPerIp: number;
  /** A connection that has not sent the HTTP/2 client preface and its SETTINGS frame within this
   * many ms is closed: a silent socket would otherwise hold one of maxConnections for ever. */
  openingTimeoutMs: number;
  /** A connection with no call in flight for this many ms is closed with GOAWAY (grpc-js's
   * grpc.max_connection_idle_ms); a client reconnects on its next call. A live Subscribe is a call
   * in flight, so it keeps its connection. */
  idleTimeoutMs: number;
  /** A call whose request (its message and the end of the client's stream) has not arrived within
   * this many ms of its headers is ended with DEADLINE_EXCEEDED and its partial message dropped:
   * grpc-js holds a message whole before any handler runs, so a client sending it slowly would
   * otherwise hold up to maxMessageBytes per stream for as long as it liked. */
  requestReadTimeoutMs: number;
  /** Concurrent calls (HTTP/2 streams) one connection may have open, advertised to the client as
   * SETTINGS_MAX_CONCURRENT_STREAMS. Each holds its answer until the client reads it, so this
   * bounds what one connection that reads nothing can make the server hold. */
  maxConcurrentStreamsPerConnection: number;
  /** A Subscribe stream whose unsent messages exceed this many bytes is ended with UNAVAILABLE; the
   * SDK resubscribes and resumes from the topic window (the WebSocket slow-consumer rule). */
  maxStreamBufferBytes: number;
  /** A grpc-web Subscribe (the web SDK, one growing XHR response) is ended with OK after this many
   * ms; the SDK resubscribes at once from its last position. Bounds the browser's response buffer. */
  webStreamMaxMs: number;
}

/** Presence (docs/presence.md). */
export interface PresenceConfig {
  /** A user whose last connection on a topic left is still a member this long; a reconnect within
   * it is not a leave (no leave, no join). 0 = leave at once. */
  leaveGraceMs: number;
  /** Users listed per topic at most; connections of further users are only counted (`untracked`). */
  maxMembersPerTopic: number;
  /** engine "memory": members within their leave grace (one timer each) across all topics at most;
   * past it a user whose last connection leaves leaves at once, without the grace. */
  maxPendingLeaves: number;
  /** engine "redis": a node that has not renewed its heartbeat for this long is dead; any live node
   * then removes its members (after leaveGraceMs). Nodes renew every nodeTimeoutMs / 3. */
  nodeTimeoutMs: number;
}

/** The events a webhook endpoint may ask for (docs/webhooks.md). */
export const WEBHOOK_EVENTS = ['item.published', 'subscriber.joined', 'subscriber.left', 'item.undelivered'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** One endpoint of the app's backend, from the config file (the admin route adds more at run time). */
export interface WebhookEndpointConfig {
  /** Unique per cache; names the endpoint in metrics and in the admin route. */
  name: string;
  /** http(s) URL the events are POSTed to. */
  url: string;
  /** HMAC-SHA256 key of the signature header, at least 16 characters. */
  secret: string;
  cache: string;
  /** Topics whose name starts with this ('' = every topic of the cache). */
  topicPrefix: string;
  events: WebhookEvent[];
}

export interface WebhooksConfig {
  endpoints: WebhookEndpointConfig[];
  /** Endpoints at most (config file and admin route together). */
  maxEndpoints: number;
  /** Events waiting per endpoint at most; past it new events are dead-lettered (`queue_full`). */
  queueSize: number;
  /** Bytes (JSON) of the events waiting or in flight per endpoint at most; past it likewise. */
  maxQueuedBytes: number;
  /** Requests in flight per endpoint (each on a different topic: one topic's events go in order). */
  maxInFlight: number;
  /** Events of one topic sent together in one request at most. */
  maxBatch: number;
  /** Bytes of one request's body at most (receivers cap bodies; their 413 is final): a batch is cut
   * before the event that would pass it. One event bigger than this still goes, alone. */
  maxBatchBytes: number;
  /** A request not answered within this is a failed attempt. */
  timeoutMs: number;
  /** Attempts per event before it is dead-lettered (`attempts_exhausted`). */
  maxAttempts: number;
  /** First retry delay; doubled per attempt, with full jitter, up to backoffMaxMs. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Allow admin-route webhook URLs on this machine or internal addresses
   * (notify/destination-policy.ts). Config-file endpoints are the operator's and always allowed. */
  allowPrivateUrls: boolean;
}

/** Who follows which topics (for `item.undelivered` webhooks and Web Push). */
export interface NotifyConfig {
  /** Topics one tokenId may follow. */
  maxFollowsPerToken: number;
  /** Follows on the server at most (all tokenIds). */
  maxFollows: number;
  /** A follower's notification dropped because its presence lookup failed (engine redis) is
   * counted always and logged at most once per this many ms, with the count since the last log. */
  failureLogIntervalMs: number;
}

/** Web Push (docs/push.md). Empty VAPID keys: push is off (dev mode generates a pair). */
export interface PushConfig {
  /** VAPID key pair, base64url (the `web-push generate-vapid-keys` format). */
  vapidPublicKey: string;
  vapidPrivateKey: string;
  /** Contact for the push service (RFC 8292 `sub`): a mailto: or https: URL. */
  subject: string;
  /** How long a push service keeps an undelivered message, seconds. */
  ttlSec: number;
  urgency: 'very-low' | 'low' | 'normal' | 'high';
  /** At most one push per (subscription, topic) per this window; later items within it are
   * collapsed into the next push (the newest is sent, with a count). */
  collapseMs: number;
  /** Push subscriptions (browsers) per tokenId. */
  maxSubscriptionsPerToken: number;
  /** Push subscriptions on the server at most. */
  maxSubscriptions: number;
  /** Bytes (JSON) of the topic permissions a subscription keeps of the token that registered it:
   * it is pushed only topics they allow subscribing to. A token with more is refused. */
  maxScopeBytes: number;
  /** Pushes waiting to be sent at most; past it new ones are dropped and counted. */
  queueSize: number;
  /** Pushes of one tokenId waiting or in flight at most (its share of queueSize): one user's dead
   * endpoints cannot fill the queue for everyone. */
  maxQueuedPerOwner: number;
  maxInFlight: number;
  /** Requests of one tokenId in flight at most (its share of maxInFlight); free slots go to the
   * tokenIds in turn, so one user's slow endpoints cannot hold every slot. */
  maxInFlightPerOwner: number;
  timeoutMs: number;
  maxAttempts: number;
  /** First retry delay; doubled per attempt, with full jitter, up to backoffMaxMs (which also caps
   * how long a Retry-After is honoured). */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Allow http:// push endpoints (tests and local push services only: real ones are https). */
  allowInsecureEndpoints: boolean;
  /** Allow push endpoints on this machine or internal addresses (notify/destination-policy.ts):
   * local push services in tests only. A client chooses the endpoint the server POSTs to. */
  allowPrivateEndpoints: boolean;
}

export interface TidingsConfig {
  /** Dev mode: ephemeral signing key, an admin API key printed at start, the demo page. */
  dev: boolean;
  engine: EngineKind;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  server: ServerConfig;
  limits: LimitsConfig;
  http: HttpConfig;
  auth: AuthConfig;
  topics: TopicsConfig;
  store: StoreConfig;
  moderation: ModerationConfig;
  admin: AdminConfig;
  redis: RedisConfig;
  momento: MomentoConfig;
  presence: PresenceConfig;
  webhooks: WebhooksConfig;
  notify: NotifyConfig;
  push: PushConfig;
}

export const DEFAULTS: TidingsConfig = {
  dev: false,
  engine: 'memory',
  logLevel: 'info',
  server: {
    host: '127.0.0.1',
    port: 8080,
    maxFrameBytes: 1024 * 1024,
    maxRequestElements: 102_400,
    maxRequestDepth: 32,
    maxBackpressureBytes: 1024 * 1024,
    sendBufferHardLimitBytes: 4 * 1024 * 1024,
    slowConsumerTimeoutMs: 30_000,
    shutdownGraceMs: 10_000,
    idempotencyWindowMs: 120_000,
    maxIdempotencyKeys: 100_000,
    idleTimeoutSec: 120,
    helloTimeoutMs: 10_000,
    heartbeatMs: 15_000,
    batchDelayMs: 0,
    batchMaxItems: 256,
    batchMaxBytes: 64 * 1024,
    maxConnections: 100_000,
    maxPendingRequests: 256,
    maxHttpBodyBytes: 1024 * 1024,
    maxInFlightBodyBytes: 64 * 1024 * 1024,
    maxInFlightBodyBytesPerIp: 16 * 1024 * 1024,
    corsOrigins: [],
    maxPreHelloFrameBytes: 17 * 1024,
    maxPreHelloRequestElements: 256,
    maxPendingHellos: 1000,
    maxPendingHellosPerIp: 100,
    maxConnectionsPerIp: 1000,
    trustedProxyHeader: '',
    reusePort: false,
    metricsAccess: 'apiKey',
    eventLoopMonitorMs: 100,
    metricsMaxGroups: 100,
    requestHistogram: true,
  },
  limits: {
    maxConnectionsPerTokenId: 1000,
    maxSubscriptionsPerTokenId: 10_000,
    maxGroupsPerTokenId: 1000,
    connectionOpsPerSec: 10_000,
    connectionOpsBurst: 20_000,
    requestElementsPerOp: 32,
    tokenIdOpsPerSec: 50_000,
    tokenIdOpsBurst: 100_000,
    tokenMintsPerSec: 500,
    tokenMintsBurst: 5000,
    connectionRefusalsBurst: 10_000,
    connectionRefusalsPerSec: 1000,
    maxMalformedFrames: 100,
    maxIdleBuckets: 100_000,
  },
  http: {
    corsMaxAgeSec: 600,
    ticketTtlMs: 30_000,
    maxTickets: 10_000,
    maxTicketsPerCredential: 100,
    sseRetryMs: 2000,
    longPollMaxWaitMs: 30_000,
    maxStreamPostBytes: 2 * 1024 * 1024,
  },
  auth: {
    signingKeys: [],
    issuer: 'tidings',
    maxTokenTtlSec: 25 * 3600,
    clockToleranceSec: 5,
    expiryNoticeMs: 30_000,
    maxPermissions: 20,
    maxRevocations: 100_000,
    maxTokenBytes: 16 * 1024,
  },
  topics: {
    maxValueBytes: 64 * 1024,
    windowItems: 1000,
    windowBytes: 1024 * 1024,
    windowTotalBytes: 256 * 1024 * 1024,
    idleTopicMs: 10 * 60_000,
    maxTopics: 100_000,
    maxSubscriptionsPerConnection: 1000,
  },
  store: {
    maxBytes: 256 * 1024 * 1024,
    maxItemBytes: 5 * 1024 * 1024,
    maxElementBytes: 128 * 1024,
    maxListLength: 100_000,
    maxDictionaryFields: 100_000,
    maxSetElements: 100_000,
    maxSortedSetElements: 100_000,
    maxTtlSec: 24 * 3600,
    defaultTtlSec: 3600,
    purgeIntervalMs: 60_000,
    fetchCacheBytes: 16 * 1024 * 1024,
    caches: [],
  },
  moderation: {
    ackTimeoutMs: 30_000,
    maxInFlightPerMember: 64,
    bufferItems: 10_000,
    bufferBytes: 16 * 1024 * 1024,
    totalBufferBytes: 256 * 1024 * 1024,
    maxAttempts: 10,
    groupIdleMs: 10 * 60_000,
    maxGroups: 10_000,
    nodeTimeoutMs: 10_000,
    maxGroupsPerConnection: 100,
    historyLength: 100,
    historyTtlSec: 24 * 3600,
    maxReasonBytes: 1024,
  },
  admin: {
    tokenIds: [],
    topTopics: 10,
    topGroups: 50,
  },
  redis: {
    url: 'redis://127.0.0.1:6379',
    shards: [],
    keyPrefix: 'tidings:',
    connectTimeoutMs: 5000,
    commandTimeoutMs: 2000,
    linkTimeoutMs: 5000,
    reconnectMinMs: 50,
    reconnectMaxMs: 2000,
    maxQueuedCommands: 1000,
    queueTimeoutMs: 1000,
    publishBatchMaxItems: 64,
    publishBatchMaxBytes: 256 * 1024,
    notifyLoadPageSize: 2000,
  },
  momento: {
    enabled: false,
    port: 8081,
    endpoint: '',
    maxMessageBytes: 6 * 1024 * 1024,
    maxStreams: 10_000,
    maxConnections: 10_000,
    // As server.maxConnectionsPerIp for WebSockets; an SDK client pools a few connections.
    maxConnectionsPerIp: 1000,
    // A real client sends its preface with the connection (grpc-js: right after TCP connect); 10 s
    // covers a slow link, as TLS handshake timeouts do (envoy's listener filters: 15 s, nginx's
    // client_header_timeout: 60 s for a whole request), yet frees a silent socket's slot soon.
    openingTimeoutMs: 10_000,
    // gRPC itself leaves max_connection_idle unlimited, but load balancers in front of it close idle
    // connections after minutes (nginx's http2 idle: 3 min, AWS ALB: 350 s, envoy: 1 h): 5 min
    // keeps an SDK's pooled connection between calls a few minutes apart, and returns a slot
    // held by a client that went quiet. grpc-js clients reconnect transparently on the next call.
    idleTimeoutMs: 300_000,
    // The SDKs' own deadlines are 5 s at most (their default configurations) and a real client
    // sends its request at once: 10 s covers a 6 MiB message at 5 Mbit/s.
    requestReadTimeoutMs: 10_000,
    maxConcurrentStreamsPerConnection: 100,
    maxStreamBufferBytes: 1024 * 1024,
    webStreamMaxMs: 120_000,
  },
  presence: {
    leaveGraceMs: 5000,
    maxMembersPerTopic: 1000,
    maxPendingLeaves: 100_000,
    nodeTimeoutMs: 15_000,
  },
  webhooks: {
    endpoints: [],
    maxEndpoints: 100,
    queueSize: 10_000,
    maxQueuedBytes: 64 * 1024 * 1024,
    maxInFlight: 8,
    maxBatch: 100,
    maxBatchBytes: 1024 * 1024,
    timeoutMs: 5000,
    maxAttempts: 8,
    backoffInitialMs: 500,
    backoffMaxMs: 60_000,
    allowPrivateUrls: false,
  },
  notify: {
    maxFollowsPerToken: 100,
    maxFollows: 1_000_000,
    failureLogIntervalMs: 60_000,
  },
  push: {
    vapidPublicKey: '',
    vapidPrivateKey: '',
    subject: 'mailto:admin@localhost',
    ttlSec: 24 * 3600,
    urgency: 'normal',
    collapseMs: 10_000,
    maxSubscriptionsPerToken: 10,
    maxSubscriptions: 100_000,
    maxScopeBytes: 4096,
    queueSize: 10_000,
    maxQueuedPerOwner: 100,
    maxInFlight: 16,
    maxInFlightPerOwner: 4,
    timeoutMs: 10_000,
    maxAttempts: 3,
    backoffInitialMs: 1000,
    backoffMaxMs: 30_000,
    allowInsecureEndpoints: false,
    allowPrivateEndpoints: false,
  },
};

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<infer U> ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Room a `hello` needs besides its token (t, id, versions, client name, batch, msgpack headers):
 * server.maxPreHelloFrameBytes must hold auth.maxTokenBytes plus this. */
export const HELLO_FIELDS_BYTES = 1024;

export class ConfigError extends Error {
  constructor(readonly path: string, message: string) {
    super(`config ${path}: ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** What a browser sends in `Origin`: scheme://host[:port], nothing after. */
const ORIGIN = /^https?:\/\/[^/\s:]+(:\d{1,5})?$/;
const ENGINES: readonly EngineKind[] = ['memory', 'redis'];
/** A host name or IPv4 address, or a bracketed IPv6 one, with an optional port. */
const MOMENTO_ENDPOINT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Merges `input` over DEFAULTS, validates every key and freezes the result. Unknown keys are
 * refused (a typo must not silently fall back to a default). */
export function resolveConfig(input: DeepPartial<TidingsConfig> = {}): Readonly<TidingsConfig> {
  const merged = mergeKnown(DEFAULTS, input, '') as TidingsConfig;
  validate(merged);
  return deepFreeze(merged);
}

function mergeKnown(base: unknown, patch: unknown, path: string): unknown {
  if (patch === undefined) return structuredClone(base);
  if (isPlainObject(base)) {
    if (!isPlainObject(patch)) throw new ConfigError(path || '(root)', 'must be an object');
    for (const key of Object.keys(patch)) {
      // Own keys only: `in` took "constructor", "toString" or "__proto__" for settings.
      if (!Object.hasOwn(base, key)) throw new ConfigError(join(path, key), 'unknown key');
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(base)) out[key] = mergeKnown(value, patch[key], join(path, key));
    return out;
  }
  if (Array.isArray(base)) {
    if (!Array.isArray(patch)) throw new ConfigError(path, 'must be an array');
    return [...patch];
  }
  if (typeof patch !== typeof base) throw new ConfigError(path, `must be a ${typeof base}`);
  return patch;
}

function validate(c: TidingsConfig): void {
  if (!LOG_LEVELS.includes(c.logLevel)) throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
  if (!ENGINES.includes(c.engine)) throw new ConfigError('engine', `must be one of ${ENGINES.join(', ')}`);
  const positive = (path: string, value: number, min = 1) => {
    if (!Number.isFinite(value) || !Number.isInteger(value) || value < min) {
      throw new ConfigError(path, `must be a finite integer ≥ ${min} (unbounded limits are refused)`);
    }
    // Past 2^53 integers are not exact, and past 10^21 they print as 1e+21 (a header, a Redis argument).
    if (value > Number.MAX_SAFE_INTEGER) throw new ConfigError(path, `must be ≤ ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`);
  };
  if (c.server.host.trim() === '') throw new ConfigError('server.host', 'must name an interface (127.0.0.1, 0.0.0.0, ::1, ::, or a host name)');
  positive('server.port', c.server.port, 0);
  if (c.server.port > 65535) throw new ConfigError('server.port', 'must be ≤ 65535');
  for (const key of ['maxFrameBytes', 'maxBackpressureBytes', 'sendBufferHardLimitBytes', 'slowConsumerTimeoutMs', 'idempotencyWindowMs', 'maxIdempotencyKeys', 'idleTimeoutSec', 'helloTimeoutMs', 'heartbeatMs', 'maxConnections', 'maxPendingRequests', 'maxHttpBodyBytes', 'maxInFlightBodyBytes', 'maxInFlightBodyBytesPerIp',
    'maxPreHelloFrameBytes', 'maxPendingHellos', 'maxPendingHellosPerIp', 'maxConnectionsPerIp', 'batchMaxItems', 'batchMaxBytes', 'maxRequestElements', 'maxRequestDepth', 'maxPreHelloRequestElements'] as const) {
    positive(`server.${key}`, c.server[key]);
  }
  // uWS reads its payload limit (twice this) and its send-buffer limit as 32-bit integers: 2^32
  // wrapped to 0, and every WebSocket was closed at its first frame.
  if (c.server.maxFrameBytes > MAX_FRAME_BYTES) throw new ConfigError('server.maxFrameBytes', `must be ≤ ${MAX_FRAME_BYTES} (512 MiB)`);
  if (c.server.sendBufferHardLimitBytes > MAX_SEND_BUFFER_BYTES) throw new ConfigError('server.sendBufferHardLimitBytes', `must be ≤ ${MAX_SEND_BUFFER_BYTES} (1 GiB)`);
  // Its LRU allocates every slot up front (about 30 bytes each): 10^9 ran out of memory at start.
  if (c.server.maxIdempotencyKeys > MAX_IDEMPOTENCY_KEYS) throw new ConfigError('server.maxIdempotencyKeys', `must be ≤ ${MAX_IDEMPOTENCY_KEYS}`);
  positive('server.batchDelayMs', c.server.batchDelayMs, 0);
  if (c.server.batchDelayMs > 100) throw new ConfigError('server.batchDelayMs', 'must be ≤ 100 (it is added to delivery latency under load)');
  if (c.server.batchMaxItems > 4096) throw new ConfigError('server.batchMaxItems', 'must be ≤ 4096');
  if (c.server.maxPendingHellosPerIp > c.server.maxConnectionsPerIp) throw new ConfigError('server.maxPendingHellosPerIp', 'must be ≤ server.maxConnectionsPerIp');
  if (c.server.trustedProxyHeader !== '' && !/^[a-z0-9-]+$/.test(c.server.trustedProxyHeader)) {
    throw new ConfigError('server.trustedProxyHeader', 'must be a lower-case header name (e.g. x-forwarded-for) or empty');
  }
  if (!['apiKey', 'open'].includes(c.server.metricsAccess)) throw new ConfigError('server.metricsAccess', 'must be "apiKey" or "open"');
  positive('server.eventLoopMonitorMs', c.server.eventLoopMonitorMs, 10);
  if (c.server.eventLoopMonitorMs > 60_000) throw new ConfigError('server.eventLoopMonitorMs', 'must be ≤ 60000');
  positive('server.metricsMaxGroups', c.server.metricsMaxGroups, 0);
  for (const key of ['maxConnectionsPerTokenId', 'maxSubscriptionsPerTokenId', 'maxGroupsPerTokenId', 'connectionOpsPerSec', 'connectionOpsBurst', 'requestElementsPerOp', 'tokenIdOpsPerSec', 'tokenIdOpsBurst', 'tokenMintsPerSec', 'tokenMintsBurst', 'connectionRefusalsBurst', 'connectionRefusalsPerSec', 'maxMalformedFrames', 'maxIdleBuckets'] as const) {
    positive(`limits.${key}`, c.limits[key]);
  }
  positive('server.shutdownGraceMs', c.server.shutdownGraceMs, 0);
  if (c.server.sendBufferHardLimitBytes < 2 * c.server.maxBackpressureBytes) {
    throw new ConfigError('server.sendBufferHardLimitBytes', 'must be at least twice server.maxBackpressureBytes (room to detach a slow subscriber before frames would drop)');
  }
  for (const key of ['corsMaxAgeSec', 'ticketTtlMs', 'maxTickets', 'maxTicketsPerCredential', 'sseRetryMs', 'longPollMaxWaitMs', 'maxStreamPostBytes'] as const) positive(`http.${key}`, c.http[key]);
  // A body a route allows must fit in the budget alone, else it would get 503 however often retried.
  if (c.server.maxInFlightBodyBytes < Math.max(c.server.maxHttpBodyBytes, c.http.maxStreamPostBytes)) {
    throw new ConfigError('server.maxInFlightBodyBytes', 'must be ≥ server.maxHttpBodyBytes and http.maxStreamPostBytes');
  }
  if (c.server.maxInFlightBodyBytesPerIp < Math.max(c.server.maxHttpBodyBytes, c.http.maxStreamPostBytes)) {
    throw new ConfigError('server.maxInFlightBodyBytesPerIp', 'must be ≥ server.maxHttpBodyBytes and http.maxStreamPostBytes');
  }
  if (c.http.maxStreamPostBytes < c.server.maxFrameBytes + 4) {
    throw new ConfigError('http.maxStreamPostBytes', 'must hold at least one frame of server.maxFrameBytes (plus its 4-byte length)');
  }
  if (c.server.idleTimeoutSec < 8) throw new ConfigError('server.idleTimeoutSec', 'must be ≥ 8 (uWS minimum)');
  // uWS aborts the process (std::terminate) on a larger idleTimeout.
  if (c.server.idleTimeoutSec > 960) throw new ConfigError('server.idleTimeoutSec', 'must be ≤ 960 (uWS maximum)');
  c.server.corsOrigins.forEach((origin, i) => {
    if (origin !== '*' && !ORIGIN.test(origin)) throw new ConfigError(`server.corsOrigins[${i}]`, 'must be "*" or an origin like https://app.example[:port] (scheme and host, no path)');
  });
  for (const key of ['maxTokenTtlSec', 'expiryNoticeMs', 'maxPermissions', 'maxRevocations', 'maxTokenBytes'] as const) positive(`auth.${key}`, c.auth[key]);
  positive('auth.clockToleranceSec', c.auth.clockToleranceSec, 0);
  c.auth.signingKeys.forEach((key, i) => {
    if (typeof key !== 'string' || decodedLength(key) < 32) throw new ConfigError(`auth.signingKeys[${i}]`, 'must be base64url text of at least 32 bytes (`tidings signing-key` prints one)');
  });
  if (!c.dev && c.auth.signingKeys.length === 0) {
    throw new ConfigError('auth.signingKeys', 'at least one signing key is required outside dev mode (set TIDINGS_SIGNING_KEY or use --dev)');
  }
  for (const key of ['maxValueBytes', 'windowItems', 'windowBytes', 'windowTotalBytes', 'idleTopicMs', 'maxTopics', 'maxSubscriptionsPerConnection'] as const) {
    positive(`topics.${key}`, c.topics[key]);
  }
  if (c.topics.maxValueBytes + 4096 > c.server.maxFrameBytes) {
    throw new ConfigError('topics.maxValueBytes', 'must leave 4 KiB of framing below server.maxFrameBytes');
  }
  if (c.server.maxPreHelloFrameBytes > c.server.maxFrameBytes) throw new ConfigError('server.maxPreHelloFrameBytes', 'must be ≤ server.maxFrameBytes');
  if (c.server.maxPreHelloFrameBytes < c.auth.maxTokenBytes + HELLO_FIELDS_BYTES) {
    throw new ConfigError('server.maxPreHelloFrameBytes', `must be ≥ auth.maxTokenBytes + ${HELLO_FIELDS_BYTES} (a hello carrying the longest token that can be minted, with its other fields)`);
  }
  validateStore(c.store, positive);
  // A list of maxListLength values, with the fields around it, must fit in one concatenate.
  if (c.server.maxRequestElements < c.store.maxListLength + 64) throw new ConfigError('server.maxRequestElements', 'must be ≥ store.maxListLength + 64');
  if (c.server.maxPreHelloRequestElements < 32 || c.server.maxPreHelloRequestElements > c.server.maxRequestElements) {
    throw new ConfigError('server.maxPreHelloRequestElements', 'must be ≥ 32 (a hello holds about 15 values) and ≤ server.maxRequestElements');
  }
  if (c.server.maxRequestDepth < 4) throw new ConfigError('server.maxRequestDepth', 'must be ≥ 4 (listErase ranges nest 3 deep)');
  for (const key of ['ackTimeoutMs', 'maxInFlightPerMember', 'bufferItems', 'bufferBytes', 'totalBufferBytes', 'maxAttempts', 'groupIdleMs', 'maxGroups', 'nodeTimeoutMs', 'maxGroupsPerConnection', 'historyLength', 'historyTtlSec', 'maxReasonBytes'] as const) {
    positive(`moderation.${key}`, c.moderation[key]);
  }
  if (c.moderation.bufferBytes > c.moderation.totalBufferBytes) throw new ConfigError('moderation.bufferBytes', 'must be ≤ moderation.totalBufferBytes');
  // The SDKs connect to cache.<endpoint> (and control., token.): a scheme or a path makes a name no one resolves.
  if (c.momento.endpoint !== '' && !MOMENTO_ENDPOINT.test(c.momento.endpoint)) {
    throw new ConfigError('momento.endpoint', 'must be a host name or host:port, no scheme or path (broker.example.com, 127.0.0.1:8081, [::1]:8081), or empty');
  }
  positive('momento.port', c.momento.port, 0);
  positive('momento.maxConnectionsPerIp', c.momento.maxConnectionsPerIp, 0);
  if (c.momento.port > 65535) throw new ConfigError('momento.port', 'must be ≤ 65535');
  for (const key of ['maxMessageBytes', 'maxStreams', 'maxConnections', 'openingTimeoutMs', 'idleTimeoutMs', 'requestReadTimeoutMs', 'maxConcurrentStreamsPerConnection', 'maxStreamBufferBytes', 'webStreamMaxMs'] as const) positive(`momento.${key}`, c.momento[key]);
  // Node's HTTP/2 refuses a larger SETTINGS value by throwing at the first connection.
  if (c.momento.maxConcurrentStreamsPerConnection > 0xffff_ffff) throw new ConfigError('momento.maxConcurrentStreamsPerConnection', 'must be ≤ 4294967295 (the largest HTTP/2 setting)');
  if (c.momento.maxMessageBytes <= c.store.maxItemBytes) throw new ConfigError('momento.maxMessageBytes', 'must be > store.maxItemBytes');
  positive('presence.leaveGraceMs', c.presence.leaveGraceMs, 0);
  positive('presence.maxMembersPerTopic', c.presence.maxMembersPerTopic);
  positive('presence.maxPendingLeaves', c.presence.maxPendingLeaves, 0);
  positive('presence.nodeTimeoutMs', c.presence.nodeTimeoutMs, 30);
  validateWebhooks(c.webhooks, positive);
  positive('notify.maxFollowsPerToken', c.notify.maxFollowsPerToken);
  positive('notify.maxFollows', c.notify.maxFollows);
  positive('notify.failureLogIntervalMs', c.notify.failureLogIntervalMs);
  validatePush(c.push, positive);
  if (c.moderation.historyTtlSec > c.store.maxTtlSec) throw new ConfigError('moderation.historyTtlSec', 'must be ≤ store.maxTtlSec');
  if (c.moderation.historyLength > c.store.maxListLength) throw new ConfigError('moderation.historyLength', 'must be ≤ store.maxListLength');
  c.admin.tokenIds.forEach((id, i) => {
    if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw new ConfigError(`admin.tokenIds[${i}]`, 'must be a tokenId of 1 to 64 characters');
  });
  positive('admin.topTopics', c.admin.topTopics);
  if (c.admin.topTopics > 100) throw new ConfigError('admin.topTopics', 'must be ≤ 100');
  positive('admin.topGroups', c.admin.topGroups);
  if (c.admin.topGroups > 1000) throw new ConfigError('admin.topGroups', 'must be ≤ 1000');
  validateRedis(c.redis, positive);
  // The memory engine never reads them: a node meant to share a Redis would run alone, unsaid.
  if (c.engine === 'memory') {
    if (c.redis.shards.length > 0) throw new ConfigError('redis.shards', 'is set, but engine is "memory", which uses no Redis: set engine "redis" (TIDINGS_ENGINE=redis) too, or leave it out');
    for (const key of ['url', 'keyPrefix'] as const) {
      if (c.redis[key] !== DEFAULTS.redis[key]) throw new ConfigError(`redis.${key}`, 'is set, but engine is "memory", which uses no Redis: set engine "redis" (TIDINGS_ENGINE=redis) too, or leave it out');
    }
  }
  checkTimerRange(c, '');
}

/** Node's timers hold at most 2^31 - 1 ms; a longer delay fires after 1 ms instead (a 25-day
 * leave grace would end at once, a 25-day purge interval would run every millisecond). */

function checkTimerRange(node: unknown, path: string): void {
  if (!isPlainObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const at = join(path, key);
    if (typeof value === 'number' && key.endsWith('Ms') && value > MAX_TIMER_MS) throw new ConfigError(at, `must be ≤ ${MAX_TIMER_MS} (the longest timer Node.js holds)`);
    checkTimerRange(value, at);
  }
}

function validateRedis(r: RedisConfig, positive: (path: string, value: number, min?: number) => void): void {
  for (const key of ['connectTimeoutMs', 'commandTimeoutMs', 'linkTimeoutMs', 'reconnectMinMs', 'reconnectMaxMs', 'queueTimeoutMs'] as const) positive(`redis.${key}`, r[key]);
  positive('redis.maxQueuedCommands', r.maxQueuedCommands, 0);
  positive('redis.publishBatchMaxItems', r.publishBatchMaxItems, 1);
  // Lua's unpack() of one batch's messages is bounded by its C stack (LUAI_MAXCSTACK, 8000).
  if (r.publishBatchMaxItems > 1000) throw new ConfigError('redis.publishBatchMaxItems', 'must be ≤ 1000');
  positive('redis.notifyLoadPageSize', r.notifyLoadPageSize, 1);
  if (r.notifyLoadPageSize > 100_000) throw new ConfigError('redis.notifyLoadPageSize', 'must be ≤ 100000');
  positive('redis.publishBatchMaxBytes', r.publishBatchMaxBytes, 1);
  if (r.reconnectMinMs > r.reconnectMaxMs) throw new ConfigError('redis.reconnectMinMs', 'must be ≤ redis.reconnectMaxMs');
  validateRedisUrl('redis.url', r.url);
  if (!Array.isArray(r.shards)) throw new ConfigError('redis.shards', 'must be a list of Redis URLs');
  if (r.shards.length === 1) throw new ConfigError('redis.shards', 'must list two or more Redis URLs (one Redis: redis.url)');
  if (r.shards.length > MAX_REDIS_SHARDS) throw new ConfigError('redis.shards', `must list at most ${MAX_REDIS_SHARDS} Redis URLs`);
  r.shards.forEach((shard, i) => validateRedisUrl(`redis.shards[${i}]`, shard));
  // Shards replace the url: a node given both would leave that Redis out, unsaid.
  if (r.shards.length > 0 && r.url !== DEFAULTS.redis.url) {
    throw new ConfigError('redis.url', 'is set, but so is redis.shards, which replaces it: list that Redis among redis.shards (TIDINGS_REDIS_SHARDS) and leave redis.url (TIDINGS_REDIS_URL) out');
  }
  // Databases of one server are not shards: they share its pub/sub channels.
  const servers = r.shards.map((shard) => { const u = new URL(shard); return `${u.hostname}:${u.port || '6379'}`; });
  if (new Set(servers).size !== servers.length) throw new ConfigError('redis.shards', 'must list each Redis server once (databases of one server share its channels)');
  if (/[\u0000-\u001f\u007f]/.test(r.keyPrefix)) throw new ConfigError('redis.keyPrefix', 'must not contain control characters');
}

const MAX_FRAME_BYTES = 512 * 1024 * 1024;
const MAX_SEND_BUFFER_BYTES = 1024 * 1024 * 1024;
const MAX_IDEMPOTENCY_KEYS = 10_000_000;

/** Shards a deployment may name (each costs every node three connections). */
const MAX_REDIS_SHARDS = 64;

function validateRedisUrl(path: string, value: unknown): void {
  let url: URL | undefined;
  try { url = typeof value === 'string' ? new URL(value) : undefined; } catch { /* reported below */ }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) throw new ConfigError(path, 'must be a redis:// or rediss:// URL');
}

function validateStore(s: StoreConfig, positive: (path: string, value: number, min?: number) => void): void {
  for (const key of ['maxBytes', 'maxItemBytes', 'maxElementBytes', 'maxListLength', 'maxDictionaryFields', 'maxSetElements', 'maxSortedSetElements', 'maxTtlSec', 'defaultTtlSec', 'purgeIntervalMs'] as const) {
    positive(`store.${key}`, s[key]);
  }
  positive('store.fetchCacheBytes', s.fetchCacheBytes, 0);
  if (s.maxItemBytes > s.maxBytes) throw new ConfigError('store.maxItemBytes', 'must be ≤ store.maxBytes');
  if (s.maxElementBytes > s.maxItemBytes) throw new ConfigError('store.maxElementBytes', 'must be ≤ store.maxItemBytes');
  if (s.defaultTtlSec > s.maxTtlSec) throw new ConfigError('store.defaultTtlSec', 'must be ≤ store.maxTtlSec');
  s.caches.forEach((name, i) => {
    const problem = nameProblem('cache', name);
    if (problem) throw new ConfigError(`store.caches[${i}]`, problem);
  });
}

type Positive = (path: string, value: number, min?: number) => void;

function validateWebhooks(w: WebhooksConfig, positive: Positive): void {
  for (const key of ['maxEndpoints', 'queueSize', 'maxQueuedBytes', 'maxInFlight', 'maxBatch', 'maxBatchBytes', 'timeoutMs', 'maxAttempts', 'backoffInitialMs', 'backoffMaxMs'] as const) positive(`webhooks.${key}`, w[key]);
  if (w.backoffMaxMs < w.backoffInitialMs) throw new ConfigError('webhooks.backoffMaxMs', 'must be ≥ webhooks.backoffInitialMs');
  if (w.endpoints.length > w.maxEndpoints) throw new ConfigError('webhooks.endpoints', `at most webhooks.maxEndpoints (${w.maxEndpoints})`);
  const seen = new Set<string>();
  w.endpoints.forEach((e, i) => {
    const problem = webhookEndpointProblem(e);
    if (problem) throw new ConfigError(`webhooks.endpoints[${i}]`, problem);
    if (seen.has(`${e.cache}/${e.name}`)) throw new ConfigError(`webhooks.endpoints[${i}]`, `duplicate name "${e.name}" in cache "${e.cache}"`);
    seen.add(`${e.cache}/${e.name}`);
  });
}

/** Why an endpoint definition (config file or admin route) is unusable, or undefined. */
export function webhookEndpointProblem(e: unknown): string | undefined {
  if (!isPlainObject(e)) return 'must be an object { name, url, secret, cache, topicPrefix, events }';
  const known = ['name', 'url', 'secret', 'cache', 'topicPrefix', 'events'];
  const unknown = Object.keys(e).find((k) => !known.includes(k));
  if (unknown) return `unknown key ${unknown}`;
  if (typeof e['name'] !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(e['name'])) return 'name must be 1-64 of A-Z a-z 0-9 _ . -';
  if (typeof e['url'] !== 'string' || !/^https?:\/\/[^\s]+$/.test(e['url']) || !URL.canParse(e['url'])) return 'url must be an http(s) URL';
  // fetch refuses a URL with user:password@: every delivery would fail.
  const url = new URL(e['url']);
  if (url.username !== '' || url.password !== '') return 'url must not contain user:password@ (put a credential in the path or query)';
  if (typeof e['secret'] !== 'string' || e['secret'].length < 16 || e['secret'].length > 256) return 'secret must be 16 to 256 characters';
  const cacheProblem = nameProblem('cache', e['cache']);
  if (cacheProblem) return cacheProblem;
  if (typeof e['topicPrefix'] !== 'string') return 'topicPrefix must be a string (\'\' = every topic)';
  const events = e['events'];
  if (!Array.isArray(events) || events.length === 0 || !events.every((ev) => (WEBHOOK_EVENTS as readonly unknown[]).includes(ev))) {
    return `events must be a non-empty list of ${WEBHOOK_EVENTS.join(', ')}`;
  }
  return undefined;
}

const URGENCIES = ['very-low', 'low', 'normal', 'high'];

function validatePush(p: PushConfig, positive: Positive): void {
  for (const key of ['ttlSec', 'collapseMs', 'maxSubscriptionsPerToken', 'maxSubscriptions', 'maxScopeBytes', 'queueSize', 'maxQueuedPerOwner', 'maxInFlight', 'maxInFlightPerOwner', 'timeoutMs', 'maxAttempts', 'backoffInitialMs', 'backoffMaxMs'] as const) positive(`push.${key}`, p[key]);
  if (p.backoffMaxMs < p.backoffInitialMs) throw new ConfigError('push.backoffMaxMs', 'must be ≥ push.backoffInitialMs');
  if (!URGENCIES.includes(p.urgency)) throw new ConfigError('push.urgency', `must be one of ${URGENCIES.join(', ')}`);
  if ((p.vapidPublicKey === '') !== (p.vapidPrivateKey === '')) throw new ConfigError('push.vapidPrivateKey', 'set both VAPID keys or neither');
  // Checked here, as web-push checks them on every send: a bad key would otherwise fail each push
  // as "subscription unusable" and remove every user's subscription. web-push refuses padding.
  if (p.vapidPublicKey !== '' && (p.vapidPublicKey.includes('=') || decodedLength(p.vapidPublicKey) !== 65)) {
    throw new ConfigError('push.vapidPublicKey', 'must be an uncompressed P-256 public key, 65 bytes as unpadded base64url (npx web-push generate-vapid-keys)');
  }
  if (p.vapidPrivateKey !== '' && (p.vapidPrivateKey.includes('=') || decodedLength(p.vapidPrivateKey) !== 32)) {
    throw new ConfigError('push.vapidPrivateKey', 'must be a P-256 private key, 32 bytes as unpadded base64url (npx web-push generate-vapid-keys)');
  }
  if (!/^(mailto:|https:)/.test(p.subject) || !URL.canParse(p.subject)) throw new ConfigError('push.subject', 'must be a mailto: or https: URL');
}

function decodedLength(base64url: string): number {
  return /^[A-Za-z0-9_-]+={0,2}$/.test(base64url) ? Buffer.from(base64url, 'base64url').length : 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
