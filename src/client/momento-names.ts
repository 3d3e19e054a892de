/** Momento's response names, so code written for @gomomento/sdk-web ports with an import change:
 * `CacheGet.Hit`, `CacheListFetch.Miss`, `resp.type === CacheGetResponse.Hit`, ... Each is an
 * alias of the SDK's own classes (responses.ts), so `instanceof` works with either name. */
import { PermissionScopes } from '../protocol/index.js';
import { ChangeTtl, ConditionalWrite, GenericWrite, Increment, ItemGetTtl, ListFetch, ListLength, ListPop, ListWrite, UpdateTtl, ValueRead } from './responses.js';

// -- `type` discriminants (Momento's string enums) ------------------------------------------------

const SUCCESS = { Success: 'Success', Error: 'Error' } as const;
const HIT = { Hit: 'Hit', Miss: 'Miss', Error: 'Error' } as const;
type Success = (typeof SUCCESS)[keyof typeof SUCCESS];
type Hit = (typeof HIT)[keyof typeof HIT];

export const TopicPublishResponse = SUCCESS;
export type TopicPublishResponse = Success;
export const TopicSubscribeResponse = { Subscription: 'Subscription', Error: 'Error' } as const;
export type TopicSubscribeResponse = (typeof TopicSubscribeResponse)[keyof typeof TopicSubscribeResponse];
export const GenerateDisposableTokenResponse = SUCCESS;
export type GenerateDisposableTokenResponse = Success;
export const CacheGetResponse = HIT;
export type CacheGetResponse = Hit;
export const CacheSetResponse = SUCCESS;
export type CacheSetResponse = Success;
export const CacheDeleteResponse = SUCCESS;
export type CacheDeleteResponse = Success;
export const CacheListFetchResponse = HIT;
export type CacheListFetchResponse = Hit;
export const CacheListLengthResponse = HIT;
export type CacheListLengthResponse = Hit;
export const CacheListPopBackResponse = HIT;
export type CacheListPopBackResponse = Hit;
export const CacheListPopFrontResponse = HIT;
export type CacheListPopFrontResponse = Hit;
export const CacheListPushBackResponse = SUCCESS;
export type CacheListPushBackResponse = Success;
export const CacheListPushFrontResponse = SUCCESS;
export type CacheListPushFrontResponse = Success;
export const CacheListConcatenateBackResponse = SUCCESS;
export type CacheListConcatenateBackResponse = Success;
export const CacheListConcatenateFrontResponse = SUCCESS;
export type CacheListConcatenateFrontResponse = Success;
export const CacheListRemoveValueResponse = SUCCESS;
export type CacheListRemoveValueResponse = Success;
export const CacheListRetainResponse = SUCCESS;
export type CacheListRetainResponse = Success;
export const CacheItemGetTtlResponse = HIT;
export type CacheItemGetTtlResponse = Hit;
export const CacheUpdateTtlResponse = { Set: 'Set', Miss: 'Miss', Error: 'Error' } as const;
export type CacheUpdateTtlResponse = (typeof CacheUpdateTtlResponse)[keyof typeof CacheUpdateTtlResponse];
const CHANGE_TTL = { Set: 'Set', NotSet: 'NotSet', Miss: 'Miss', Error: 'Error' } as const;
export const CacheIncreaseTtlResponse = CHANGE_TTL;
export type CacheIncreaseTtlResponse = (typeof CHANGE_TTL)[keyof typeof CHANGE_TTL];
export const CacheDecreaseTtlResponse = CHANGE_TTL;
export type CacheDecreaseTtlResponse = (typeof CHANGE_TTL)[keyof typeof CHANGE_TTL];
export const CacheIncrementResponse = SUCCESS;
export type CacheIncrementResponse = Success;
const STORED = { Stored: 'Stored', NotStored: 'NotStored', Error: 'Error' } as const;
type Stored = (typeof STORED)[keyof typeof STORED];
export const CacheSetIfAbsentResponse = STORED;
export type CacheSetIfAbsentResponse = Stored;
export const CacheSetIfNotExistsResponse = STORED;
export type CacheSetIfNotExistsResponse = Stored;
export const CacheSetIfPresentResponse = STORED;
export type CacheSetIfPresentResponse = Stored;
export const CacheSetIfEqualResponse = STORED;
export type CacheSetIfEqualResponse = Stored;
export const CacheSetIfNotEqualResponse = STORED;
export type CacheSetIfNotEqualResponse = Stored;
export const CacheSetIfPresentAndNotEqualResponse = STORED;
export type CacheSetIfPresentAndNotEqualResponse = Stored;
export const CacheSetIfAbsentOrEqualResponse = STORED;
export type CacheSetIfAbsentOrEqualResponse = Stored;
export const CacheGetWithHashResponse = HIT;
export type CacheGetWithHashResponse = Hit;
export const CacheSetWithHashResponse = STORED;
export type CacheSetWithHashResponse = Stored;
export const CacheSetIfPresentAndHashEqualResponse = STORED;
export type CacheSetIfPresentAndHashEqualResponse = Stored;
export const CacheSetIfPresentAndHashNotEqualResponse = STORED;
export type CacheSetIfPresentAndHashNotEqualResponse = Stored;
export const CacheSetIfAbsentOrHashEqualResponse = STORED;
export type CacheSetIfAbsentOrHashEqualResponse = Stored;
export const CacheSetIfAbsentOrHashNotEqualResponse = STORED;
export type CacheSetIfAbsentOrHashNotEqualResponse = Stored;

