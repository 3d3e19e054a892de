/** Native (uWS) fan-out that coalesces every frame published to a key within one event-loop
 * iteration (docs/protocol.md, "Batches").
 *
 * A frame published to a key is held until the end of the current iteration (setImmediate, which
 * runs once the iteration's reads are handled): then everything held for the key goes out
 * together: one `batch` frame to the connections that negotiated batches in `hello`, and each frame
 * on its own to older ones. One frame alone goes out as itself. So a burst read in one wake-up costs
 * one message and one send per subscriber (what bare uWS does for its own publishes of one
 * iteration), and a frame on an idle key waits only for the rest of the iteration. Sending the
 * first frame at once instead cost a second send per subscriber for every burst. With
 * `server.batchDelayMs` > 0, a key that had frames in the previous iteration too (it is under load)
 * keeps them until that deadline instead, so more of them share one message. Held frames are also
 * flushed before any connection attaches to or detaches from the key, so a subscriber never gets a
 * frame twice (window replay + live) or loses one (detached for catch-up): order and (page, seq)
 * semantics are exactly those of one frame per message. Only the uWS path batches; the JS fan-out
 * (SSE, long-poll, gRPC) sends at once. */
import type { ServerConfig } from '../core/config.js';
import type { Clock, TimerHandle } from '../core/clock.js';

/** Prefix of the native key that batch-capable connections attach to instead of the key itself.
 * U+0002 cannot start a topic key (a cache name), nor the heartbeat or presence keys. */
const BATCH_PREFIX = '\u0002';

export function batchKey(key: string): string {
  return BATCH_PREFIX + key;
}

/** msgpack bytes of the batch tag, the string "b". */
const TAG = [0xa1, 0x62];

/** `["b", frame1, frame2, ...]` as msgpack: an array header, the tag, then the already encoded
 * frames as they are (each is one msgpack value), so nothing is decoded or re-encoded. */
export function encodeBatch(frames: readonly Uint8Array[], bytes: number): Uint8Array {
  const count = frames.length + 1;
  const header = count < 16 ? 1 : 3;
  const out = new Uint8Array(header + TAG.length + bytes);
  if (header === 1) out[0] = 0x90 | count;
  else { out[0] = 0xdc; out[1] = count >> 8; out[2] = count & 0xff; }
  out.set(TAG, header);
  let at = header + TAG.length;
  for (const f of frames) { out.set(f, at); at += f.byteLength; }
  return out;
}

type BatchConfig = Pick<ServerConfig, 'batchDelayMs' | 'batchMaxItems' | 'batchMaxBytes'>;

/** A key with a flush window open: the frames held for it, in publish order. `busy`: frames went
 * out at the end of the previous iteration too (the key is under load). */
interface Window { held: Uint8Array[]; bytes: number; waiting: boolean; busy: boolean }

export class NativeBatching {
  private readonly open = new Map<string, Window>();
  private turnScheduled = false;
  private deadline: TimerHandle | undefined;
  /** Batch frames sent and the items they carried (metrics, tests). */
  readonly stats = { batches: 0, batchedItems: 0 };

  /** `publish` is uWS app.publish(key, frame, binary). `nextTurn` runs a callback at the end of
   * the event-loop iteration (setImmediate; tests pass their own to step it by hand). */
  constructor(
    private readonly publish: (key: string, frame: Uint8Array) => void,
    private readonly config: BatchConfig,
    private readonly clock: Clock,
    private readonly nextTurn: (fn: () => void) => void = (fn) => { setImmediate(fn); },
  ) {}

  /** Fans `frame` out on `key` with whatever else the key gets in this iteration. */
  send(key: string, frame: Uint8Array): void {
    if (this.config.batchMaxItems <= 1) { this.publishOne(key, frame); return; }
    let w = this.open.get(key);
    if (w === undefined) {
      w = { held: [], bytes: 0, waiting: false, busy: false };
      this.open.set(key, w);
      this.scheduleTurn();
    }
    w.held.push(frame);
    w.bytes += frame.byteLength;
    if (w.held.length >= this.config.batchMaxItems || w.bytes >= this.config.batchMaxBytes) this.release(key, w);
  }

  /** Sends what is held for `key` now (a connection is about to attach to or detach from it). */
  flush(key: string): void {
    const w = this.open.get(key);
    if (w && w.held.length > 0) this.release(key, w);
  }

  /** Sends everything held (shutdown). */
  flushAll(): void {
    for (const [key, w] of this.open) if (w.held.length > 0) this.release(key, w);
  }

  private publishOne(key: string, frame: Uint8Array): void {
    this.publish(key, frame);
    this.publish(batchKey(key), frame);
  }

  private release(key: string, w: Window): void {
    const { held } = w;
    if (held.length === 1) this.publishOne(key, held[0]!);
    else {
      for (const f of held) this.publish(key, f);
      this.publish(batchKey(key), encodeBatch(held, w.bytes));
      this.stats.batches++;
      this.stats.batchedItems += held.length;
    }
    w.held = [];
    w.bytes = 0;
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    this.nextTurn(this.endOfTurn);
  }

  /** End of the iteration: idle windows close; held frames go out, or, with a delay configured and
   * the key under load, wait for the deadline. With a delay, windows that sent stay open one more
   * turn (a frame in it means the key is busy); without one, they close. */
  private readonly endOfTurn = (): void => {
    this.turnScheduled = false;
    const delay = this.config.batchDelayMs;
    let again = false;
    for (const [key, w] of this.open) {
      if (w.waiting) continue; // the deadline sends it
      if (w.held.length === 0) { this.open.delete(key); continue; }
      if (delay > 0 && w.busy) { w.waiting = true; this.armDeadline(delay); continue; }
      this.release(key, w);
      // Only a delay asks whether the key is busy. Without one the window closes now: keeping it
      // open one more turn cost every node a second event-loop iteration per message.
      if (delay > 0) { w.busy = true; again = true; } else this.open.delete(key);
    }
    // Not while only deadlines are pending: a queued setImmediate makes the loop poll without
    // blocking, which would spin until the deadline.
    if (again) this.scheduleTurn();
  };

  private armDeadline(delay: number): void {
    if (this.deadline !== undefined) return;
    this.deadline = this.clock.setTimeout(this.onDeadline, delay);
  }

  private readonly onDeadline = (): void => {
    this.deadline = undefined;
    for (const [key, w] of this.open) {
      if (!w.waiting) continue;
      w.waiting = false;
      if (w.held.length > 0) this.release(key, w);
    }
    // The windows stay open one more turn; one that gets nothing by then closes.
    this.scheduleTurn();
  };
}
