/** Every frame on the wire. One msgpack map per WebSocket binary message, `t` naming the frame, except
 * the item push and the batch frame, arrays tagged "i" and "b" (codec.ts).
 * docs/protocol.md is the normative description; keep the two in step. */
import type { ErrorCode, LimitCause } from './codes.js';

/** A topic or list value: text stays a string, binary stays bytes, end to end. */
export type Value = string | Uint8Array;

// ---------------------------------------------------------------------------------------------
// Client -> server requests. Every request carries `id` (a client-chosen unsigned integer, unique
// among the connection's pending requests) and gets exactly one `ok` or `err` reply with that id.

/** `batch: true` asks for `batch` frames (several pushes in one message, under load). */
export interface HelloRequest { t: 'hello'; id: number; versions: number[]; token: string; client?: string; batch?: boolean }
/** Swap the connection's credential for a fresh one without losing subscriptions. */
export interface AuthRequest { t: 'auth'; id: number; token: string }
export interface PingRequest { t: 'ping'; id: number }
export interface PublishRequest { t: 'pub'; id: number; cache: string; topic: string; value: Value }
/** Resume position: the last (page, seq) the client holds. */
export interface Position { page: number; seq: number }
/** `presence: true` also streams the topic's join/leave events (needs the presence permission). */
export interface SubscribeRequest { t: 'sub'; id: number; cache: string; topic: string; after?: Position; presence?: boolean }
export interface UnsubscribeRequest { t: 'unsub'; id: number; cache: string; topic: string }

/** Requests added by feature modules (lists, scalars, moderation) share this shape: `t` is the
 * operation, the rest are its named arguments (docs/protocol.md lists each). */
export interface GenericRequest { t: string; id: number; [field: string]: unknown }

export type CoreRequest = HelloRequest | AuthRequest | PingRequest | PublishRequest | SubscribeRequest | UnsubscribeRequest;

// ---------------------------------------------------------------------------------------------
// Server -> client frames.

export interface OkReply<R = unknown> { t: 'ok'; id: number; r: R }
export interface WireError { code: ErrorCode; message: string; cause?: LimitCause | string }
export interface ErrReply { t: 'err'; id: number | null; e: WireError }

/** A published item, stamped by the server. Encoded once per publish and fanned out as is. On the
 * wire it is the one frame that is an array, not a map, because it is the one sent to every
 * subscriber: `["i", cache, topic, value, seq, page, ts, tokenId?]` (codec.ts encodes and decodes
 * it; decodeFrame hands out this object shape). */
export interface ItemFrame {
  t: 'item';
  cache: string;
  topic: string;
  value: Value;
  /** Per-topic sequence number within `page`, starting at 1. */
  seq: number;
  /** Identifies one incarnation of the topic; changes when the topic is reset. */
  page: number;
  /** The publisher token's tokenId, set by the server only. Absent when the token had none. */
  tokenId?: string;
  /** Server receive time, Unix milliseconds. */
  ts: number;
}

/** The subscriber missed items or the topic was reset. Items from `newSeq` in `page` follow. */
export interface DiscontinuityFrame { t: 'disc'; cache: string; topic: string; lastSeq: number; newSeq: number; page: number }

/** Liveness beacon; sent to every connection every heartbeat interval. */
export interface HeartbeatFrame { t: 'hb' }

/** The server ended one subscription (e.g. a refreshed token no longer covers it). */
export interface SubscriptionEndFrame { t: 'end'; cache: string; topic: string; e: WireError }

/** Sent just before the server closes the connection; `reconnect` mirrors the close-code range. */
export interface ByeFrame {
  t: 'bye';
  code: number;
  reason: string;
  reconnect: boolean;
  /** On shutdown (4000): each subscription's topic position at the close, so a client that resumes
   * on a new page (a restarted memory engine) knows how many items of the old one it missed. */
  ends?: Array<{ cache: string; topic: string; page: number; seq: number }>;
}