// -- response classes under Momento's names --------------------------------------------------------

export namespace CacheGet {
  export const Hit = ValueRead.Hit; export type Hit = ValueRead.Hit;
  export const Miss = ValueRead.Miss; export type Miss = ValueRead.Miss;
  export const Error = ValueRead.Error; export type Error = ValueRead.Error;
  export type Response = ValueRead.Response;
}
export namespace CacheSet {
  export const Success = GenericWrite.Success; export type Success = GenericWrite.Success;
  export const Error = GenericWrite.Error; export type Error = GenericWrite.Error;
  export type Response = GenericWrite.Response;
}
export namespace CacheDelete {
  export const Success = GenericWrite.Success; export type Success = GenericWrite.Success;
  export const Error = GenericWrite.Error; export type Error = GenericWrite.Error;
  export type Response = GenericWrite.Response;
}
export namespace CacheListRetain {
  export const Success = GenericWrite.Success; export type Success = GenericWrite.Success;
  export const Error = GenericWrite.Error; export type Error = GenericWrite.Error;
  export type Response = GenericWrite.Response;
}
export namespace CacheListRemoveValue {
  export const Success = GenericWrite.Success; export type Success = GenericWrite.Success;
  export const Error = GenericWrite.Error; export type Error = GenericWrite.Error;
  export type Response = GenericWrite.Response;
}
export namespace CacheListPushBack {
  export const Success = ListWrite.Success; export type Success = ListWrite.Success;
  export const Error = ListWrite.Error; export type Error = ListWrite.Error;
  export type Response = ListWrite.Response;
}
export namespace CacheListPushFront {
  export const Success = ListWrite.Success; export type Success = ListWrite.Success;
  export const Error = ListWrite.Error; export type Error = ListWrite.Error;
  export type Response = ListWrite.Response;
}
export namespace CacheListConcatenateBack {
  export const Success = ListWrite.Success; export type Success = ListWrite.Success;
  export const Error = ListWrite.Error; export type Error = ListWrite.Error;
  export type Response = ListWrite.Response;
}
export namespace CacheListConcatenateFront {
  export const Success = ListWrite.Success; export type Success = ListWrite.Success;
  export const Error = ListWrite.Error; export type Error = ListWrite.Error;
  export type Response = ListWrite.Response;
}
export namespace CacheListFetch {
  export const Hit = ListFetch.Hit; export type Hit = ListFetch.Hit;
  export const Miss = ListFetch.Miss; export type Miss = ListFetch.Miss;
  export const Error = ListFetch.Error; export type Error = ListFetch.Error;
  export type Response = ListFetch.Response;
}
export namespace CacheListLength {
  export const Hit = ListLength.Hit; export type Hit = ListLength.Hit;
  export const Miss = ListLength.Miss; export type Miss = ListLength.Miss;
  export const Error = ListLength.Error; export type Error = ListLength.Error;
  export type Response = ListLength.Response;
}
export namespace CacheListPopBack {
  export const Hit = ListPop.Hit; export type Hit = ListPop.Hit;
  export const Miss = ListPop.Miss; export type Miss = ListPop.Miss;
  export const Error = ListPop.Error; export type Error = ListPop.Error;
  export type Response = ListPop.Response;
}
export namespace CacheListPopFront {
  export const Hit = ListPop.Hit; export type Hit = ListPop.Hit;
  export const Miss = ListPop.Miss; export type Miss = ListPop.Miss;
  export const Error = ListPop.Error; export type Error = ListPop.Error;
  export type Response = ListPop.Response;
}
export namespace CacheItemGetTtl {
  export const Hit = ItemGetTtl.Hit; export type Hit = ItemGetTtl.Hit;
  export const Miss = ItemGetTtl.Miss; export type Miss = ItemGetTtl.Miss;
  export const Error = ItemGetTtl.Error; export type Error = ItemGetTtl.Error;
  export type Response = ItemGetTtl.Response;
}
export namespace CacheUpdateTtl {
  export const Set = UpdateTtl.Set; export type Set = UpdateTtl.Set;
  export const Miss = UpdateTtl.Miss; export type Miss = UpdateTtl.Miss;
  export const Error = UpdateTtl.Error; export type Error = UpdateTtl.Error;
  export type Response = UpdateTtl.Response;
}

