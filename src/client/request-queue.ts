/** The requests waiting for the connection, bounded by count and by encoded bytes: the one place
 * that knows both totals, so no path (a new request, a write re-queued after a cut link) can
 * grow the queue past either bound. */

export interface QueueBounds {
  maxRequests: number;
  maxBytes: number;
}

/** Why an entry does not fit: which bound it would pass, for the caller's error message. */
export type QueueRefusal = { bound: 'requests' | 'bytes'; requests: number; bytes: number };

export class RequestQueue<T> {
  private entries: Array<{ item: T; bytes: number }> = [];
  private byteTotal = 0;

  constructor(private readonly bounds: QueueBounds) {}

  get length(): number { return this.entries.length; }
  get bytes(): number { return this.byteTotal; }

  /** Undefined when an entry of `bytes` fits behind what waits now; else the bound it would pass. */
  refusal(bytes: number): QueueRefusal | undefined {
    const at = { requests: this.entries.length, bytes: this.byteTotal };
    if (this.entries.length + 1 > this.bounds.maxRequests) return { bound: 'requests', ...at };
    if (this.byteTotal + bytes > this.bounds.maxBytes) return { bound: 'bytes', ...at };
    return undefined;
  }

  /** Appends; the caller checked refusal() first. */
  push(item: T, bytes: number): void {
    this.entries.push({ item, bytes });
    this.byteTotal += bytes;
  }

  /** Puts `items` ahead of what waits, in their order, as far as both bounds allow (counting what
   * already waits): returns the ones that did not fit, for the caller to fail. Older entries go
   * first, so when some must be refused it is the newest. */
  prependFitting(items: ReadonlyArray<{ item: T; bytes: number }>): T[] {
    const admitted: Array<{ item: T; bytes: number }> = [];
    const refused: T[] = [];
    let count = this.entries.length;
    let total = this.byteTotal;
    for (const entry of items) {
      if (refused.length === 0 && count + 1 <= this.bounds.maxRequests && total + entry.bytes <= this.bounds.maxBytes) {
        admitted.push(entry);
        count++;
        total += entry.bytes;
      } else refused.push(entry.item); // once one is refused, later ones too: order is kept
    }
    this.entries = [...admitted, ...this.entries];
    this.byteTotal = total;
    return refused;
  }

  remove(item: T): boolean {
    const i = this.entries.findIndex((e) => e.item === item);
    if (i < 0) return false;
    this.byteTotal -= this.entries[i]!.bytes;
    this.entries.splice(i, 1);
    return true;
  }

  /** Empties the queue, returning what waited in order. */
  takeAll(): T[] {
    const items = this.entries.map((e) => e.item);
    this.entries = [];
    this.byteTotal = 0;
    return items;
  }
}
