/** Response shapes after Momento's SDK: every call resolves (never throws for a server error) to a
 * Success / Hit / Miss / Error object with a `type` discriminant; `instanceof` works too. */
import type { ErrorCode, Value } from '../protocol/index.js';
import type { TidingsClientError } from './errors.js';

/** With `throwOnErrors`, an Error response is thrown (its TidingsClientError) instead of returned. */
export function orThrow<R>(response: R, throwOnErrors: boolean): R {
  if (throwOnErrors && response instanceof ErrorResponse) throw response.error;
  return response;
}

/** Base of every non-error response: prints its kind (and a short detail), like Momento's, instead
 * of `[object Object]` in a template string or a log line. */
export abstract class Outcome {
  abstract readonly type: string;
  /** A short description of what came back, after the kind. */
  protected detail(): string | undefined { return undefined; }
  toString(): string {
    const detail = this.detail();
    return detail === undefined ? this.type : `${this.type}: ${detail}`;
  }
}

/** A value shortened for printing. */
function preview(value: Value): string {
  if (typeof value !== 'string') return `${value.byteLength} bytes`;
  return value.length > 32 ? `${value.slice(0, 32)}…` : value;
}

/** Common Error response: Momento's errorCode() / message() / innerException(). */
export class ErrorResponse {
  readonly type = 'Error' as const;
  readonly is_error = true;
  constructor(readonly error: TidingsClientError) {}
  errorCode(): ErrorCode { return this.error.code; }
  message(): string { return this.error.message; }
  /** For LIMIT_EXCEEDED_ERROR: which limit (e.g. value_size_limit_exceeded); for CONNECTION_ERROR,
   * client_queue_full when the offline queue refused the request. */
  limitCause(): string | undefined { return this.error.limitCause; }
  /** The idempotency key of a write that carries one (publish, pubAppend, list pushes, increments,
   * setIf*): pass it as `{ idempotencyKey }` to retry the same call, applied at most once. */
  idempotencyKey(): string | undefined { return this.error.idempotencyKey; }
  innerException(): TidingsClientError { return this.error; }
  toString(): string { return `${this.error.code}: ${this.error.message}`; }
}

/** Decodes a value both ways, like Momento's value()/valueString()/valueUint8Array(). */
export function valueString(value: Value): string {
  return typeof value === 'string' ? value : new TextDecoder().decode(value);
}
export function valueBytes(value: Value): Uint8Array {
  return typeof value === 'string' ? new TextEncoder().encode(value) : value;
}