/** Advance warning, e.g. the token expires in `inMs`; the client should send `auth`. */
export type NoticeFrame =
  | { t: 'notice'; kind: 'token_expiring'; inMs: number }
  /** Engine redis: this node lost its link to Redis, so live items of the topic stop for now
   * (`topic_interrupted`), and got it back and caught up (`topic_resumed`; a `disc` before it if
   * items were lost meanwhile). docs/protocol.md, the `notice` frames under `auth`. */
  | { t: 'notice'; kind: 'topic_interrupted' | 'topic_resumed'; cache: string; topic: string };

export type ServerFrame =
  | OkReply | ErrReply | ItemFrame | DiscontinuityFrame | HeartbeatFrame | SubscriptionEndFrame | ByeFrame | NoticeFrame
  | ModerationPush | PresenceEventFrame;

// ---------------------------------------------------------------------------------------------
// Reply payloads (`r`) of the core requests.

export interface HelloResult {
  version: number;
  connectionId: string;
  /** Unix ms when the credential expires; null for a non-expiring API key. */
  expiresAt: number | null;
  /** Ms from this reply to that expiry, by the server's clock (present when expiresAt is not null):
   * a client whose own clock is off times its refresh by this, not by expiresAt. */
  expiresInMs?: number;
  tokenId?: string;
  heartbeatMs: number;
  limits: { maxFrameBytes: number; maxValueBytes: number; maxSubscriptions: number };
  /** Present (true) when the hello asked for batches and this connection will get them. */
  batch?: true;
}
/** `endedGroups`: moderator groups (gsub) the new credential no longer allows, left; present when
 * there are any. */
export interface AuthResult { expiresAt: number | null; expiresInMs?: number; tokenId?: string; ended: Array<{ cache: string; topic: string }>; endedGroups?: Array<{ cache: string; group: string }> }
/** Where a publish landed; `ts` (server time stamped on the item) is present on `pub` replies. */
export interface PublishResult { seq: number; page: number; ts?: number }
/** The topic's position at subscribe time: its newest item is (page, seq). Replayed items follow. */
export interface SubscribeResult { page: number; seq: number }

// ---------------------------------------------------------------------------------------------
// Moderation (docs/protocol.md "Moderation"). A moderator joins a group on a topic pattern; each
// item published to a matching input topic is handed to exactly one live member as a `delivery`,
// which the member settles with accept, reject or nack.

/** The topics a group consumes: every topic whose name ends (or starts) with the given text. The
 * moderated output topic is the input name with that text removed (`room1-input` -> `room1`). */
export type GroupPattern = { nameSuffix: string } | { namePrefix: string };

export interface GroupJoinRequest { t: 'gsub'; id: number; cache: string; group: string; pattern: GroupPattern; maxInFlight?: number }
export interface GroupLeaveRequest { t: 'gunsub'; id: number; cache: string; group: string }
/** Publishes the (possibly transformed) value to the output topic, stamped with the original
 * sender's tokenId, appends it to the output's history list, and acknowledges the delivery. */
export interface AcceptRequest { t: 'accept'; id: number; delivery: number; value?: Value; keep?: number }
/** Drops the item; the reason is pushed to the sender's connection as a `rejected` frame. */
export interface RejectRequest { t: 'reject'; id: number; delivery: number; reason: string }
/** Gives the item back unsettled, to be delivered again (to another member when there is one). */
export interface NackRequest { t: 'nack'; id: number; delivery: number }
/** Takes down an item published on a topic: removes it from the history list named like the topic
 * and publishes a `retract` frame on the topic. */
export interface RetractRequest { t: 'retract'; id: number; cache: string; topic: string; target: Position; reason?: string }

/** One input item handed to one group member. Settle it with accept, reject or nack within the
 * ack timeout, or it is delivered again elsewhere. */
export interface DeliveryFrame {
  t: 'delivery';
  cache: string;
  group: string;
  /** The input topic the item was published to (e.g. `room1-input`). */
  topic: string;
  /** The topic an accepted item is published to (e.g. `room1`). */
  output: string;
  value: Value;
  /** The sender token's tokenId, stamped by the server; the moderator cannot change it. */
  tokenId?: string;
  /** Position of the item in the input topic (the sender's `pub` reply names the same one). */
  page: number;
  seq: number;
  ts: number;
  /** Identifies this delivery for accept / reject / nack. */
  delivery: number;
  /** 1 on the first delivery, then one more per redelivery. */
  attempt: number;
}

