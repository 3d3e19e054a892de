/** Idempotent writes: a publish, pubAppend, list push, increment or setIf* write may carry a client-chosen
 * `idempotencyKey`; the first result is remembered for a bounded window, and a repeat (a retry after
 * a cut link) gets that result instead of being applied again. So a write whose reply was lost is
 * never a "maybe": retrying it is safe. Keys are scoped by tokenId (a retry comes on a new
 * connection with the same credential) and by write (the operation and the names it writes). Bounded in count and time.
 *
 * Past the count bound the scope holding the most keys loses its oldest. A plain LRU over all
 * scopes let one credential writing many keys push out everyone else's within their window, so
 * another user's retry after a lost reply was applied twice. */
import type { Clock } from '../core/clock.js';
import type { Maybe } from '../core/maybe.js';
import { invalidArgument } from '../core/errors.js';
import { Fifo } from '../lib/fifo.js';
import { idempotencyKeyProblem } from '../protocol/index.js';

/** The one key of a remembered result, here and in a networked engine's backend: the scope, the
 * write and the idempotencyKey joined by NUL. A write is its operation and the names it writes,
 * joined by NUL too: those hold none and their number is the operation's. A scope may hold NULs
 * (a tokenId is any text) and so may an idempotencyKey, so the scope's NULs are doubled: the first
 * NUL not doubled then ends it, and no two (scope, write, key) share a key. A tokenId with no NUL
 * keeps the plain join. */
export function idempotencyEntryKey(scope: string, write: string, key: string): string {
  return `${scope.replaceAll('\u0000', '\u0000\u0000')}\u0000${write}\u0000${key}`;
}

type Remembered = { result: unknown } | { pending: Promise<unknown> };

interface Entry { key: string; value: Remembered; at: number; scope: ScopeKeys }

/** One scope's keys, oldest first. The queue may still hold keys forgotten out of order (a failed
 * write, one found expired): skipped when they reach the front, and dropped by a rebuild once they
 * outnumber the live ones. A queue, not a Set iterated from its front: V8 keeps deleted entries in
 * a Set or Map until it rehashes, so finding the first live one walked over every deleted one
 * (120 µs a write at 100,000 keys, against 6 µs). */
interface ScopeKeys { name: string; queue: Fifo<Entry>; count: number; /** Index in its byCount bucket. */ slot: number }

export class IdempotentResults {
  private readonly entries = new Map<string, Entry>();
  /** Every key in the order written (one window for all, so the oldest expires first), with the
   * same lazy deletion and rebuild as a scope's queue. */
  private oldest = new Fifo<Entry>();
  private readonly scopes = new Map<string, ScopeKeys>();
  /** Scopes by how many keys they hold (arrays, each scope knowing its slot: O(1) moves), and the
   * largest count held, so eviction finds the scope with the most keys in O(1) (counts change by
   * one at a time). */
  private readonly byCount: ScopeKeys[][] = [];
  private maxCount = 0;
  private readonly windowMs: number;
  private readonly max: number;

  constructor(config: { idempotencyWindowMs: number; maxIdempotencyKeys: number }, private readonly clock: Clock) {
    this.windowMs = config.idempotencyWindowMs;
    this.max = config.maxIdempotencyKeys;
  }

  get size(): number { return this.entries.size; }

  /** Applies the write once per (scope, operation, key) within the window; a repeat answers what
   * the first answered (waiting for it if it is still in flight). A failed write is forgotten, so
   * its retry is applied. */
  run(scope: string, operation: string, key: unknown, apply: () => Maybe<unknown>): Maybe<unknown> {
    const problem = idempotencyKeyProblem(key);
    if (problem) throw invalidArgument(problem);
    const k = idempotencyEntryKey(scope, operation, key as string);
    const now = this.clock.now();
    const seen = this.entries.get(k);
    // Past the window a key is forgotten when next seen (memory is bounded by count meanwhile).
    if (seen && seen.at + this.windowMs > now) return 'result' in seen.value ? seen.value.result : seen.value.pending;
    if (seen) this.forget(k, seen);
    const outcome = apply();
    if (outcome instanceof Promise) {
      const entry = this.remember(k, scope, { pending: outcome }, now);
      // Settled later: only the entry still held is updated (one evicted meanwhile stays out).
      outcome.then((result) => { if (this.entries.get(k) === entry) entry.value = { result }; }, () => { if (this.entries.get(k) === entry) this.forget(k, entry); });
    } else {
      this.remember(k, scope, { result: outcome }, now);
    }
    return outcome;
  }

  private remember(k: string, scopeName: string, value: Remembered, now: number): Entry {
    while (this.entries.size >= this.max) this.evict(now);
    let scope = this.scopes.get(scopeName);
    if (!scope) {
      scope = { name: scopeName, queue: new Fifo(), count: 0, slot: -1 };
      this.scopes.set(scopeName, scope);
    }
    const entry: Entry = { key: k, value, at: now, scope };
    this.entries.set(k, entry);
    scope.queue.push(entry);
    this.oldest.push(entry);
    this.recount(scope, 1);
    return entry;
  }

  private forget(k: string, entry: Entry): void {
    this.entries.delete(k);
    const { scope } = entry;
    this.recount(scope, -1);
    if (scope.count === 0) this.scopes.delete(scope.name);
    else if (scope.queue.length > 2 * scope.count + 16) scope.queue = this.live(scope.queue);
    if (this.oldest.length > 2 * this.entries.size + 16) this.oldest = this.live(this.oldest);
  }

  /** The keys of `queue` still held, in order (a queue mostly of keys forgotten out of order). */
  private live(queue: Fifo<Entry>): Fifo<Entry> {
    const live = new Fifo<Entry>();
    for (const entry of queue) if (this.entries.get(entry.key) === entry) live.push(entry);
    return live;
  }

  /** Makes room for one key: the oldest if it is past the window, else the oldest of the scope
   * holding the most. */
  private evict(now: number): void {
    const first = this.firstLive(this.oldest);
    if (first && first.at + this.windowMs <= now) return this.forget(first.key, first);
    const bucket = this.byCount[this.maxCount];
    const victim = bucket && bucket.length > 0 ? this.firstLive(bucket[bucket.length - 1]!.queue) : undefined;
    if (!victim) return void this.entries.clear(); // unreachable: counts track entries
    this.forget(victim.key, victim);
  }

  /** The first key of `queue` still held (dropping the forgotten ones before it). */
  private firstLive(queue: Fifo<Entry>): Entry | undefined {
    for (let entry = queue.peek(); entry; entry = queue.peek()) {
      if (this.entries.get(entry.key) === entry) return entry;
      queue.shift();
    }
    return undefined;
  }

  /** Changes the scope's count by `delta` (±1) and moves it to its new count. */
  private recount(scope: ScopeKeys, delta: 1 | -1): void {
    const before = scope.count;
    const after = before + delta;
    scope.count = after;
    if (before > 0) {
      const bucket = this.byCount[before]!;
      const last = bucket.pop()!;
      if (last !== scope) { bucket[scope.slot] = last; last.slot = scope.slot; }
    }
    if (after > 0) {
      const bucket = this.byCount[after] ??= [];
      scope.slot = bucket.length;
      bucket.push(scope);
    }
    if (after > this.maxCount) this.maxCount = after;
    else if (before === this.maxCount && this.byCount[before]!.length === 0) this.maxCount = after;
  }
}
