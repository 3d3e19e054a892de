/** A long-lived streaming HTTP response (SSE) over uWS with a bounded send buffer, the HTTP
 * counterpart of a WebSocket's backpressure: what the socket does not take is queued here, the
 * queue is flushed when uWS reports the socket writable, and a write that would push the buffer
 * past `limit` is refused so the caller can apply the slow-consumer policy (close; the client
 * resumes from the window). */
import type { HttpResponse } from 'uWebSockets.js';

export class ResponseStream {
  private queue: string[] = [];
  /** end() was called on a congested stream: what is queued still goes out, then the response ends. */
  private ending: NodeJS.Timeout | undefined;
  private queuedBytes = 0;
  /** Size of the last write uWS did not take at once: it holds (at most) that much itself. */
  private heldByUws = 0;
  private congested = false;
  private ended = false;
  /** The response is no longer ours to touch: ended, closed, aborted or replaced. */
  private done = false;
  /** The status line is out: writes are body from now on. */
  private begun = false;
  /** Runs once, when the stream ends whichever way (aborted, ended, replaced). */
  onEnded: (() => void) | undefined;

  /** `onDrain` runs once a congested stream has flushed; `onAborted` when the client went away;
   * `graceMs` is how long end() waits for a congested socket to take what is still queued. */
  constructor(private readonly res: HttpResponse, private readonly limit: number, onDrain: () => void, onAborted: () => void, private readonly graceMs = 0) {
    res.onAborted(() => {
      this.ended = true;
      this.done = true;
      this.stopEnding();
      this.queue = [];
      this.fireEnded();
      onAborted();
    });
    res.onWritable(() => {
      if (!this.begun || this.done) return true;
      // With a writable handler registered, uWS sends what it holds only when written to: a
      // handler that wrote nothing would leave the tail of the stream in uWS's buffer until the
      // next event (or heartbeat). A comment line (every SSE parser skips it; it joins the next
      // event's block) flushes that first; the queue follows only once uWS holds nothing, so
      // uWS never holds more than one refused write (heldByUws stays an upper bound).
      if (!this.res.write(':\n')) {
        this.congested = true;
        this.heldByUws += 2;
        return true;
      }
      this.heldByUws = 0;
      if (!this.congested) return true;
      const batch = this.queue.join('');
      const bytes = this.queuedBytes;
      this.queue = [];
      this.queuedBytes = 0;
      const ok = batch === '' || this.res.write(batch);
      if (!ok) this.heldByUws = bytes;
      else if (this.ending) this.finishEnding();
      else {
        this.congested = false;
        onDrain();
      }
      return true;
    });
  }

  get open(): boolean { return !this.ended; }

  /** Status, headers and the first text, in one corked write (so the client sees the stream open). */
  begin(headers: Record<string, string>, first: string): void {
    if (this.ended) return;
    this.begun = true;
    this.res.cork(() => {
      this.res.writeStatus('200 OK');
      for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
    });
    this.write(first);
  }

  /** Queues `text`. False when the stream is closed or its buffer would pass the limit (nothing
   * is queued then). */
  write(text: string): boolean {
    if (this.ended) return false;
    const bytes = Buffer.byteLength(text);
    if (this.congested) {
      if (this.queuedBytes + this.heldByUws + bytes > this.limit) return false;
      this.queue.push(text);
      this.queuedBytes += bytes;
      return true;
    }
    let ok = false;
    this.res.cork(() => { ok = this.res.write(text); });
    if (!ok) {
      this.congested = true;
      this.heldByUws = bytes;
    }
    return true;
  }

  /** Bytes written but not yet taken by the socket (an upper bound). */
  bufferedAmount(): number {
    return this.congested ? this.queuedBytes + this.heldByUws : 0;
  }

  /** Answers with something else instead (an error before the stream began), once. */
  replaceWith(reply: () => void): void {
    if (this.ended) return;
    this.ended = true;
    this.done = true;
    this.queue = [];
    this.fireEnded();
    reply();
  }

  private fireEnded(): void {
    const onEnded = this.onEnded;
    this.onEnded = undefined;
    onEnded?.();
  }

  /** Ends the response. A stream that is not congested ends at once. A congested one keeps what is
   * queued (its last events: a `bye`, the fallback stream's `close`), sends it as the socket takes
   * it and then ends; a socket that has not taken it all within `graceMs` is closed (its reader
   * resumes from its last event id). `onEnded` runs once the socket is done, so whatever counts the
   * stream (a connection slot) holds it until then. Nothing more can be written from now on. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.congested || this.graceMs <= 0) return this.close();
    this.ending = setTimeout(() => {
      this.ending = undefined;
      this.close();
    }, this.graceMs);
    // A closing server closes the socket itself (onAborted clears this): no reason to wait for it.
    this.ending.unref();
  }

  /** Ends the response at once: the JS queue is dropped, and a congested socket is closed (a
   * stream past its send-buffer limit, whose reader is not reading). */
  close(): void {
    if (this.done) return;
    this.ended = true;
    this.done = true;
    this.stopEnding();
    this.queue = [];
    this.queuedBytes = 0;
    this.fireEnded();
    // A congested socket is not reading. Ended gracefully, its response would stay open with what
    // uWS holds for it (up to the hard limit) for as long as the peer keeps the socket without
    // reading (uWS sets no timeout on it), counted by no connection limit: close it instead.
    if (this.congested) this.res.close();
    else this.res.cork(() => this.res.end());
  }

  /** The queue went out behind the last write uWS held: end the response normally. */
  private finishEnding(): void {
    this.done = true;
    this.stopEnding();
    this.congested = false;
    this.fireEnded();
    this.res.end();
  }

  private stopEnding(): void {
    clearTimeout(this.ending);
    this.ending = undefined;
  }
}
