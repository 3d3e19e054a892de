/** One live topic: its sequence position and the window of recent encoded item frames that lets a
 * subscriber resume from (page, seq). */
import { Fifo } from '../lib/fifo.js';
import type { IdleTopics } from './idle-topics.js';

export interface WindowEntry { seq: number; frame: Uint8Array }

/** Memory a window entry holds beyond its frame bytes: the entry object, the frame's own
 * Uint8Array + ArrayBuffer, its slot here and its record in the registry's budget queue (measured
 * on Node 20 x64: ~310 B). Counted so topics.windowBytes / windowTotalBytes bound memory, not
 * payload: with small items the overhead is ten times the frame. */
export const WINDOW_ENTRY_OVERHEAD = 320;

/** Bytes a window entry is accounted for. */
export function entryCost(entry: WindowEntry): number {
  return entry.frame.byteLength + WINDOW_ENTRY_OVERHEAD;
}

/** A slice of the window after some position: an optional gap notice, then frames in order. */
export interface WindowRead {
  /** Items between lastSeq and newSeq are no longer held (or were in another page). */
  gap?: { lastSeq: number; newSeq: number };
  frames: Uint8Array[];
  /** Position of the last frame returned (or where the reader stands when none were). */
  next: { page: number; seq: number };
  /** True when `frames` reach the topic's newest item. */
  caughtUp: boolean;
}

export class Topic {
  /** Sequence number of the newest item; 0 before the first publish. */
  seq = 0;
  subscribers = 0;
  windowBytes = 0;
  readonly window = new Fifo<WindowEntry>();

  /** `idle`: the registry's list of subscriber-less topics this one joins and leaves as its
   * subscribers come and go (none: the registry never drops topics to make room). */
  constructor(readonly key: string, readonly cache: string, readonly name: string, readonly page: number, public lastActive: number,
    private readonly idle?: IdleTopics) {}

  /** One more subscriber (neither the idle sweep nor a full registry drops a topic with
   * subscribers); where it stands now. */
  attach(now: number): { page: number; seq: number } {
    if (this.subscribers++ === 0) this.idle?.remove(this);
    this.lastActive = now;
    return { page: this.page, seq: this.seq };
  }

  /** One subscriber fewer; the idle time counts from the last one leaving. */
  detach(now: number): void {
    if (this.subscribers === 0) return;
    this.subscribers--;
    this.lastActive = now;
    if (this.subscribers === 0) this.idle?.touch(this);
  }

  /** Appends an item frame, dropping the oldest entries past the per-topic bounds (always keeping the new one). */
  append(entry: WindowEntry, maxItems: number, maxBytes: number): void {
    this.window.push(entry);
    this.windowBytes += entryCost(entry);
    while (this.window.length > maxItems || (this.windowBytes > maxBytes && this.window.length > 1)) this.dropOldest();
  }

  /** Drops the oldest window entry if it is `seq` (used by the global byte budget). */
  dropIfOldest(seq: number): number {
    const head = this.window.peek();
    if (!head || head.seq !== seq) return 0;
    return this.dropOldest();
  }

  private dropOldest(): number {
    const entry = this.window.shift();
    if (!entry) return 0;
    const cost = entryCost(entry);
    this.windowBytes -= cost;
    return cost;
  }

  /** Items after `after`, at most `maxBytes` of them (but always at least one when any is due).
   * Window seqs are contiguous, so the start is found by index, not by scanning. */
  readAfter(after: { page: number; seq: number }, maxBytes: number): WindowRead {
    const oldest = this.window.peek()?.seq ?? this.seq + 1;
    let from = after.seq + 1;
    let gap: WindowRead['gap'];
    if (after.page !== this.page || after.seq > this.seq) {
      // Another page (the topic was reset, or the reader never saw one), or a position from the future.
      gap = { lastSeq: after.seq, newSeq: oldest };
      from = oldest;
    } else if (oldest > from) {
      gap = { lastSeq: after.seq, newSeq: oldest };
      from = oldest;
    }
    const frames: Uint8Array[] = [];
    let bytes = 0;
    let last = from - 1;
    for (let i = from - oldest; ; i++) {
      const entry = this.window.at(i);
      if (!entry || (frames.length > 0 && bytes + entry.frame.byteLength > maxBytes)) break;
      frames.push(entry.frame);
      bytes += entry.frame.byteLength;
      last = entry.seq;
    }
    const read: WindowRead = { frames, next: { page: this.page, seq: last }, caughtUp: last >= this.seq };
    if (gap) read.gap = gap;
    return read;
  }
}
