/** Frames sent to WebSockets outside uWS callbacks, held for one microtask (queued by the first of
 * them) and then written corked: one syscall per connection instead of one per frame. Continuations
 * settled together (the publishes of one Redis reply) run before that microtask, so their replies
 * share the write.
 *
 * Inside a uWS callback (open, message, drain, close) uWS corks the socket itself, so a burst of
 * replies leaves in one write. Outside one (after a Redis reply, a token check, a timer) every send
 * was its own syscall: a batch of 16 publishes acked from one Redis reply cost 16 `sendto`s on the
 * publisher's connection. Held frames are copies (a frame may be a view into a shared encoder
 * buffer), and a connection's held frames always leave before anything else is written to it: its
 * later sends join them, and attaching, detaching or closing releases them first. A connection
 * holds at most HELD_BYTES_MAX: past that its frames are written at once, so what the send buffer
 * reports (bufferedAmount, which paces replays: engine/catch-up.ts) is never off by more. */
export interface HeldSocket {
  /** Writes `frames` in order, corked. */
  writeHeld(frames: readonly Uint8Array[]): void;
}

/** uWS's cork buffer: held frames beyond it would not share one write anyway. */
export const HELD_BYTES_MAX = 16 * 1024;

interface Held { frames: Uint8Array[]; bytes: number }

export class WsOutbox {
  /** Depth of uWS callbacks on the stack (a callback may run inside another, e.g. close in end()). */
  private depth = 0;
  private readonly held = new Map<HeldSocket, Held>();
  private scheduled = false;

  /** A uWS callback starts: sends made until `leave` go straight to the (corked) socket. */
  enter(): void { this.depth++; }
  leave(): void { this.depth--; }

  /** Runs `fn` as a uWS callback (enter, leave). */
  inCallback<R>(fn: () => R): R {
    this.enter();
    try {
      return fn();
    } finally {
      this.leave();
    }
  }

  /** Whether `socket` may write `frame` now; else a copy is held and written by the next release. */
  sendsNow(socket: HeldSocket, frame: Uint8Array): boolean {
    if (this.depth > 0 && (this.held.size === 0 || !this.held.has(socket))) return true;
    let held = this.held.get(socket);
    if (!held) {
      held = { frames: [], bytes: 0 };
      this.held.set(socket, held);
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(this.releaseAll);
      }
    }
    held.frames.push(new Uint8Array(frame));
    held.bytes += frame.byteLength;
    if (held.bytes >= HELD_BYTES_MAX) this.release(socket);
    return false;
  }

  /** Writes what `socket` holds now (before it attaches, detaches or closes). */
  release(socket: HeldSocket): void {
    const held = this.held.get(socket);
    if (!held) return;
    this.held.delete(socket);
    socket.writeHeld(held.frames);
  }

  /** Forgets what a closed socket holds. */
  drop(socket: HeldSocket): void {
    this.held.delete(socket);
  }

  private readonly releaseAll = (): void => {
    this.scheduled = false;
    for (const socket of this.held.keys()) this.release(socket);
  };
}