export namespace CacheIncreaseTtl {
  export const Set = ChangeTtl.Set; export type Set = ChangeTtl.Set;
  export const NotSet = ChangeTtl.NotSet; export type NotSet = ChangeTtl.NotSet;
  export const Miss = ChangeTtl.Miss; export type Miss = ChangeTtl.Miss;
  export const Error = ChangeTtl.Error; export type Error = ChangeTtl.Error;
  export type Response = ChangeTtl.Response;
}
export namespace CacheDecreaseTtl {
  export const Set = ChangeTtl.Set; export type Set = ChangeTtl.Set;
  export const NotSet = ChangeTtl.NotSet; export type NotSet = ChangeTtl.NotSet;
  export const Miss = ChangeTtl.Miss; export type Miss = ChangeTtl.Miss;
  export const Error = ChangeTtl.Error; export type Error = ChangeTtl.Error;
  export type Response = ChangeTtl.Response;
}
export namespace CacheIncrement {
  export const Success = Increment.Success; export type Success = Increment.Success;
  export const Error = Increment.Error; export type Error = Increment.Error;
  export type Response = Increment.Response;
}
// The setIf* family: one response class set, under each of Momento's names.
export namespace CacheSetIfAbsent {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}
export namespace CacheSetIfNotExists {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}
export namespace CacheSetIfPresent {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}
export namespace CacheSetIfEqual {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}
export namespace CacheSetIfNotEqual {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}
export namespace CacheSetIfPresentAndNotEqual {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}
export namespace CacheSetIfAbsentOrEqual {
  export const Stored = ConditionalWrite.Stored; export type Stored = ConditionalWrite.Stored;
  export const NotStored = ConditionalWrite.NotStored; export type NotStored = ConditionalWrite.NotStored;
  export const Error = ConditionalWrite.Error; export type Error = ConditionalWrite.Error;
  export type Response = ConditionalWrite.Response;
}

// getWithHash and the hash family of conditional sets: the SDK's classes under Momento's names.
export {
  HashedRead as CacheGetWithHash, HashedWrite as CacheSetWithHash, HashedWrite as CacheSetIfPresentAndHashEqual,
  HashedWrite as CacheSetIfPresentAndHashNotEqual, HashedWrite as CacheSetIfAbsentOrHashEqual, HashedWrite as CacheSetIfAbsentOrHashNotEqual,
} from './responses.js';

/** Momento's other names for the scope builders. */
export const TokenScopes = PermissionScopes;
export const DisposableTokenScopes = PermissionScopes;

// Dictionaries and itemGetType: the SDK's classes under Momento's names.
export {
  DictionaryFetch as CacheDictionaryFetch, DictionaryGetField as CacheDictionaryGetField, DictionaryGetFields as CacheDictionaryGetFields,
  GenericWrite as CacheDictionarySetField, GenericWrite as CacheDictionarySetFields, GenericWrite as CacheDictionaryRemoveField,
  GenericWrite as CacheDictionaryRemoveFields, Increment as CacheDictionaryIncrement, ListLength as CacheDictionaryLength, ItemGetType as CacheItemGetType,
} from './responses.js';
export const CacheDictionaryFetchResponse = HIT;
export type CacheDictionaryFetchResponse = Hit;
export const CacheDictionaryGetFieldResponse = HIT;
export type CacheDictionaryGetFieldResponse = Hit;
export const CacheDictionaryGetFieldsResponse = HIT;
export type CacheDictionaryGetFieldsResponse = Hit;
export const CacheDictionaryLengthResponse = HIT;
export type CacheDictionaryLengthResponse = Hit;
export const CacheDictionarySetFieldResponse = SUCCESS;
export type CacheDictionarySetFieldResponse = Success;
export const CacheDictionarySetFieldsResponse = SUCCESS;
export type CacheDictionarySetFieldsResponse = Success;
export const CacheDictionaryIncrementResponse = SUCCESS;
export type CacheDictionaryIncrementResponse = Success;
export const CacheDictionaryRemoveFieldResponse = SUCCESS;
export type CacheDictionaryRemoveFieldResponse = Success;
export const CacheDictionaryRemoveFieldsResponse = SUCCESS;
export type CacheDictionaryRemoveFieldsResponse = Success;
export const CacheItemGetTypeResponse = HIT;
export type CacheItemGetTypeResponse = Hit;

