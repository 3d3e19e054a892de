/** A sorted set in process memory (the memory store's; Redis keeps a native ZSET): its elements'
 * bytes as one-byte (latin1) strings, as a set's, each with a score, ordered by score and then by
 * bytes (a latin1 string compares byte by byte, as Redis compares members). A sorted array with
 * binary search, plus a Map from element to its entry: reads by rank are O(1) indexing, by score or
 * element O(log n); an insert or remove moves the array's tail (a memmove of pointers), bounded by
 * store.maxSortedSetElements, and a put of many elements sorts only them and merges, a remove of
 * many filters the array once. Simpler than a skip list or tree, and at 100 000 elements (the default bound) a
 * splice is still microseconds. */
import type { ScoreBound, ScoreRange, SortedSetOrder } from './cache-store.js';
import { resolveRange } from './list-ops.js';
import { SORTED_SET_ELEMENT_OVERHEAD, measureText } from './sizes.js';
import { Tally } from './tally.js';

export interface Ranked { readonly m: string; readonly s: number }

/** Puts or removes of more elements than this merge or filter the array once rather than splice each
 * (on a 100 000-element array a splice costs ~70 µs, one pass ~9 ms). */
const BULK = 128;

/** Payload bytes of an element: its bytes and its score (a double). */
export function rankedPayload(member: string): number {
  return member.length + 8;
}

/** Footprint bytes of an element: its entry, array slot and Map entry, and its string. */
export function rankedFootprint(member: string): number {
  return SORTED_SET_ELEMENT_OVERHEAD + measureText(member).heap;
}

function before(a: Ranked, b: Ranked): boolean {
  return a.s < b.s || (a.s === b.s && a.m < b.m);
}

function compare(a: Ranked, b: Ranked): number {
  return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/** `held` without the indices in `skip` (ascending) and `added` (ordered, no member of what is
 * kept) as one ordered array. */
function merged(held: readonly Ranked[], skip: readonly number[], added: readonly Ranked[]): Ranked[] {
  const out = new Array<Ranked>(held.length - skip.length + added.length);
  let k = 0;
  let s = 0;
  let j = 0;
  for (let i = 0; i < held.length; i++) {
    if (s < skip.length && skip[s] === i) { s++; continue; }
    const x = held[i]!;
    while (j < added.length && before(added[j]!, x)) out[k++] = added[j++]!;
    out[k++] = x;
  }
  while (j < added.length) out[k++] = added[j++]!;
  return out;
}

/** A sorted set's mutable state; replaced in its LRU wrapper on every write, as a list's. */
export class SortedSetState extends Tally {
  private order: Ranked[] = [];
  private readonly entries = new Map<string, Ranked>();

  get size(): number {
    return this.order.length;
  }

  score(member: string): number | undefined {
    return this.entries.get(member)?.s;
  }

  has(member: string): boolean {
    return this.entries.has(member);
  }

  /** Sets each member's score, in order (a later one of the same member wins). */
  put(elements: readonly Ranked[]): void {
    if (elements.length <= BULK) {
      for (const e of elements) this.putOne(e);
      return;
    }
    // Only the incoming elements are sorted, then merged in one pass that skips the entries they
    // replace (found by binary search, so no lookup per element held): re-sorting the whole array
    // cost ~50 ms for 17 elements put into 100 000.
    const incoming = new Map<string, Ranked>();
    for (const e of elements) incoming.set(e.m, e);
    const replaced: number[] = [];
    for (const e of incoming.values()) {
      const old = this.entries.get(e.m);
      if (old) replaced.push(this.indexOf(old));
      else this.tally(e.m, 1);
    }
    for (const e of incoming.values()) this.entries.set(e.m, e);
    this.order = merged(this.order, replaced.sort((a, b) => a - b), [...incoming.values()].sort(compare));
  }

  /** Removes the members held; more than a few at once are dropped in one pass over the array (their
   * places found by binary search, not a lookup per element held). */
  remove(members: readonly string[]): void {
    if (members.length <= BULK) {
      for (const member of members) this.removeOne(member);
      return;
    }
    const removed: number[] = [];
    for (const member of new Set(members)) {
      const old = this.entries.get(member);
      if (!old) continue;
      removed.push(this.indexOf(old));
      this.entries.delete(member);
      this.tally(member, -1);
    }
    this.order = merged(this.order, removed.sort((a, b) => a - b), []);
  }

  /** The member's rank in `order`, or undefined when it is not an element. */
  rank(member: string, order: SortedSetOrder): number | undefined {
    const entry = this.entries.get(member);
    if (!entry) return undefined;
    const index = this.indexOf(entry);
    return order === 'ascending' ? index : this.order.length - 1 - index;
  }

  /** Ranks [start, end) in `order` (a list range: negatives from the end, clamped). */
  byRank(start: number | undefined, end: number | undefined, order: SortedSetOrder): Ranked[] {
    const [from, to] = resolveRange(this.order.length, start, end);
    if (order === 'ascending') return this.order.slice(from, to);
    const n = this.order.length;
    return this.order.slice(n - to, n - from).reverse();
  }

  /** The elements within `scores` in `order`, skipping `offset`, at most `count` (undefined: all). */
  byScore(scores: ScoreRange, order: SortedSetOrder, offset: number, count: number | undefined): Ranked[] {
    const [lo, hi] = this.scoreIndices(scores);
    const take = Math.max(0, Math.min(hi - lo - offset, count ?? Infinity));
    if (order === 'ascending') return this.order.slice(lo + offset, lo + offset + take);
    return this.order.slice(hi - offset - take, hi - offset).reverse();
  }

  countByScore(scores: ScoreRange): number {
    const [lo, hi] = this.scoreIndices(scores);
    return hi - lo;
  }

  /** Every element, lowest first. */
  all(): readonly Ranked[] {
    return this.order;
  }

  private removeOne(member: string): void {
    const old = this.entries.get(member);
    if (!old) return;
    this.entries.delete(member);
    this.order.splice(this.indexOf(old), 1);
    this.tally(member, -1);
  }

  private putOne(e: Ranked): void {
    const old = this.entries.get(e.m);
    if (old) {
      if (old.s === e.s) return;
      this.order.splice(this.indexOf(old), 1);
    } else {
      this.tally(e.m, 1);
    }
    this.entries.set(e.m, e);
    this.order.splice(this.lowerBound((x) => !before(x, e)), 0, e);
  }

  private tally(member: string, sign: 1 | -1): void {
    this.count(rankedPayload(member), rankedFootprint(member), sign);
  }

  /** The index of an entry held. */
  private indexOf(entry: Ranked): number {
    return this.lowerBound((x) => !before(x, entry));
  }

  /** [lo, hi): the indices of the elements within `scores` (lo ≤ hi). */
  private scoreIndices({ min, max }: ScoreRange): [number, number] {
    const lo = min === undefined ? 0 : this.lowerBound(above(min, false));
    const hi = max === undefined ? this.order.length : this.lowerBound(above(max, true));
    return [lo, Math.max(lo, hi)];
  }

  /** The first index whose element satisfies `past` (false for every element before it). */
  private lowerBound(past: (x: Ranked) => boolean): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (past(this.order[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Whether an element lies past a bound: for a lower bound, at or above it (above it when
 * exclusive); for an upper bound (`upper`), above it (at or above it when exclusive). */
function above(bound: ScoreBound, upper: boolean): (x: Ranked) => boolean {
  const strict = upper !== bound.exclusive;
  return strict ? (x) => x.s > bound.score : (x) => x.s >= bound.score;
}