/** Pushed to the connection that published an input item which was not accepted. */
export interface RejectedFrame {
  t: 'rejected';
  cache: string;
  /** The input topic and the position the sender's `pub` reply returned. */
  topic: string;
  page: number;
  seq: number;
  reason: string;
  /** `moderator`: a moderator rejected it; `server`: no moderator settled it within maxAttempts. */
  by: 'moderator' | 'server';
}

/** Pushed to a member whose membership the server ended by itself: engine redis could not register
 * it again after Redis lost it (Redis came back empty, or took the member's node for gone), e.g.
 * moderation.maxGroups reached meanwhile. `e` is the error a `gsub` would get. */
export interface GroupEndFrame { t: 'gend'; cache: string; group: string; e: WireError }

/** Published on a topic (it takes the next seq, so resuming subscribers get it in order): the item
 * at `target` was taken down. */
export interface RetractFrame {
  t: 'retract';
  cache: string;
  topic: string;
  seq: number;
  page: number;
  ts: number;
  target: Position;
  reason?: string;
  /** The retracting moderator's tokenId. */
  tokenId?: string;
}

export type ModerationRequest = GroupJoinRequest | GroupLeaveRequest | AcceptRequest | RejectRequest | NackRequest | RetractRequest;
export type ModerationPush = DeliveryFrame | RejectedFrame | GroupEndFrame | RetractFrame;

export interface GroupJoinResult { members: number; buffered: number }
export interface GroupLeaveResult { requeued: number }
export interface AcceptResult { page: number; seq: number }
export interface RetractResult { page: number; seq: number; removed: boolean }

// ---------------------------------------------------------------------------------------------
// Cache data: lists, dictionaries, sets, sorted sets and scalars (docs/protocol.md "Cache: lists and scalars"). Reads answer
// `{ hit: true, ... }` or Miss; writes answer `{}` (Success), list writes `{ length }`.

/** A collection TTL (Momento's CollectionTtl): ms (default store.defaultTtlSec) and whether a write
 * resets it (default true). */
export interface CollectionTtlFields { ttlMs?: number; refreshTtl?: boolean }
interface ListTarget { id: number; cache: string; list: string }
/** Momento's index rules: start inclusive, end exclusive, negatives from the end. */
export interface ListRange { startIndex?: number; endIndex?: number }

export interface ListPushBackRequest extends ListTarget, CollectionTtlFields { t: 'listPushBack'; value: Value; truncateFrontToSize?: number }
export interface ListPushFrontRequest extends ListTarget, CollectionTtlFields { t: 'listPushFront'; value: Value; truncateBackToSize?: number }
export interface ListConcatenateBackRequest extends ListTarget, CollectionTtlFields { t: 'listConcatenateBack'; values: Value[]; truncateFrontToSize?: number }
export interface ListConcatenateFrontRequest extends ListTarget, CollectionTtlFields { t: 'listConcatenateFront'; values: Value[]; truncateBackToSize?: number }
/** `withMeta: true` answers `items` (values with their pubAppend origin) instead of `values`. */
export interface ListFetchRequest extends ListTarget, ListRange { t: 'listFetch'; withMeta?: boolean }
export interface ListRetainRequest extends ListTarget, ListRange, CollectionTtlFields { t: 'listRetain' }
export interface ListRemoveValueRequest extends ListTarget { t: 'listRemoveValue'; value: Value }
export interface ListPopRequest extends ListTarget { t: 'listPopBack' | 'listPopFront' }
export interface ListLengthRequest extends ListTarget { t: 'listLength' }
export interface GetRequest { t: 'get'; id: number; cache: string; key: string }
export interface SetRequest { t: 'set'; id: number; cache: string; key: string; value: Value; ttlMs?: number }
export interface DeleteRequest { t: 'delete'; id: number; cache: string; key: string }
export interface ItemGetTtlRequest { t: 'itemGetTtl'; id: number; cache: string; key: string }
export interface UpdateTtlRequest { t: 'updateTtl'; id: number; cache: string; key: string; ttlMs: number }
/** Momento's increaseTtl / decreaseTtl: sets the remaining TTL to `ttlMs` only when that is longer
 * (increase) or shorter (decrease) than what the item has left. */
