/** The requests waiting for the connection, bounded by count and by encoded bytes: the one place
 * that knows both totals, so no path (a new request, a write re-queued after a cut link) can
 * grow the queue past either bound. */

export interface QueueBounds {
  maxRequests: number;
  maxBytes: number;
}

/** Why an entry does not fit: which bound it would pass, for the caller's error message. */
export type QueueRefusal = { bound: 'requests' | 'bytes'; requests: number; bytes: number };

/** Entries are held in an insertion-ordered Map keyed by the item itself: remove() (a request that
 * timed out or was cancelled while waiting) is O(1) instead of a scan and splice of a list, which
 * made thousands of queued requests timing out one by one quadratic. An item is queued at most
 * once (each is its own object). */
export class RequestQueue<T> {
  private entries = new Map<T, number>();
  private byteTotal = 0;

  constructor(private readonly bounds: QueueBounds) {}

  get length(): number { return this.entries.size; }
  get bytes(): number { return this.byteTotal; }

  /** Undefined when an entry of `bytes` fits behind what waits now; else the bound it would pass. */
  refusal(bytes: number): QueueRefusal | undefined {
    const at = { requests: this.entries.size, bytes: this.byteTotal };
    if (this.entries.size + 1 > this.bounds.maxRequests) return { bound: 'requests', ...at };
    if (this.byteTotal + bytes > this.bounds.maxBytes) return { bound: 'bytes', ...at };
    return undefined;
  }

  /** Appends; the caller checked refusal() first. */
  push(item: T, bytes: number): void {
    this.entries.set(item, bytes);
    this.byteTotal += bytes;
  }

  /** Puts `items` ahead of what waits, in their order, as far as both bounds allow (counting what
   * already waits): returns the ones that did not fit, for the caller to fail. Older entries go
   * first, so when some must be refused it is the newest. Rebuilds the map (a Map cannot insert at
   * its front): once per dropped link, not per request. */
  prependFitting(items: ReadonlyArray<{ item: T; bytes: number }>): T[] {
    const admitted = new Map<T, number>();
    const refused: T[] = [];
    let count = this.entries.size;
    let total = this.byteTotal;
    for (const entry of items) {
      if (refused.length === 0 && count + 1 <= this.bounds.maxRequests && total + entry.bytes <= this.bounds.maxBytes) {
        admitted.set(entry.item, entry.bytes);
        count++;
        total += entry.bytes;
      } else refused.push(entry.item); // once one is refused, later ones too: order is kept
    }
    if (admitted.size > 0) {
      for (const [item, bytes] of this.entries) admitted.set(item, bytes);
      this.entries = admitted;
    }
    this.byteTotal = total;
    return refused;
  }

  remove(item: T): boolean {
    const bytes = this.entries.get(item);
    if (bytes === undefined) return false;
    this.byteTotal -= bytes;
    this.entries.delete(item);
    return true;
  }

  /** Empties the queue, returning what waited in order. */
  takeAll(): T[] {
    const items = [...this.entries.keys()];
    this.entries = new Map();
    this.byteTotal = 0;
    return items;
  }
}