// Sets: the SDK's classes under Momento's names.
export {
  GenericWrite as CacheSetAddElement, GenericWrite as CacheSetAddElements, GenericWrite as CacheSetRemoveElement, GenericWrite as CacheSetRemoveElements,
  SetElements as CacheSetFetch, SetElements as CacheSetPop, SetElements as CacheSetSample, SetContainsElement as CacheSetContainsElement,
  SetContainsElements as CacheSetContainsElements, ListLength as CacheSetLength,
} from './responses.js';
export const CacheSetAddElementResponse = SUCCESS;
export type CacheSetAddElementResponse = Success;
export const CacheSetAddElementsResponse = SUCCESS;
export type CacheSetAddElementsResponse = Success;
export const CacheSetRemoveElementResponse = SUCCESS;
export type CacheSetRemoveElementResponse = Success;
export const CacheSetRemoveElementsResponse = SUCCESS;
export type CacheSetRemoveElementsResponse = Success;
export const CacheSetFetchResponse = HIT;
export type CacheSetFetchResponse = Hit;
export const CacheSetPopResponse = HIT;
export type CacheSetPopResponse = Hit;
export const CacheSetSampleResponse = HIT;
export type CacheSetSampleResponse = Hit;
export const CacheSetContainsElementResponse = HIT;
export type CacheSetContainsElementResponse = Hit;
export const CacheSetContainsElementsResponse = HIT;
export type CacheSetContainsElementsResponse = Hit;
export const CacheSetLengthResponse = HIT;
export type CacheSetLengthResponse = Hit;

// Sorted sets: the SDK's classes under Momento's names.
export {
  GenericWrite as CacheSortedSetPutElement, GenericWrite as CacheSortedSetPutElements, GenericWrite as CacheSortedSetRemoveElement,
  GenericWrite as CacheSortedSetRemoveElements, SortedSetFetch as CacheSortedSetFetch, SortedSetScore as CacheSortedSetGetScore,
  SortedSetGetScores as CacheSortedSetGetScores, SortedSetGetRank as CacheSortedSetGetRank, SortedSetIncrementScore as CacheSortedSetIncrementScore,
  ListLength as CacheSortedSetLength, ListLength as CacheSortedSetLengthByScore, SortedSetUnionStore as CacheSortedSetUnionStore,
} from './responses.js';
export const CacheSortedSetPutElementResponse = SUCCESS;
export type CacheSortedSetPutElementResponse = Success;
export const CacheSortedSetPutElementsResponse = SUCCESS;
export type CacheSortedSetPutElementsResponse = Success;
export const CacheSortedSetRemoveElementResponse = SUCCESS;
export type CacheSortedSetRemoveElementResponse = Success;
export const CacheSortedSetRemoveElementsResponse = SUCCESS;
export type CacheSortedSetRemoveElementsResponse = Success;
export const CacheSortedSetFetchResponse = HIT;
export type CacheSortedSetFetchResponse = Hit;
export const CacheSortedSetGetScoreResponse = HIT;
export type CacheSortedSetGetScoreResponse = Hit;
export const CacheSortedSetGetScoresResponse = HIT;
export type CacheSortedSetGetScoresResponse = Hit;
export const CacheSortedSetGetRankResponse = HIT;
export type CacheSortedSetGetRankResponse = Hit;
export const CacheSortedSetIncrementScoreResponse = SUCCESS;
export type CacheSortedSetIncrementScoreResponse = Success;
export const CacheSortedSetLengthResponse = HIT;
export type CacheSortedSetLengthResponse = Hit;
export const CacheSortedSetLengthByScoreResponse = HIT;
export type CacheSortedSetLengthByScoreResponse = Hit;
export const CacheSortedSetUnionStoreResponse = SUCCESS;
export type CacheSortedSetUnionStoreResponse = Success;
