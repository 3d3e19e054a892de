/** A ring-buffer double-ended queue: O(1) push and pop at both ends and O(1) indexing, so a capped
 * list (push back, truncate front) costs the same at length 100 or 100 000. Capacity is a power of
 * two, grows by doubling and shrinks by half when three quarters sit empty, so slots stay within
 * 4× the length (the store counts `capacity` slots, not `length`). */
const MIN_CAPACITY = 4;

export class Deque<T> {
  private buf: Array<T | undefined>;
  private head = 0;
  private len = 0;

  constructor(items: Iterable<T> = []) {
    this.buf = slots<T>(MIN_CAPACITY);
    for (const item of items) this.pushBack(item);
  }

  get length(): number { return this.len; }
  get capacity(): number { return this.buf.length; }

  /** Element `i` from the front (0 ≤ i < length). */
  at(i: number): T {
    return this.buf[(this.head + i) & (this.buf.length - 1)] as T;
  }

  pushBack(item: T): void {
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    this.buf[(this.head + this.len) & (this.buf.length - 1)] = item;
    this.len++;
  }

  pushFront(item: T): void {
    if (this.len === this.buf.length) this.resize(this.buf.length * 2);
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = item;
    this.len++;
  }

  popBack(): T | undefined {
    if (this.len === 0) return undefined;
    const i = (this.head + this.len - 1) & (this.buf.length - 1);
    const item = this.buf[i];
    this.buf[i] = undefined;
    this.len--;
    this.maybeShrink();
    return item;
  }

  popFront(): T | undefined {
    if (this.len === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.len--;
    this.maybeShrink();
    return item;
  }

  /** Copy of elements [from, to). */
  slice(from = 0, to = this.len): T[] {
    const out: T[] = [];
    for (let i = from; i < to; i++) out.push(this.at(i));
    return out;
  }

  /** Replaces the whole content (used by retain and remove, which rebuild anyway). */
  replace(items: readonly T[]): void {
    let capacity = MIN_CAPACITY;
    while (capacity < items.length) capacity *= 2;
    this.buf = slots<T>(capacity);
    for (let i = 0; i < items.length; i++) this.buf[i] = items[i];
    this.head = 0;
    this.len = items.length;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.len; i++) yield this.at(i);
  }

  private maybeShrink(): void {
    if (this.buf.length > MIN_CAPACITY && this.len < this.buf.length / 4) this.resize(this.buf.length / 2);
  }

  private resize(capacity: number): void {
    const next = slots<T>(capacity);
    for (let i = 0; i < this.len; i++) next[i] = this.at(i);
    this.buf = next;
    this.head = 0;
  }
}

/** A packed array of `capacity` empty slots (`new Array(n)` makes a holey one, and V8 switches large
 * holey arrays to slow dictionary mode). */
function slots<T>(capacity: number): Array<T | undefined> {
  const out: Array<T | undefined> = [];
  for (let i = 0; i < capacity; i++) out.push(undefined);
  return out;
}
