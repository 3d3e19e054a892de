/** The server-wide budget of request-body bytes being read or held (server.maxInFlightBodyBytes),
 * and each client address's share of it (server.maxInFlightBodyBytesPerIp). Each route bounds one
 * body (server.maxHttpBodyBytes, http.maxStreamPostBytes, ...), but not how many are read at once:
 * without a total, N slow uploads hold N times the per-route limit; without a share per address,
 * a few slow uploads from one address to a route that reads before any credential (gRPC-web's
 * GenerateDisposableToken, whose credential is in the body) hold the whole total, and every other
 * client's body gets 503. One budget per server; each request takes a lease that grows with its
 * body and is released once, however the request ends (answered, refused, aborted). An address's
 * entry leaves with its last byte. */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { requestAddress } from './admission.js';

/** Which bound a body found no room under. */
export type BudgetRefusal = 'server' | 'address';

export class BodyBudget {
  private used = 0;
  private refusals = 0;
  private readonly usedByAddress = new Map<string, number>();

  constructor(readonly maxBytes: number, readonly maxBytesPerAddress: number, private readonly trustedProxyHeader: string) {}

  /** Body bytes reserved by requests in flight. */
  get inFlight(): number { return this.used; }
  /** Body bytes reserved by requests in flight from the client address `address`. */
  inFlightFrom(address: string): number { return this.usedByAddress.get(address) ?? 0; }
  /** Client addresses with body bytes in flight (an address's entry leaves with its last byte). */
  get addresses(): number { return this.usedByAddress.size; }
  /** Bodies refused for want of room since start (either bound). */
  get refused(): number { return this.refusals; }

  /** A lease for the request `req` (its Content-Length and client address are read now: uWS
   * forbids touching `req` after the handler returns). */
  lease(res: HttpResponse, req: HttpRequest): BodyLease {
    const header = req.getHeader('content-length');
    // uWS has refused a malformed Content-Length already; anything else reserves by arriving bytes.
    const declared = /^\d{1,15}$/.test(header) ? Number(header) : undefined;
    return new BodyLease(this, requestAddress(res, req, this.trustedProxyHeader), declared);
  }

  /** @internal for BodyLease: takes `bytes` for `address` when they fit under both bounds. */
  take(address: string, bytes: number): BudgetRefusal | undefined {
    const refusal = this.used + bytes > this.maxBytes ? 'server'
      : this.inFlightFrom(address) + bytes > this.maxBytesPerAddress ? 'address' : undefined;
    if (refusal) {
      this.refusals++;
      return refusal;
    }
    this.used += bytes;
    this.usedByAddress.set(address, this.inFlightFrom(address) + bytes);
    return undefined;
  }

  /** @internal for BodyLease. */
  give(address: string, bytes: number): void {
    this.used -= bytes;
    const left = this.inFlightFrom(address) - bytes;
    if (left <= 0) this.usedByAddress.delete(address);
    else this.usedByAddress.set(address, left);
  }
}

/** One request's share of the budget. */
export class BodyLease {
  private held = 0;
  private ended = false;
  /** The bound the last refused hold() found no room under. */
  refusal: BudgetRefusal | undefined;

  constructor(private readonly budget: BodyBudget, readonly address: string, readonly declaredBytes: number | undefined) {}

  /** Whether the request is over (its bytes were given back): a reader keeps nothing more. */
  get released(): boolean { return this.ended; }

  /** Grows the lease to `total` bytes; false (and the lease unchanged, `refusal` set) when the
   * budget or this address's share lacks room. */
  hold(total: number): boolean {
    if (this.ended) return false;
    if (total <= this.held) return true;
    this.refusal = this.budget.take(this.address, total - this.held);
    if (this.refusal) return false;
    this.held = total;
    return true;
  }

  /** Gives the bytes back. Idempotent: every way a request ends may call it. */
  release(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.held > 0) this.budget.give(this.address, this.held);
  }
}
