/** The one typed map of operations: for each request `t`, the request frame and the reply payload
 * (`r`). It types the server's handler table (engine/handler.ts) and the SDK's `request()`, so a
 * handler that returns the wrong shape, or an SDK call that expects one, fails to compile.
 * docs/protocol.md describes each operation; keep the three in step. */
import type {
  AcceptRequest, AcceptResult, AuthRequest, AuthResult, DeleteRequest, GetRequest, GetResult, GroupJoinRequest, GroupJoinResult,
  GroupLeaveRequest, GroupLeaveResult, HelloRequest, HelloResult, ItemGetTtlRequest, ItemGetTtlResult, ListConcatenateBackRequest,
  ListConcatenateFrontRequest, ListFetchRequest, ListFetchResult, ListFetchWithMetaResult, ListLengthRequest, ListLengthResult,
  ListPopRequest, ListPopResult, ListPushBackRequest, ListPushFrontRequest, ListRemoveValueRequest, ListRetainRequest,
  ListWriteResult, NackRequest, PingRequest, PubAppendRequest, PubAppendResult, PublishRequest, PublishResult, RejectRequest,
  RetractRequest, RetractResult, PresenceRequest, PresenceResult, FollowRequest, UnfollowRequest, PushRegisterRequest,
  PushUnregisterRequest, PushUnregisterResult, PushKeyRequest, PushKeyResult, SetRequest, SubscribeRequest, SubscribeResult, UnsubscribeRequest, UpdateTtlRequest, UpdateTtlResult,
  IncrementRequest, IncrementResult, ChangeTtlRequest, ChangeTtlResult, SetIfRequest, SetIfResult, ListEraseRequest, ListEraseResult,
  ItemGetTypeRequest, ItemGetTypeResult, DictionarySetFieldsRequest, DictionaryGetFieldsRequest, DictionaryGetFieldsResult,
  DictionaryFetchRequest, DictionaryFetchResult, DictionaryIncrementRequest, DictionaryIncrementResult,
  DictionaryRemoveFieldsRequest, DictionaryLengthRequest, DictionaryLengthResult,
  SetAddElementsRequest, SetRemoveElementsRequest, SetFetchRequest, SetContainsElementsRequest, SetContainsElementsResult,
  SetLengthRequest, SetLengthResult, SetPopRequest, SetSampleRequest, SetElementsResult,
  GetWithHashRequest, GetWithHashResult, SetIfHashRequest, SetIfHashResult,
  SortedSetPutElementsRequest, SortedSetFetchByRankRequest, SortedSetFetchByScoreRequest, SortedSetFetchResult,
  SortedSetGetScoresRequest, SortedSetGetScoresResult, SortedSetGetRankRequest, SortedSetGetRankResult,
  SortedSetIncrementScoreRequest, SortedSetIncrementScoreResult, SortedSetRemoveElementsRequest, SortedSetLengthRequest,
  SortedSetLengthByScoreRequest, SortedSetLengthResult, SortedSetUnionStoreRequest, SortedSetUnionStoreResult,
} from './frames.js';
import type { AdminStats, AdminStatsRequest } from './admin.js';

/** `{}`: Momento's Success with nothing to say. */
export type Empty = Record<string, never>;

