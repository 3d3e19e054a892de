/** Every connection's one pending deadline (hello, token-expiry notice, expiry) kept without a
 * Timeout per connection: one clock timer for the earliest deadline of all. A Timeout with its
 * closure was ~150 B held for the life of every idle connection, and arming and clearing one cost
 * CPU on every connect (bench/analysis.md, "Connect, memory and history"). */
import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../core/clock.js';
import type { Session } from './session.js';

export type DueKind = 'hello' | 'notice' | 'expiry';

/** The sessions due at one time for one thing. A session points at its bucket rather than holding
 * the time and the kind: unix ms is a separate 16-byte heap number per connection, and the kind a
 * field of its own; the pointer is one field. */
export class DueBucket extends Set<Session> {
  constructor(readonly at: number, readonly kind: 'notice' | 'expiry') { super(); }
}
/** Node's timers hold at most this long; a later deadline re-arms when it is reached. */

export class SessionDeadlines {
  /** Hello deadlines. Every connection gets the same timeout, so insertion order is due order
   * and the oldest entry is the next one due. */
  private readonly hello = new Map<Session, number>();
  /** Expiry-notice and expiry deadlines by due time (unix ms). Tokens expire on whole seconds, so
   * many sessions share one entry. */
  private readonly buckets = { notice: new Map<number, DueBucket>(), expiry: new Map<number, DueBucket>() };
  /** Min-heap of bucket times (a time with both kinds may be there twice); a time whose buckets
   * emptied stays until it comes up, then is skipped. */
  private readonly times: number[] = [];
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;

  constructor(private readonly clock: Clock, private readonly onDue: (session: Session, kind: DueKind) => void) {}

  /** `session` must say hello by `at`; `cancel` when it does. */
  helloBy(session: Session, at: number): void {
    this.hello.set(session, at);
    this.wake(at);
  }

  /** The session's expiry deadline (replacing any it had). */
  expireAt(session: Session, at: number, kind: 'notice' | 'expiry'): void {
    this.cancel(session);
    const table = this.buckets[kind];
    let bucket = table.get(at);
    if (!bucket) {
      bucket = new DueBucket(at, kind);
      table.set(at, bucket);
      if (!this.buckets[kind === 'notice' ? 'expiry' : 'notice'].has(at)) push(this.times, at);
    }
    bucket.add(session);
    session.due = bucket;
    this.wake(at);
  }

  /** Drops whatever deadline the session has. */
  cancel(session: Session): void {
    this.hello.delete(session);
    const bucket = session.due;
    if (bucket === undefined) return;
    session.due = undefined;
    const table = this.buckets[bucket.kind];
    if (bucket.delete(session) && bucket.size === 0 && table.get(bucket.at) === bucket) {
      table.delete(bucket.at);
      this.compactTimes();
    }
  }

  /** Emptied times stay in the heap until they come up; connection churn (the same expiry time
   * re-added after every close) would grow it without bound. Rebuild it from the live buckets once
   * stale times outnumber them. */
  private compactTimes(): void {
    const live = this.buckets.notice.size + this.buckets.expiry.size;
    if (this.times.length <= 2 * live + 64) return;
    const at = new Set<number>([...this.buckets.notice.keys(), ...this.buckets.expiry.keys()]);
    this.times.length = 0;
    for (const time of [...at].sort((a, b) => a - b)) this.times.push(time); // sorted: a valid min-heap
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Deadlines pending (tests check none is left behind). */
  get size(): number {
    let n = this.hello.size;
    for (const table of [this.buckets.notice, this.buckets.expiry]) for (const bucket of table.values()) n += bucket.size;
    return n;
  }

  private wake(at: number): void {
    if (at < this.timerAt) this.arm(at);
  }

  private arm(at: number): void {
    this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    // Deleting the current entry while iterating a Map is safe; onDue may cancel others.
    for (const [session, at] of this.hello) {
      if (at > now) break;
      this.hello.delete(session);
      this.onDue(session, 'hello');
    }
    while (this.times.length > 0 && this.times[0]! <= now) {
      const at = pop(this.times)!;
      for (const table of [this.buckets.notice, this.buckets.expiry]) {
        const bucket = table.get(at);
        if (!bucket) continue;
        table.delete(at);
        for (const session of bucket) {
          session.due = undefined;
          this.onDue(session, bucket.kind);
        }
      }
    }
    while (this.times.length > 0 && !this.buckets.notice.has(this.times[0]!) && !this.buckets.expiry.has(this.times[0]!)) pop(this.times);
    const nextHello = this.hello.values().next();
    const next = Math.min(nextHello.done ? Infinity : nextHello.value, this.times[0] ?? Infinity);
    if (next !== Infinity) this.arm(next);
  }
}

function push(heap: number[], value: number): void {
  let i = heap.push(value) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function pop(heap: number[]): number | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const child = r < heap.length && heap[r]! < heap[l]! ? r : l;
    if (heap[child]! >= last) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}