export interface ChangeTtlRequest { t: 'increaseTtl' | 'decreaseTtl'; id: number; cache: string; key: string; ttlMs: number }
/** Adds `amount` (default 1, may be negative) to a base-10 integer item, or creates it holding
 * `amount`; the item gets `ttlMs` as a `set` would. Momento's increment. */
export interface IncrementRequest { t: 'increment'; id: number; cache: string; key: string; amount?: number; ttlMs?: number }
/** Momento's SetIf conditions: `absent` (setIfAbsent / setIfNotExists), `present`, `equal`,
 * `notEqual` (absent or different), `presentAndNotEqual`, `absentOrEqual`. */
export type SetIfCondition = 'absent' | 'present' | 'equal' | 'notEqual' | 'presentAndNotEqual' | 'absentOrEqual';
/** A `set` that applies only when `condition` holds; `compare` is the value the four comparing
 * conditions compare the stored one to (and is refused with the other two). */
export interface SetIfRequest { t: 'setIf'; id: number; cache: string; key: string; value: Value; condition: SetIfCondition; compare?: Value; ttlMs?: number }
/** Momento's GetWithHash: the value and its hash (below). */
export interface GetWithHashRequest { t: 'getWithHash'; id: number; cache: string; key: string }
/** Momento's SetIfHash conditions, on the hash of the stored value: `unconditional` (setWithHash),
 * `presentAndHashEqual`, `presentAndNotHashEqual`, `absentOrHashEqual`, `absentOrNotHashEqual`. */
export type SetIfHashCondition = 'unconditional' | 'presentAndHashEqual' | 'presentAndNotHashEqual' | 'absentOrHashEqual' | 'absentOrNotHashEqual';
/** A `set` that applies only when `condition` holds; `hash` (required by every condition but
 * `unconditional`, refused with it) is compared to the stored value's hash as bytes. */
export interface SetIfHashRequest { t: 'setIfHash'; id: number; cache: string; key: string; value: Value; condition: SetIfHashCondition; hash?: Value; ttlMs?: number }
/** Erases `count` elements from `beginIndex` for each range (indices of the list before the erase),
 * or the whole list when `ranges` is absent. Momento's ListErase. */
export interface ListEraseRequest extends ListTarget { t: 'listErase'; ranges?: ListEraseRange[] }
export interface ListEraseRange { beginIndex: number; count: number }
/** What a key holds (Momento's ItemGetType). */
export type ItemType = 'scalar' | 'list' | 'dictionary' | 'set' | 'sortedSet';
export interface ItemGetTypeRequest { t: 'itemGetType'; id: number; cache: string; key: string }

// Dictionaries (Momento's): text fields, each with a value kept as sent; the TTL is the whole
// dictionary's (CollectionTtl), as a list's.
interface DictionaryTarget { id: number; cache: string; dictionary: string }
/** One field of a dictionary and its value. */
export interface DictionaryItem { field: string; value: Value }
/** Sets every field to its value (a later item of the same field wins), creating the dictionary. */
export interface DictionarySetFieldsRequest extends DictionaryTarget, CollectionTtlFields { t: 'dictionarySetFields'; items: DictionaryItem[] }
export interface DictionaryGetFieldsRequest extends DictionaryTarget { t: 'dictionaryGetFields'; fields: string[] }
export interface DictionaryFetchRequest extends DictionaryTarget { t: 'dictionaryFetch' }
/** Adds `amount` (default 1) to the base-10 integer a field holds (none = 0), as `increment` does. */
export interface DictionaryIncrementRequest extends DictionaryTarget, CollectionTtlFields { t: 'dictionaryIncrement'; field: string; amount?: number }
/** Removes the fields, or every field (the dictionary) when `fields` is absent. */
export interface DictionaryRemoveFieldsRequest extends DictionaryTarget { t: 'dictionaryRemoveFields'; fields?: string[] }
export interface DictionaryLengthRequest extends DictionaryTarget { t: 'dictionaryLength' }