export namespace TopicPublish {
  export class Success extends Outcome {
    readonly type = 'Success' as const;
    readonly is_success = true;
    constructor(readonly seq: number, readonly page: number) { super(); }
    protected override detail(): string { return `seq ${this.seq}, page ${this.page}`; }
  }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

export namespace TopicPresence {
  /** Users subscribed to the topic and their connection counts (0 = reconnecting within the
   * server's leave grace); `untracked` counts connections of users past the server's bound. */
  export class Success {
    readonly type = 'Success' as const;
    readonly is_success = true;
    constructor(readonly members: ReadonlyArray<{ tokenId: string; connections: number }>, readonly untracked: number) {}
  }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

export namespace GenericWrite {
  export class Success extends Outcome { readonly type = 'Success' as const; readonly is_success = true; }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

export namespace ListWrite {
  export class Success extends Outcome {
    readonly type = 'Success' as const;
    readonly is_success = true;
    constructor(private readonly length: number) { super(); }
    listLength(): number { return this.length; }
    protected override detail(): string { return `list length ${this.length}`; }
  }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

/** A list element with where it came from, when it was written by pubAppend or a moderator. */
export interface ListItemMeta { value: Value; page?: number; seq?: number; tokenId?: string; ts?: number }

export namespace ListFetch {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly values: Value[], readonly items: ListItemMeta[] | undefined) { super(); }
    protected override detail(): string { return `${this.values.length} element${this.values.length === 1 ? '' : 's'}`; }
    valueList(): Value[] { return this.values; }
    valueListString(): string[] { return this.values.map(valueString); }
    valueListUint8Array(): Uint8Array[] { return this.values.map(valueBytes); }
    value(): Value[] { return this.values; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; value(): undefined { return undefined; } }
  export class Error extends ErrorResponse { value(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

export namespace ValueRead {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly raw: Value) { super(); }
    protected override detail(): string { return preview(this.raw); }
    value(): Value { return this.raw; }
    valueString(): string { return valueString(this.raw); }
    valueUint8Array(): Uint8Array { return valueBytes(this.raw); }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; value(): undefined { return undefined; } }
  export class Error extends ErrorResponse { value(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** listPopBack / listPopFront: a ValueRead whose Hit also says how many elements remain. */
export namespace ListPop {
  export class Hit extends ValueRead.Hit {
    constructor(raw: Value, private readonly remaining: number) { super(raw); }
    /** Elements left in the list after the pop. */
    listLength(): number { return this.remaining; }
  }
  export const Miss = ValueRead.Miss;
  export type Miss = ValueRead.Miss;
  export const Error = ValueRead.Error;
  export type Error = ValueRead.Error;
  export type Response = Hit | Miss | Error;
}

export namespace ListLength {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly n: number) { super(); }
    length(): number { return this.n; }
    protected override detail(): string { return `length ${this.n}`; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; }
  export class Error extends ErrorResponse {}
  export type Response = Hit | Miss | Error;
}

export namespace ItemGetTtl {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly ms: number) { super(); }
    remainingTtlMillis(): number { return this.ms; }
    protected override detail(): string { return `${this.ms} ms left`; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; }
  export class Error extends ErrorResponse {}
  export type Response = Hit | Miss | Error;
}

export namespace UpdateTtl {
  export class Set extends Outcome { readonly type = 'Set' as const; readonly is_set = true; }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; }
  export class Error extends ErrorResponse {}
  export type Response = Set | Miss | Error;
}

/** increaseTtl / decreaseTtl: Set, NotSet (the new TTL was not longer / shorter) or Miss. */
export namespace ChangeTtl {
  export class Set extends Outcome { readonly type = 'Set' as const; readonly is_set = true; }
  export class NotSet extends Outcome { readonly type = 'NotSet' as const; readonly is_not_set = true; }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; }
  export class Error extends ErrorResponse {}
  export type Response = Set | NotSet | Miss | Error;
}

/** increment: the value after it. */
export namespace Increment {
  export class Success extends Outcome {
    readonly type = 'Success' as const;
    readonly is_success = true;
    /** `exact`: the decimal text the server sends past ±(2^53 − 1), where `n` is approximate. */
    constructor(private readonly n: number, private readonly exact?: string) { super(); }
    /** A number, as Momento's SDKs answer: exact within ±(2^53 − 1), the nearest double beyond. */
    value(): number { return this.n; }
    valueNumber(): number { return this.n; }
    /** Exact over the whole signed 64-bit range. */
    valueBigInt(): bigint { return this.exact === undefined ? BigInt(this.n) : BigInt(this.exact); }
    protected override detail(): string { return `value: ${this.exact ?? this.n}`; }
  }
  export class Error extends ErrorResponse { value(): undefined { return undefined; } }
  export type Response = Success | Error;
}

/** setIf* / setIfNotExists: Momento's Stored / NotStored. */
export namespace ConditionalWrite {
  export class Stored extends Outcome { readonly type = 'Stored' as const; readonly is_stored = true; }
  export class NotStored extends Outcome { readonly type = 'NotStored' as const; readonly is_not_stored = true; }
  export class Error extends ErrorResponse {}
  export type Response = Stored | NotStored | Error;
}

/** getWithHash: a ValueRead whose Hit also carries the value's hash (Momento's hash() /
 * hashString() / hashUint8Array()): opaque, to pass back to setIfHash. */
export namespace HashedRead {
  export class Hit extends ValueRead.Hit {
    constructor(raw: Value, private readonly hashText: string) { super(raw); }
    hash(): string { return this.hashText; }
    hashString(): string { return this.hashText; }
    hashUint8Array(): Uint8Array { return valueBytes(this.hashText); }
  }
  export class Miss extends ValueRead.Miss { hash(): undefined { return undefined; } }
  export class Error extends ValueRead.Error { hash(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** setIfHash / setWithHash / setIf*Hash*: ConditionalWrite's, whose Stored carries the hash of the
 * value now stored. */
export namespace HashedWrite {
  export class Stored extends ConditionalWrite.Stored {
    constructor(private readonly hashText: string) { super(); }
    hashString(): string { return this.hashText; }
    hashUint8Array(): Uint8Array { return valueBytes(this.hashText); }
  }
  export class NotStored extends ConditionalWrite.NotStored {}
  export class Error extends ConditionalWrite.Error {}
  export type Response = Stored | NotStored | Error;
}

/** listErase: the length left, or Miss when there was no list. */
export namespace ListErase {
  export class Success extends Outcome {
    readonly type = 'Success' as const;
    readonly is_success = true;
    constructor(private readonly length: number) { super(); }
    listLength(): number { return this.length; }
    protected override detail(): string { return `list length ${this.length}`; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; }
  export class Error extends ErrorResponse {}
  export type Response = Success | Miss | Error;
}

export namespace PubAppend {
  export class Success extends Outcome {
    readonly type = 'Success' as const;
    readonly is_success = true;
    constructor(readonly seq: number, readonly page: number, private readonly length: number) { super(); }
    listLength(): number { return this.length; }
    protected override detail(): string { return `seq ${this.seq}, page ${this.page}, list length ${this.length}`; }
  }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}

/** dictionaryGetField: a ValueRead whose responses also name the field asked for. */
export namespace DictionaryGetField {
  export class Hit extends ValueRead.Hit {
    constructor(raw: Value, private readonly field: string) { super(raw); }
    fieldString(): string { return this.field; }
    fieldUint8Array(): Uint8Array { return valueBytes(this.field); }
  }
  export class Miss extends ValueRead.Miss {
    constructor(private readonly field: string) { super(); }
    fieldString(): string { return this.field; }
  }
  export const Error = ValueRead.Error;
  export type Error = ValueRead.Error;
  export type Response = Hit | Miss | Error;
}

/** Fields and values as Momento's dictionary Hits offer them: text or bytes, as a Map or a Record. */
abstract class FieldValues extends Outcome {
  readonly type = 'Hit' as const;
  readonly is_hit = true;
  constructor(protected readonly entries: ReadonlyArray<readonly [string, Value]>) { super(); }
  protected override detail(): string { return `${this.entries.length} field${this.entries.length === 1 ? '' : 's'}`; }
  valueMap(): Map<string, string> { return this.valueMapStringString(); }
  valueMapStringString(): Map<string, string> { return new Map(this.entries.map(([f, v]) => [f, valueString(v)])); }
  valueMapStringUint8Array(): Map<string, Uint8Array> { return new Map(this.entries.map(([f, v]) => [f, valueBytes(v)])); }
  valueRecord(): Record<string, string> { return Object.fromEntries(this.valueMapStringString()); }
  valueRecordStringString(): Record<string, string> { return this.valueRecord(); }
  valueRecordStringUint8Array(): Record<string, Uint8Array> { return Object.fromEntries(this.valueMapStringUint8Array()); }
  value(): Record<string, string> { return this.valueRecord(); }
}

/** dictionaryFetch: every field, or Miss when there is no dictionary. */
export namespace DictionaryFetch {
  export class Hit extends FieldValues {
    /** The fields and values as sent (text or bytes). */
    items(): Array<{ field: string; value: Value }> { return this.entries.map(([field, value]) => ({ field, value })); }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; value(): undefined { return undefined; } }
  export class Error extends ErrorResponse { value(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** dictionaryGetFields: one dictionaryGetField response per field asked (`responses`); the maps
 * and records hold the fields found. Miss when there is no dictionary. */
export namespace DictionaryGetFields {
  export class Hit extends FieldValues {
    readonly responses: Array<DictionaryGetField.Hit | DictionaryGetField.Miss>;
    constructor(fields: readonly string[], values: ReadonlyArray<Value | null>) {
      super(fields.flatMap((field, i) => (values[i] === null || values[i] === undefined ? [] : [[field, values[i]!] as const])));
      this.responses = fields.map((field, i) => (values[i] === null || values[i] === undefined ? new DictionaryGetField.Miss(field) : new DictionaryGetField.Hit(values[i]!, field)));
    }
  }
  export const Miss = DictionaryFetch.Miss;
  export type Miss = DictionaryFetch.Miss;
  export const Error = DictionaryFetch.Error;
  export type Error = DictionaryFetch.Error;
  export type Response = Hit | Miss | Error;
}

/** setFetch, setPop and setSample: a set's elements (bytes: a set holds bytes), with Momento's
 * accessors; Miss when there is no set. */
export namespace SetElements {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly elements: Uint8Array[]) { super(); }
    protected override detail(): string { return `${this.elements.length} element${this.elements.length === 1 ? '' : 's'}`; }
    value(): string[] { return this.valueArrayString(); }
    valueArray(): string[] { return this.valueArrayString(); }
    valueArrayString(): string[] { return this.elements.map(valueString); }
    valueArrayUint8Array(): Uint8Array[] { return this.elements; }
    valueSet(): Set<string> { return this.valueSetString(); }
    valueSetString(): Set<string> { return new Set(this.valueArrayString()); }
    valueSetUint8Array(): Set<Uint8Array> { return new Set(this.elements); }
  }
  export const Miss = ListFetch.Miss;
  export type Miss = ListFetch.Miss;
  export const Error = ListFetch.Error;
  export type Error = ListFetch.Error;
  export type Response = Hit | Miss | Error;
}

/** setContainsElement: Hit with whether the set holds the element; Miss when there is no set. */
export namespace SetContainsElement {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly contains: boolean) { super(); }
    protected override detail(): string { return String(this.contains); }
    containsElement(): boolean { return this.contains; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; containsElement(): undefined { return undefined; } }
  export class Error extends ErrorResponse { containsElement(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** setContainsElements: Hit with each element asked (as text) mapped to whether the set holds it. */
export namespace SetContainsElements {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    private readonly contains: Record<string, boolean>;
    constructor(elements: readonly Value[], found: readonly boolean[]) {
      super();
      this.contains = Object.fromEntries(elements.map((e, i) => [valueString(e), found[i] === true]));
    }
    protected override detail(): string { return `${Object.keys(this.contains).length} elements`; }
    containsElements(): Record<string, boolean> { return this.contains; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; containsElements(): undefined { return undefined; } }
  export class Error extends ErrorResponse { containsElements(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** A Hit or Success that carries one number, printed as `<label> <n>`. */
abstract class Numbered extends Outcome {
  protected abstract readonly label: string;
  constructor(protected readonly n: number) { super(); }
  protected override detail(): string { return `${this.label} ${this.n}`; }
}

/** sortedSetFetchByRank and sortedSetFetchByScore: the elements (bytes) with their scores, in the
 * order asked, with Momento's accessors; Miss when there is no sorted set. */
export namespace SortedSetFetch {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly elements: ReadonlyArray<{ value: Uint8Array; score: number }>) { super(); }
    protected override detail(): string { return `${this.elements.length} element${this.elements.length === 1 ? '' : 's'}`; }
    value(): Array<{ value: string; score: number }> { return this.valueArrayStringElements(); }
    valueArray(): Array<{ value: string; score: number }> { return this.valueArrayStringElements(); }
    valueArrayStringElements(): Array<{ value: string; score: number }> { return this.elements.map((e) => ({ value: valueString(e.value), score: e.score })); }
    valueArrayUint8Elements(): Array<{ value: Uint8Array; score: number }> { return this.elements.map((e) => ({ ...e })); }
  }
  export const Miss = ListFetch.Miss;
  export type Miss = ListFetch.Miss;
  export const Error = ListFetch.Error;
  export type Error = ListFetch.Error;
  export type Response = Hit | Miss | Error;
}

/** sortedSetGetScore and sortedSetIncrementScore: one element's score. */
export namespace SortedSetScore {
  export class Hit extends Numbered { readonly type = 'Hit' as const; readonly is_hit = true; protected readonly label = 'score'; score(): number { return this.n; } }
  /** No sorted set, or no such element in it (as Momento's SDKs answer either). */
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; score(): undefined { return undefined; } }
  export class Error extends ErrorResponse { score(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** sortedSetIncrementScore: the score after the increment. */
export namespace SortedSetIncrementScore {
  export class Success extends Numbered { readonly type = 'Success' as const; readonly is_success = true; protected readonly label = 'score'; score(): number { return this.n; } }
  export class Error extends ErrorResponse { score(): undefined { return undefined; } }
  export type Response = Success | Error;
}

/** sortedSetGetScores: Hit with each value held (as text) mapped to its score. */
export namespace SortedSetGetScores {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    private readonly scores: Record<string, number> = {};
    constructor(values: readonly Value[], scores: ReadonlyArray<number | null>) {
      super();
      values.forEach((v, i) => { if (scores[i] !== null && scores[i] !== undefined) this.scores[valueString(v)] = scores[i]!; });
    }
    protected override detail(): string { return `${Object.keys(this.scores).length} scores`; }
    value(): Record<string, number> { return this.scores; }
    valueRecord(): Record<string, number> { return this.scores; }
    valueRecordString(): Record<string, number> { return this.scores; }
    valueMap(): Map<string, number> { return new Map(Object.entries(this.scores)); }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; value(): undefined { return undefined; } }
  export class Error extends ErrorResponse { value(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** sortedSetGetRank: the element's rank (0 first) in the order asked; Miss when there is no sorted
 * set or no such element. */
export namespace SortedSetGetRank {
  export class Hit extends Numbered { readonly type = 'Hit' as const; readonly is_hit = true; protected readonly label = 'rank'; rank(): number { return this.n; } }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; rank(): undefined { return undefined; } }
  export class Error extends ErrorResponse { rank(): undefined { return undefined; } }
  export type Response = Hit | Miss | Error;
}

/** sortedSetUnionStore: the number of elements stored. */
export namespace SortedSetUnionStore {
  export class Success extends Numbered { readonly type = 'Success' as const; readonly is_success = true; protected readonly label = 'length'; length(): number { return this.n; } }
  export class Error extends ErrorResponse { length(): undefined { return undefined; } }
  export type Response = Success | Error;
}

/** Momento's SortedSetOrder. */
export const SortedSetOrder = { Ascending: 'ASC', Descending: 'DESC' } as const;
export type SortedSetOrder = (typeof SortedSetOrder)[keyof typeof SortedSetOrder];

/** Momento's SortedSetAggregate, for sortedSetUnionStore. */
export const SortedSetAggregate = { SUM: 'sum', MIN: 'min', MAX: 'max' } as const;
export type SortedSetAggregate = (typeof SortedSetAggregate)[keyof typeof SortedSetAggregate];

/** Momento's ItemType, as itemGetType's Hit answers it. */
export const ItemType = { SCALAR: 'SCALAR', DICTIONARY: 'DICTIONARY', SET: 'SET', LIST: 'LIST', SORTED_SET: 'SORTED_SET' } as const;
export type ItemType = (typeof ItemType)[keyof typeof ItemType];

export namespace ItemGetType {
  export class Hit extends Outcome {
    readonly type = 'Hit' as const;
    readonly is_hit = true;
    constructor(private readonly item: ItemType) { super(); }
    itemType(): ItemType { return this.item; }
    protected override detail(): string { return this.item; }
  }
  export class Miss extends Outcome { readonly type = 'Miss' as const; readonly is_miss = true; }
  export class Error extends ErrorResponse {}
  export type Response = Hit | Miss | Error;
}

/** Momento's ExpiresAt: when a credential expires (Unix seconds), or never. */
export class ExpiresAt {
  private constructor(private readonly unixSeconds: number | undefined) {}
  static fromEpoch(epoch: number | undefined): ExpiresAt { return new ExpiresAt(epoch); }
  static fromEpochMillis(ms: number | null): ExpiresAt { return new ExpiresAt(ms === null ? undefined : Math.floor(ms / 1000)); }
  doesExpire(): boolean { return this.unixSeconds !== undefined; }
  /** Unix seconds; a credential that never expires answers 0 (check doesExpire()). */
  epoch(): number { return this.unixSeconds ?? 0; }
  epochMillis(): number { return this.epoch() * 1000; }
  toString(): string { return this.unixSeconds === undefined ? 'never' : new Date(this.unixSeconds * 1000).toISOString(); }
}

export namespace GenerateDisposableToken {
  export class Success extends Outcome {
    readonly type = 'Success' as const;
    readonly is_success = true;
    constructor(readonly authToken: string, readonly expiresAt: ExpiresAt, readonly endpoint: string) { super(); }
    // Never the token itself: responses end up in logs.
    protected override detail(): string { return `token expiring at ${new Date(this.expiresAt.epochMillis()).toISOString()}`; }
  }
  export class Error extends ErrorResponse {}
  export type Response = Success | Error;
}
