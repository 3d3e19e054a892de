/** Momento's increment and conditional-set semantics as pure functions, shared by the memory store
 * (which applies them) and the Redis store (whose Lua scripts in redis/scripts.ts are the same
 * rules; keep the two in step):
 * - increment adds to a value that is a base-10 integer (optional sign, ASCII digits, as UTF-8 text
 *   or bytes) within a signed 64-bit range; a missing key starts from 0; the result is stored as
 *   its decimal text. Anything else stored, or a result outside 64 bits: FAILED_PRECONDITION_ERROR;
 * - setIf stores only when its condition holds on what the key holds now. Presence is any item;
 *   a condition that compares values needs a scalar there (a collection: FAILED_PRECONDITION_ERROR).
 *   A hashed condition (Momento's SetIfHash) compares valueHash of the stored value instead. */
import { createHash } from 'node:crypto';
import { isWellFormed, type SetIfCondition, type Value } from '../protocol/index.js';
import { failedPrecondition } from '../core/errors.js';
import { valuesEqual } from './list-ops.js';
import { textBytes } from './text-bytes.js';

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
/** Longer than any 64-bit integer in decimal, even with sign and leading zeros kept short: a
 * bigger stored value is refused without parsing it whole. */
const MAX_INTEGER_TEXT = 40;
const INTEGER = /^[+-]?[0-9]+$/;

/** The stored value as a 64-bit integer, or undefined when it is not one. */
export function parseInteger(value: Value): bigint | undefined {
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else {
    if (value.byteLength > MAX_INTEGER_TEXT) return undefined;
    text = String.fromCharCode(...value);
  }
  if (text.length > MAX_INTEGER_TEXT || !INTEGER.test(text)) return undefined;
  const n = BigInt(text);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** `current` (undefined = no item) plus `amount`, or the FAILED_PRECONDITION_ERROR Momento answers.
 * `field`: the dictionary field at `key` that is incremented (dictionaryIncrement), if any. */
export function incremented(cache: string, key: string, current: Value | undefined, amount: number, field?: string): bigint {
  const base = current === undefined ? 0n : parseInteger(current);
  if (base === undefined) throw notAnInteger(cache, key, field);
  const next = base + BigInt(amount);
  if (next < INT64_MIN || next > INT64_MAX) throw overflow(cache, key, field);
  return next;
}

const what = (cache: string, key: string, field: string | undefined) =>
  field === undefined ? `key "${key}" in cache "${cache}"` : `field "${field}" of dictionary "${key}" in cache "${cache}"`;

export function notAnInteger(cache: string, key: string, field?: string) {
  return failedPrecondition(`${what(cache, key, field)} does not hold a base-10 integer of at most 64 bits, so it cannot be incremented`);
}

export function overflow(cache: string, key: string, field?: string) {
  return failedPrecondition(`incrementing ${what(cache, key, field)} would leave the signed 64-bit range`);
}

/** A setIf condition with the value it compares to (for equal, notEqual, presentAndNotEqual,
 * absentOrEqual). `hashed`: compare is a hash, compared to valueHash of the stored value. */
export interface StoreCondition { kind: SetIfCondition; compare?: Value | undefined; hashed?: boolean }

/** The hash GetWithHash answers and SetIfHash compares: the SHA-1 of the value's bytes (text as
 * the stores keep it: UTF-8, a lone surrogate as its 3-byte form, text-bytes.ts) as 40 lowercase
 * hex digits. Computed from the stored value when asked, so nothing more is
 * stored; SHA-1 because the Redis store's Lua has the same function (redis.sha1hex), so both
 * engines agree without a copy of the value leaving Redis; hex so that Momento's hashString()
 * round-trips. It detects a changed value, not a forged one (a writer may store anything anyway). */
export function valueHash(value: Value): string {
  // Node's update(string) would hash a lone surrogate as U+FFFD, and the Redis script hashes the
  // stored bytes: text that is not well-formed goes through textBytes so that the two agree.
  return createHash('sha1').update(typeof value === 'string' && !isWellFormed(value) ? textBytes(value) : value).digest('hex');
}

/** Conditions that compare the stored value (and so need a scalar at the key). */
export const COMPARING: ReadonlySet<SetIfCondition> = new Set<SetIfCondition>(['equal', 'notEqual', 'presentAndNotEqual', 'absentOrEqual']);

/** Whether `condition` holds for what the key holds: nothing, a scalar value, or a list. */
export function conditionHolds(condition: StoreCondition, held: { kind: 'none' } | { kind: 'scalar'; value: Value } | { kind: 'list' | 'dictionary' | 'set' | 'sortedSet' }, wrongType: () => Error): boolean {
  switch (condition.kind) {
    case 'absent': return held.kind === 'none';
    case 'present': return held.kind !== 'none';
    default:
  }
  if (held.kind !== 'none' && held.kind !== 'scalar') throw wrongType();
  const equal = held.kind === 'scalar' && valuesEqual(condition.hashed === true ? valueHash(held.value) : held.value, condition.compare!);
  switch (condition.kind) {
    case 'equal': return equal;
    case 'notEqual': return !equal;
    case 'presentAndNotEqual': return held.kind === 'scalar' && !equal;
    case 'absentOrEqual': return held.kind === 'none' || equal;
    default: throw new Error(`unknown setIf condition ${String(condition.kind)}`);
  }
}