// Sets (Momento's): distinct elements compared and kept as bytes (text as its UTF-8), answered as
// bytes; the TTL is the whole set's (CollectionTtl), as a list's.
interface SetTarget { id: number; cache: string; set: string }
/** Adds the elements (one already there, or sent twice, is held once), creating the set. */
export interface SetAddElementsRequest extends SetTarget, CollectionTtlFields { t: 'setAddElements'; elements: Value[] }
/** Removes the elements, or every element (the set) when `elements` is absent. */
export interface SetRemoveElementsRequest extends SetTarget { t: 'setRemoveElements'; elements?: Value[] }
export interface SetFetchRequest extends SetTarget { t: 'setFetch' }
export interface SetContainsElementsRequest extends SetTarget { t: 'setContainsElements'; elements: Value[] }
export interface SetLengthRequest extends SetTarget { t: 'setLength' }
/** Removes and returns up to `count` elements chosen at random. */
export interface SetPopRequest extends SetTarget { t: 'setPop'; count: number }
/** Returns up to `limit` distinct elements chosen at random, removing none. */
export interface SetSampleRequest extends SetTarget { t: 'setSample'; limit: number }

// Sorted sets (Momento's): distinct elements kept and answered as bytes (text as its UTF-8), each
// with a score (a double, never NaN); ordered by score, ties by the elements' bytes; the TTL is
// the whole sorted set's (CollectionTtl), as a list's.
interface SortedSetTarget { id: number; cache: string; sortedSet: string }
/** One element of a sorted set and its score. */
export interface SortedSetElement { value: Value; score: number }
/** `ascending` (lowest score first, the default) or `descending`. */
export type SortedSetOrder = 'ascending' | 'descending';
/** Score bounds: absent = unbounded; each inclusive unless its `exclusive` flag is true. */
export interface SortedSetScoreFields { minScore?: number; maxScore?: number; exclusiveMin?: boolean; exclusiveMax?: boolean }
/** Sets each element's score (a later one of the same element wins), creating the sorted set. */
export interface SortedSetPutElementsRequest extends SortedSetTarget, CollectionTtlFields { t: 'sortedSetPutElements'; elements: SortedSetElement[] }
/** The elements whose ranks in `order` are in [startRank, endRank): negatives count from the end. */
export interface SortedSetFetchByRankRequest extends SortedSetTarget { t: 'sortedSetFetchByRank'; startRank?: number; endRank?: number; order?: SortedSetOrder }
/** The elements within the score bounds in `order`, skipping `offset`, at most `count` (absent: all). */
export interface SortedSetFetchByScoreRequest extends SortedSetTarget, SortedSetScoreFields { t: 'sortedSetFetchByScore'; order?: SortedSetOrder; offset?: number; count?: number }
export interface SortedSetGetScoresRequest extends SortedSetTarget { t: 'sortedSetGetScores'; values: Value[] }
export interface SortedSetGetRankRequest extends SortedSetTarget { t: 'sortedSetGetRank'; value: Value; order?: SortedSetOrder }
/** Adds `amount` (default 1) to the element's score (none: 0), creating the element and the sorted set. */
export interface SortedSetIncrementScoreRequest extends SortedSetTarget, CollectionTtlFields { t: 'sortedSetIncrementScore'; value: Value; amount?: number }
/** Removes the elements, or every element (the sorted set) when `values` is absent. */
export interface SortedSetRemoveElementsRequest extends SortedSetTarget { t: 'sortedSetRemoveElements'; values?: Value[] }
export interface SortedSetLengthRequest extends SortedSetTarget { t: 'sortedSetLength' }
export interface SortedSetLengthByScoreRequest extends SortedSetTarget, SortedSetScoreFields { t: 'sortedSetLengthByScore' }
/** One source of a union: a sorted set of the same cache and the factor its scores are multiplied by. */
export interface SortedSetSource { sortedSet: string; weight: number }
/** How a union combines the weighted scores of an element in several sources. */
export type SortedSetAggregate = 'sum' | 'min' | 'max';
/** Replaces `sortedSet` with the union of the sources (missing ones are empty); `ttlMs` as a set's. */
export interface SortedSetUnionStoreRequest extends SortedSetTarget { t: 'sortedSetUnionStore'; sources: SortedSetSource[]; aggregate?: SortedSetAggregate; ttlMs?: number }