export interface Operations {
  // Connection-level: the WebSocket transport's session handshake and liveness.
  hello: [HelloRequest, HelloResult];
  auth: [AuthRequest, AuthResult];
  ping: [PingRequest, Empty];
  // Topics.
  pub: [PublishRequest, PublishResult];
  sub: [SubscribeRequest, SubscribeResult];
  unsub: [UnsubscribeRequest, Empty];
  // Cache: lists and scalars (and itemGetType, for any kind).
  listPushBack: [ListPushBackRequest, ListWriteResult];
  listPushFront: [ListPushFrontRequest, ListWriteResult];
  listConcatenateBack: [ListConcatenateBackRequest, ListWriteResult];
  listConcatenateFront: [ListConcatenateFrontRequest, ListWriteResult];
  listFetch: [ListFetchRequest, ListFetchResult | ListFetchWithMetaResult];
  listRetain: [ListRetainRequest, Empty];
  listRemoveValue: [ListRemoveValueRequest, Empty];
  listPopBack: [ListPopRequest & { t: 'listPopBack' }, ListPopResult];
  listPopFront: [ListPopRequest & { t: 'listPopFront' }, ListPopResult];
  listLength: [ListLengthRequest, ListLengthResult];
  get: [GetRequest, GetResult];
  set: [SetRequest, Empty];
  delete: [DeleteRequest, Empty];
  itemGetTtl: [ItemGetTtlRequest, ItemGetTtlResult];
  updateTtl: [UpdateTtlRequest, UpdateTtlResult];
  increaseTtl: [ChangeTtlRequest & { t: 'increaseTtl' }, ChangeTtlResult];
  decreaseTtl: [ChangeTtlRequest & { t: 'decreaseTtl' }, ChangeTtlResult];
  increment: [IncrementRequest, IncrementResult];
  setIf: [SetIfRequest, SetIfResult];
  getWithHash: [GetWithHashRequest, GetWithHashResult];
  setIfHash: [SetIfHashRequest, SetIfHashResult];
  listErase: [ListEraseRequest, ListEraseResult];
  itemGetType: [ItemGetTypeRequest, ItemGetTypeResult];
  // Cache: dictionaries.
  dictionarySetFields: [DictionarySetFieldsRequest, Empty];
  dictionaryGetFields: [DictionaryGetFieldsRequest, DictionaryGetFieldsResult];
  dictionaryFetch: [DictionaryFetchRequest, DictionaryFetchResult];
  dictionaryIncrement: [DictionaryIncrementRequest, DictionaryIncrementResult];
  dictionaryRemoveFields: [DictionaryRemoveFieldsRequest, Empty];
  dictionaryLength: [DictionaryLengthRequest, DictionaryLengthResult];
  // Cache: sets.
  setAddElements: [SetAddElementsRequest, Empty];
  setRemoveElements: [SetRemoveElementsRequest, Empty];
  setFetch: [SetFetchRequest, SetElementsResult];
  setContainsElements: [SetContainsElementsRequest, SetContainsElementsResult];
  setLength: [SetLengthRequest, SetLengthResult];
  setPop: [SetPopRequest, SetElementsResult];
  setSample: [SetSampleRequest, SetElementsResult];
  // Cache: sorted sets.
  sortedSetPutElements: [SortedSetPutElementsRequest, Empty];
  sortedSetFetchByRank: [SortedSetFetchByRankRequest, SortedSetFetchResult];
  sortedSetFetchByScore: [SortedSetFetchByScoreRequest, SortedSetFetchResult];
  sortedSetGetScores: [SortedSetGetScoresRequest, SortedSetGetScoresResult];
  sortedSetGetRank: [SortedSetGetRankRequest, SortedSetGetRankResult];
  sortedSetIncrementScore: [SortedSetIncrementScoreRequest, SortedSetIncrementScoreResult];
  sortedSetRemoveElements: [SortedSetRemoveElementsRequest, Empty];
  sortedSetLength: [SortedSetLengthRequest, SortedSetLengthResult];
  sortedSetLengthByScore: [SortedSetLengthByScoreRequest, SortedSetLengthResult];
  sortedSetUnionStore: [SortedSetUnionStoreRequest, SortedSetUnionStoreResult];
  pubAppend: [PubAppendRequest, PubAppendResult];
  // Moderation.
  gsub: [GroupJoinRequest, GroupJoinResult];
  gunsub: [GroupLeaveRequest, GroupLeaveResult];
  accept: [AcceptRequest, AcceptResult];
  reject: [RejectRequest, Empty];
  nack: [NackRequest, Empty];
  retract: [RetractRequest, RetractResult];
  // Operations: the dashboard's data (admin.tokenIds only; docs/operations.md).
  adminStats: [AdminStatsRequest, AdminStats];
  // Presence.
  presence: [PresenceRequest, PresenceResult];
  // Notifications for users who are away.
  follow: [FollowRequest, Empty];
  unfollow: [UnfollowRequest, Empty];
  pushRegister: [PushRegisterRequest, Empty];
  pushUnregister: [PushUnregisterRequest, PushUnregisterResult];
  pushKey: [PushKeyRequest, PushKeyResult];
}

export type OperationName = keyof Operations;
export type RequestOf<K extends OperationName> = Operations[K][0];
export type ResultOf<K extends OperationName> = Operations[K][1];
/** A request as a client builds it: the connection assigns `id`. */
export type OutgoingRequest<K extends OperationName> = Omit<RequestOf<K>, 'id'> & { t: K };

/** Operations that a transport without a WebSocket session (HTTP, gRPC) does not dispatch: they
 * manage the session itself. */
export const SESSION_OPERATIONS: ReadonlySet<string> = new Set<OperationName>(['hello', 'auth', 'ping']);

/** Writes that a retry could apply twice, or answer differently: they accept an `idempotencyKey`,
 * and the server answers a repeated key with the first result (docs/protocol.md, "Idempotent
 * writes"). Reads, and writes that are idempotent by nature (set, delete), need none. A setIf
 * applies at most once anyway, but its retry would answer "not stored" for a value it stored (a setIfHash too). */
export const IDEMPOTENT_OPERATIONS: ReadonlySet<string> = new Set<OperationName>([
  'pub', 'pubAppend', 'listPushBack', 'listPushFront', 'listConcatenateBack', 'listConcatenateFront', 'increment', 'setIf',
  'dictionaryIncrement', 'sortedSetIncrementScore', 'setIfHash',
]);

/** The longest `idempotencyKey`, in UTF-16 code units (String.length). */
const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

/** Why `key` cannot be an `idempotencyKey`, or undefined when it can: the server refuses it with
 * this message, and the SDK does not send it. */
export function idempotencyKeyProblem(key: unknown): string | undefined {
  if (typeof key === 'string' && key.length > 0 && key.length <= MAX_IDEMPOTENCY_KEY_LENGTH) return undefined;
  return `idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`;
}
