/** Limits per identity: connections per tokenId, and request rates per connection and per tokenId
 * (token buckets). The broker asks once per connection at `hello` and once per request. Per-tokenId
 * state lives while that tokenId has an open connection, and its bucket after that until it is full
 * again (reconnecting does not refill it). Callers with no connection of their own (gRPC calls) are
 * charged per client address instead, remembered the same way. The remembered buckets are bounded
 * by limits.maxIdleBuckets, oldest forgotten first (a forgotten one starts full: lenient, never
 * stricter). */
import { LimitCause } from '../protocol/index.js';
import type { LimitsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded, type TidingsError } from '../core/errors.js';
import { TokenBucket, type BucketRate } from './token-bucket.js';

interface TokenIdState { connections: number; bucket: TokenBucket }

/** Where a connection keeps its own request bucket: two small integers on the connection instead of
 * a TokenBucket object with two unix-ms numbers (~90 B held by every idle connection after its
 * first request; bench/analysis.md, "Connect, memory and history"). The bucket was last full at
 * `opsFullAt` (ms after the IdentityLimits started; a small integer, stored in the field itself,
 * for the first 24 days, a heap number after that) and `opsTaken` requests were taken since,
 * without it filling up again. That is the whole state of a token bucket: tokens now = burst −
 * opsTaken + refill since `opsFullAt`, at most burst. A new connection starts with 0 taken (full). */
export interface RequestRateHolder { opsTaken: number; opsFullAt: number | undefined }

export class IdentityLimits {
  private readonly byTokenId = new Map<string, TokenIdState>();
  /** Buckets of tokenIds without open connections, and of client addresses; least recently used
   * first (Map order: each use moves an entry to the end). */
  private readonly idle = new Map<string, TokenBucket>();

  /** One rate object shared by every connection's bucket. */
  private readonly connectionRate: BucketRate;
  /** What a connection's `opsFullAt` counts from. */
  private readonly epoch: number;

  constructor(private readonly config: LimitsConfig, private readonly clock: Clock) {
    this.connectionRate = { perSec: config.connectionOpsPerSec, burst: config.connectionOpsBurst };
    this.epoch = clock.now();
  }

  /** Counts one more open connection for `tokenId`; throws connections_limit_exceeded past the limit. */
  connect(tokenId: string | undefined): void {
    if (tokenId === undefined) return;
    let state = this.byTokenId.get(tokenId);
    if (state && state.connections >= this.config.maxConnectionsPerTokenId) {
      throw limitExceeded(LimitCause.CONNECTIONS, `at most ${this.config.maxConnectionsPerTokenId} connections may use tokenId "${tokenId}" at once`);
    }
    if (!state) {
      const rested = this.idle.get(`t:${tokenId}`);
      this.idle.delete(`t:${tokenId}`);
      state = { connections: 0, bucket: rested ?? new TokenBucket({ perSec: this.config.tokenIdOpsPerSec, burst: this.config.tokenIdOpsBurst }, this.clock) };
      this.byTokenId.set(tokenId, state);
    }
    state.connections++;
  }

  /** A connection counted by connect() closed. */
  disconnect(tokenId: string | undefined): void {
    if (tokenId === undefined) return;
    const state = this.byTokenId.get(tokenId);
    if (!state) return;
    if (--state.connections <= 0) {
      this.byTokenId.delete(tokenId);
      this.remember(`t:${tokenId}`, state.bucket);
    }
  }

  /** Open connections counted for `tokenId`. */
  connections(tokenId: string): number {
    return this.byTokenId.get(tokenId)?.connections ?? 0;
  }

  /** Takes one request from the connection's (or, given a string, the client address's) and the
   * tokenId's buckets; the refusal when either is empty (then neither is charged). */
  admitRequest(connection: RequestRateHolder | string, tokenId: string | undefined): TidingsError | undefined {
    let byAddress: TokenBucket | undefined;
    let taken: boolean;
    if (typeof connection === 'string') {
      const address = `a:${connection}`;
      byAddress = this.idle.get(address) ?? this.newConnectionBucket();
      taken = byAddress.take();
      // Moved to the most recently used end (or kept for the first time, now that it is not full).
      this.idle.delete(address);
      this.remember(address, byAddress);
    } else {
      taken = this.takeOwn(connection);
    }
    if (!taken) {
      const who = typeof connection === 'string' ? 'calls from this address' : 'this connection';
      return limitExceeded(LimitCause.OPERATIONS_RATE, `${who} may send at most ${this.config.connectionOpsPerSec} requests per second (burst ${this.config.connectionOpsBurst})`);
    }
    const shared = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (shared && !shared.bucket.take()) {
      // Given back: the tokenId's refusal charges neither bucket.
      if (byAddress) byAddress.giveBack();
      else (connection as RequestRateHolder).opsTaken--;
      return limitExceeded(LimitCause.OPERATIONS_RATE, `connections of tokenId "${tokenId}" may send at most ${this.config.tokenIdOpsPerSec} requests per second together (burst ${this.config.tokenIdOpsBurst})`);
    }
    return undefined;
  }

  /** TokenBucket.take() on a connection's bucket as RequestRateHolder keeps it. */
  private takeOwn(holder: RequestRateHolder): boolean {
    const { burst, perSec } = this.connectionRate;
    const now = this.clock.now() - this.epoch;
    let taken = holder.opsTaken;
    if (taken > 0) {
      const elapsed = now - holder.opsFullAt!;
      // Refilled what was taken: full again, the same as a new bucket. A clock stepping back past
      // the last full time also starts full (TokenBucket refills nothing then; this state cannot
      // tell how much had refilled before the step, and never draining is the safe side).
      if (elapsed < 0 || (elapsed * perSec) / 1000 >= taken) taken = 0;
      else if (burst - taken + (elapsed * perSec) / 1000 < 1) return false;
    }
    if (taken === 0) {
      if (burst < 1) return false;
      holder.opsFullAt = now;
    }
    holder.opsTaken = taken + 1;
    return true;
  }

  private newConnectionBucket(): TokenBucket {
    return new TokenBucket(this.connectionRate, this.clock);
  }

  /** Keeps a bucket that is not full (a full one is what a new bucket would be), forgetting from
   * the least recently used end the ones that filled up meanwhile and any past the bound. */
  private remember(key: string, bucket: TokenBucket): void {
    if (!bucket.full()) this.idle.set(key, bucket);
    for (const [oldest, b] of this.idle) {
      if (this.idle.size <= this.config.maxIdleBuckets && !b.full()) break;
      this.idle.delete(oldest);
    }
  }

  /** Buckets remembered past their connection (for tests and metrics). */
  get idleBuckets(): number {
    return this.idle.size;
  }
}
