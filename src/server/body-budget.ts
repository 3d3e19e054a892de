/** The server-wide budget of request-body bytes being read or held (server.maxInFlightBodyBytes).
 * Each route bounds one body (server.maxHttpBodyBytes, http.maxStreamPostBytes, ...), but not how
 * many are read at once: without a total, N slow uploads hold N times the per-route limit. One
 * budget per server; each request takes a lease that grows with its body and is released once,
 * however the request ends (answered, refused, aborted). */
import type { HttpRequest } from 'uWebSockets.js';

export class BodyBudget {
  private used = 0;
  private refusals = 0;

  constructor(readonly maxBytes: number) {}

  /** Body bytes reserved by requests in flight. */
  get inFlight(): number { return this.used; }
  /** Bodies refused for want of room since start. */
  get refused(): number { return this.refusals; }

  /** A lease for the request `req` (its Content-Length is read now: uWS forbids touching `req`
   * after the handler returns). */
  lease(req: HttpRequest): BodyLease {
    const header = req.getHeader('content-length');
    // uWS has refused a malformed Content-Length already; anything else reserves by arriving bytes.
    const declared = /^\d{1,15}$/.test(header) ? Number(header) : undefined;
    return new BodyLease(this, declared);
  }

  /** @internal for BodyLease: takes `bytes` when they fit. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) {
      this.refusals++;
      return false;
    }
    this.used += bytes;
    return true;
  }

  /** @internal for BodyLease. */
  give(bytes: number): void { this.used -= bytes; }
}

/** One request's share of the budget. */
export class BodyLease {
  private held = 0;
  private ended = false;

  constructor(private readonly budget: BodyBudget, readonly declaredBytes: number | undefined) {}

  /** Whether the request is over (its bytes were given back): a reader keeps nothing more. */
  get released(): boolean { return this.ended; }

  /** Grows the lease to `total` bytes; false (and the lease unchanged) when the budget lacks room. */
  hold(total: number): boolean {
    if (this.ended) return false;
    if (total <= this.held) return true;
    if (!this.budget.take(total - this.held)) return false;
    this.held = total;
    return true;
  }

  /** Gives the bytes back. Idempotent: every way a request ends may call it. */
  release(): void {
    if (this.ended) return;
    this.ended = true;
    this.budget.give(this.held);
    this.held = 0;
  }
}
