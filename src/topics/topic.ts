/** One live topic: its sequence position and the window of recent encoded item frames that lets a
 * subscriber resume from (page, seq). */
import { Fifo } from './fifo.js';

export interface WindowEntry { seq: number; frame: Uint8Array }

/** What a resuming subscriber must receive before live items: an optional discontinuity, then frames. */
export interface Replay { gap?: { lastSeq: number; newSeq: number }; frames: Uint8Array[] }

export class Topic {
  /** Sequence number of the newest item; 0 before the first publish. */
  seq = 0;
  subscribers = 0;
  windowBytes = 0;
  readonly window = new Fifo<WindowEntry>();

  constructor(readonly key: string, readonly cache: string, readonly name: string, readonly page: number, public lastActive: number) {}

  /** Appends an item frame; returns the entries dropped to respect the per-topic bounds. */
  append(entry: WindowEntry, maxItems: number, maxBytes: number): void {
    this.window.push(entry);
    this.windowBytes += entry.frame.byteLength;
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
    this.windowBytes -= entry.frame.byteLength;
    return entry.frame.byteLength;
  }

  /** Items a subscriber that holds (page, seq) has missed; `after` undefined = live only. */
  replayAfter(after: { page: number; seq: number } | undefined): Replay {
    if (after === undefined) return { frames: [] };
    const oldest = this.window.peek()?.seq ?? this.seq + 1;
    if (after.page === this.page && after.seq <= this.seq) {
      if (after.seq >= this.seq) return { frames: [] };
      const from = after.seq + 1;
      const frames = this.framesFrom(Math.max(from, oldest));
      return oldest > from ? { gap: { lastSeq: after.seq, newSeq: oldest }, frames } : { frames };
    }
    // Another page (topic was reset, or the client never saw one), or a position from the future.
    return { gap: { lastSeq: after.seq, newSeq: oldest }, frames: this.framesFrom(oldest) };
  }

  private framesFrom(seq: number): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (const entry of this.window) if (entry.seq >= seq) frames.push(entry.frame);
    return frames;
  }
}