/** Publishes to `topic` and appends to `list` (same cache) in one step; see docs/history.md. */
export interface PubAppendRequest extends ListTarget, CollectionTtlFields { t: 'pubAppend'; topic: string; value: Value; truncateFrontToSize?: number }

export type CacheRequest =
  | ListPushBackRequest | ListPushFrontRequest | ListConcatenateBackRequest | ListConcatenateFrontRequest | ListFetchRequest
  | ListRetainRequest | ListRemoveValueRequest | ListPopRequest | ListLengthRequest
  | GetRequest | SetRequest | DeleteRequest | ItemGetTtlRequest | UpdateTtlRequest | PubAppendRequest
  | IncrementRequest | SetIfRequest | ListEraseRequest | ChangeTtlRequest | ItemGetTypeRequest
  | GetWithHashRequest | SetIfHashRequest
  | DictionarySetFieldsRequest | DictionaryGetFieldsRequest | DictionaryFetchRequest | DictionaryIncrementRequest
  | DictionaryRemoveFieldsRequest | DictionaryLengthRequest
  | SetAddElementsRequest | SetRemoveElementsRequest | SetFetchRequest | SetContainsElementsRequest | SetLengthRequest
  | SetPopRequest | SetSampleRequest
  | SortedSetPutElementsRequest | SortedSetFetchByRankRequest | SortedSetFetchByScoreRequest | SortedSetGetScoresRequest
  | SortedSetGetRankRequest | SortedSetIncrementScoreRequest | SortedSetRemoveElementsRequest | SortedSetLengthRequest
  | SortedSetLengthByScoreRequest | SortedSetUnionStoreRequest;

export interface Miss { hit: false }
/** Reply of every list write. */
export interface ListWriteResult { length: number }
/** A list element with the origin pubAppend recorded: the topic item it was published as. Elements
 * from plain list writes have only `value`. */
export interface ListItem { value: Value; page?: number; seq?: number; tokenId?: string; ts?: number }
export type ListFetchResult = { hit: true; values: Value[] } | Miss;
export type ListFetchWithMetaResult = { hit: true; items: ListItem[] } | Miss;
export type ListPopResult = { hit: true; value: Value; length: number } | Miss;
export type ListLengthResult = { hit: true; length: number } | Miss;
export type GetResult = { hit: true; value: Value } | Miss;
export type ItemGetTtlResult = { hit: true; remainingTtlMs: number } | Miss;
/** `hit: true` = Momento's Set, `false` = Miss. */
export interface UpdateTtlResult { hit: boolean }
/** Momento's Set (`set: true`), NotSet (`set: false`: the condition did not hold) or Miss. */
export type ChangeTtlResult = { hit: true; set: boolean } | Miss;
/** The value after the increment. `value` is a number, exact within ±(2^53 − 1); beyond, it is the
 * nearest double and `exact` holds the value's decimal text (absent otherwise). */
export interface IncrementResult { value: number; exact?: string }
/** `stored: true` = Momento's Stored, `false` = NotStored. */
export interface SetIfResult { stored: boolean }
/** `hash`: the value's hash (docs/protocol.md, `getWithHash`: 40 hex digits), opaque to clients. */
export type GetWithHashResult = { hit: true; value: Value; hash: string } | Miss;
/** `stored: true` = Momento's Stored, with the hash of the value now stored; `false` = NotStored. */
export type SetIfHashResult = { stored: true; hash: string } | { stored: false };
/** The length left, or Miss when there was no list. */
export type ListEraseResult = { hit: true; length: number } | Miss;
export type ItemGetTypeResult = { hit: true; type: ItemType } | Miss;
/** Each field's value in the order asked, `null` where the dictionary lacks that field (Momento's
 * per-field Miss); Miss when there is no dictionary. */
