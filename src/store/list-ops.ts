/** Momento's list semantics as pure functions over a Deque: index ranges (start inclusive, end
 * exclusive, negatives count from the end, overshoot clamps), pushes with truncation to a size,
 * retain, remove-equal, value equality. No limits, TTLs or bytes here: the store plans with
 * planPush, checks its limits, then applies. */
import type { Value } from '../protocol/index.js';
import { Deque } from '../lib/deque.js';
import { textBytes } from './text-bytes.js';

/** Reason a (start, end) pair is refused, or undefined. Only same-sign pairs can be compared before
 * the length is known; there end must exceed start (Momento: "endIndex (exclusive) must be larger
 * than startIndex (inclusive)"). Mixed signs resolve against the length and may give an empty slice. */
export function rangeProblem(start: number | undefined, end: number | undefined): string | undefined {
  if (start === undefined || end === undefined) return undefined;
  const sameSign = (start >= 0 && end >= 0) || (start < 0 && end < 0);
  return sameSign && end <= start ? 'endIndex (exclusive) must be larger than startIndex (inclusive)' : undefined;
}

/** [from, to) within [0, length] for a Python-style slice; from ≤ to always. */
export function resolveRange(length: number, start?: number, end?: number): [number, number] {
  const clamp = (i: number) => Math.min(length, Math.max(0, i < 0 ? length + i : i));
  const from = start === undefined ? 0 : clamp(start);
  const to = end === undefined ? length : clamp(end);
  return [from, Math.max(from, to)];
}

/** What a push of `added` elements onto a list of `length` keeps, given a truncate-to size (the far
 * end is cut). New elements themselves are cut when `truncateToSize` < added. */
export interface PushPlan { dropExisting: number; dropNew: number; newLength: number }

export function planPush(length: number, added: number, truncateToSize?: number): PushPlan {
  const total = length + added;
  const drop = truncateToSize === undefined ? 0 : Math.max(0, total - truncateToSize);
  const dropExisting = Math.min(drop, length);
  return { dropExisting, dropNew: drop - dropExisting, newLength: total - drop };
}

/** listPushBack / listConcatenateBack: appends `values` in order, then drops from the front while
 * longer than `truncateFrontToSize`. Returns the elements dropped from the existing list. */
export function pushBack<T>(list: Deque<T>, values: readonly T[], truncateFrontToSize?: number, plan = planPush(list.length, values.length, truncateFrontToSize)): T[] {
  const dropped: T[] = [];
  for (let i = 0; i < plan.dropExisting; i++) dropped.push(list.popFront() as T);
  for (let i = plan.dropNew; i < values.length; i++) list.pushBack(values[i]!);
  return dropped;
}

/** listPushFront / listConcatenateFront: places `values` before the list, in their order
 * ([4,5,6] onto [1,2,3] gives [4,5,6,1,2,3]), then drops from the back while longer than
 * `truncateBackToSize`. Returns the elements dropped from the existing list. */
export function pushFront<T>(list: Deque<T>, values: readonly T[], truncateBackToSize?: number, plan = planPush(list.length, values.length, truncateBackToSize)): T[] {
  const dropped: T[] = [];
  for (let i = 0; i < plan.dropExisting; i++) dropped.push(list.popBack() as T);
  for (let i = values.length - plan.dropNew - 1; i >= 0; i--) list.pushFront(values[i]!);
  return dropped;
}

/** listFetch: a copy of the slice. */
export function fetchRange<T>(list: Deque<T>, start?: number, end?: number): T[] {
  const [from, to] = resolveRange(list.length, start, end);
  return list.slice(from, to);
}

/** listRetain: keeps only the slice; returns what was removed. */
export function retainRange<T>(list: Deque<T>, start?: number, end?: number): T[] {
  const [from, to] = resolveRange(list.length, start, end);
  if (from === 0 && to === list.length) return [];
  const all = list.slice();
  list.replace(all.slice(from, to));
  return [...all.slice(0, from), ...all.slice(to)];
}

/** listErase: removes the elements the ranges cover ([beginIndex, beginIndex + count) of the list
 * as it was before the call; parts past its end are ignored), or every element when `ranges` is
 * undefined; returns the removed ones. */
export function eraseRanges<T>(list: Deque<T>, ranges: ReadonlyArray<{ beginIndex: number; count: number }> | undefined): T[] {
  if (ranges === undefined) {
    const all = list.slice();
    list.replace([]);
    return all;
  }
  // Coverage counts by difference array: linear in the list plus the ranges, however they overlap.
  const length = list.length;
  const cover = new Int32Array(length + 1);
  let any = false;
  for (const { beginIndex, count } of ranges) {
    const end = Math.min(length, beginIndex + count);
    if (beginIndex >= end) continue;
    cover[beginIndex]!++;
    cover[end]!--;
    any = true;
  }
  if (!any) return [];
  const kept: T[] = [];
  const removed: T[] = [];
  let depth = 0;
  let i = 0;
  for (const item of list) {
    depth += cover[i++]!;
    (depth > 0 ? removed : kept).push(item);
  }
  list.replace(kept);
  return removed;
}

/** listRemoveValue: removes every element matching; returns the removed ones. */
export function removeWhere<T>(list: Deque<T>, matches: (item: T) => boolean): T[] {
  const kept: T[] = [];
  const removed: T[] = [];
  for (const item of list) (matches(item) ? removed : kept).push(item);
  if (removed.length > 0) list.replace(kept);
  return removed;
}

/** Equality as Momento sees it: values are bytes, so text equals the binary of its UTF-8. */
export function valuesEqual(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  const x = typeof a === 'string' ? textBytes(a) : a;
  const y = typeof b === 'string' ? textBytes(b) : b;
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** A predicate for valuesEqual(needle, x) that encodes the needle at most once. */
export function equalTo(needle: Value): (value: Value) => boolean {
  let bytes: Uint8Array | undefined = typeof needle === 'string' ? undefined : needle;
  return (value) => {
    if (typeof value === 'string' && typeof needle === 'string') return value === needle;
    bytes ??= textBytes(needle as string);
    return valuesEqual(bytes, value);
  };
}