export type DictionaryGetFieldsResult = { hit: true; values: Array<Value | null> } | Miss;
export type DictionaryFetchResult = { hit: true; items: DictionaryItem[] } | Miss;
export type DictionaryLengthResult = { hit: true; length: number } | Miss;
/** The field's value after the increment. */
/** As increment's: `exact` holds the decimal text past ±(2^53 − 1). */
export type DictionaryIncrementResult = IncrementResult;
/** A set's elements (setFetch: all of them, in no order; setPop and setSample: those chosen), or
 * Miss when there is no set. */
export type SetElementsResult = { hit: true; elements: Uint8Array[] } | Miss;
/** Whether the set holds each element asked, in order; Miss when there is no set. */
export type SetContainsElementsResult = { hit: true; contains: boolean[] } | Miss;
export type SetLengthResult = { hit: true; length: number } | Miss;
/** A sorted set's element as answered: its bytes and its score. */
export interface ScoredElement { value: Uint8Array; score: number }
/** The elements fetched, in the order asked; Miss when there is no sorted set. */
export type SortedSetFetchResult = { hit: true; elements: ScoredElement[] } | Miss;
/** Each value's score in order (null: not an element); Miss when there is no sorted set. */
export type SortedSetGetScoresResult = { hit: true; scores: Array<number | null> } | Miss;
/** The element's rank in the order asked (0 first), null when it is not an element; Miss when
 * there is no sorted set. */
export type SortedSetGetRankResult = { hit: true; rank: number | null } | Miss;
/** The element's score after the increment. */
export interface SortedSetIncrementScoreResult { score: number }
/** sortedSetLength and sortedSetLengthByScore: elements counted; Miss when there is no sorted set. */
export type SortedSetLengthResult = { hit: true; length: number } | Miss;
/** The number of elements the union stored (0: the destination was deleted). */
export interface SortedSetUnionStoreResult { length: number }
/** Where the item landed, its ts (as a pub's reply) and the list's length. */
export interface PubAppendResult extends PublishResult { ts: number; length: number }

// ---------------------------------------------------------------------------------------------
// Presence (docs/presence.md): who is subscribed to a topic, by tokenId.

export interface PresenceRequest { t: 'presence'; id: number; cache: string; topic: string }
/** One user (tokenId) subscribed to the topic, and over how many connections. `connections: 0`
 * means its last connection left less than the leave grace ago (it may be reconnecting). */
export interface PresenceMember { tokenId: string; connections: number }
/** `members` is bounded by presence.maxMembersPerTopic; connections of users past that bound are
 * only counted, in `untracked`. Subscribers whose token has no tokenId are not listed. */
export interface PresenceResult { members: PresenceMember[]; untracked: number }

/** A user joined or left a topic. Sent only to subscribers that asked (`sub` with presence: true);
 * never takes a seq, never kept for resume: after a reconnect, ask `presence` again. */
export interface PresenceEventFrame { t: 'join' | 'leave'; cache: string; topic: string; tokenId: string }

// ---------------------------------------------------------------------------------------------
// Reaching users who are away (docs/push.md, docs/webhooks.md). A user (tokenId) follows topics;
// an item published to a followed topic while the user is not on it becomes an `item.undelivered`
// webhook event and, with a registered push subscription, a Web Push message.

export interface FollowRequest { t: 'follow'; id: number; cache: string; topic: string }
export interface UnfollowRequest { t: 'unfollow'; id: number; cache: string; topic: string }
/** A browser's PushSubscription.toJSON(), tied to the caller's tokenId. */
export interface PushRegisterRequest { t: 'pushRegister'; id: number; subscription: { endpoint: string; keys: { p256dh: string; auth: string } } }
export interface PushUnregisterRequest { t: 'pushUnregister'; id: number; endpoint: string }
/** The server's VAPID public key (the browser's `applicationServerKey`). */
export interface PushKeyRequest { t: 'pushKey'; id: number }
export interface PushUnregisterResult { removed: boolean }
export interface PushKeyResult { publicKey: string }
