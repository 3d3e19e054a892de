/** Limits per identity: connections per tokenId, and request rates per connection and per tokenId
 * (token buckets). The broker asks once per connection at `hello` and once per request. Per-tokenId
 * state lives only while that tokenId has an open connection, so it is bounded by connections. */
import { LimitCause } from '../protocol/index.js';
import type { LimitsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded, type TidingsError } from '../core/errors.js';
import { TokenBucket, type BucketRate } from './token-bucket.js';

interface TokenIdState { connections: number; bucket: TokenBucket }

/** Where a connection keeps its own request bucket (created on its first request). A field on the
 * connection rather than a WeakMap entry: cheaper per idle connection, and it goes with it. */
export interface RequestRateHolder { opsBucket: TokenBucket | undefined }

export class IdentityLimits {
  private readonly byTokenId = new Map<string, TokenIdState>();

  /** One rate object shared by every connection's bucket. */
  private readonly connectionRate: BucketRate;

  constructor(private readonly config: LimitsConfig, private readonly clock: Clock) {
    this.connectionRate = { perSec: config.connectionOpsPerSec, burst: config.connectionOpsBurst };
  }

  /** Counts one more open connection for `tokenId`; throws connections_limit_exceeded past the limit. */
  connect(tokenId: string | undefined): void {
    if (tokenId === undefined) return;
    let state = this.byTokenId.get(tokenId);
    if (state && state.connections >= this.config.maxConnectionsPerTokenId) {
      throw limitExceeded(LimitCause.CONNECTIONS, `at most ${this.config.maxConnectionsPerTokenId} connections may use tokenId "${tokenId}" at once`);
    }
    if (!state) {
      state = { connections: 0, bucket: new TokenBucket({ perSec: this.config.tokenIdOpsPerSec, burst: this.config.tokenIdOpsBurst }, this.clock) };
      this.byTokenId.set(tokenId, state);
    }
    state.connections++;
  }

  /** A connection counted by connect() closed. */
  disconnect(tokenId: string | undefined): void {
    if (tokenId === undefined) return;
    const state = this.byTokenId.get(tokenId);
    if (!state) return;
    if (--state.connections <= 0) this.byTokenId.delete(tokenId);
  }

  /** Open connections counted for `tokenId`. */
  connections(tokenId: string): number {
    return this.byTokenId.get(tokenId)?.connections ?? 0;
  }

  /** Takes one request from the connection's and the tokenId's buckets; the refusal when either
   * is empty (then neither is charged). */
  admitRequest(connection: RequestRateHolder, tokenId: string | undefined): TidingsError | undefined {
    const own = (connection.opsBucket ??= new TokenBucket(this.connectionRate, this.clock));
    if (!own.take()) {
      return limitExceeded(LimitCause.OPERATIONS_RATE, `this connection may send at most ${this.config.connectionOpsPerSec} requests per second (burst ${this.config.connectionOpsBurst})`);
    }
    const shared = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (shared && !shared.bucket.take()) {
      own.giveBack();
      return limitExceeded(LimitCause.OPERATIONS_RATE, `connections of tokenId "${tokenId}" may send at most ${this.config.tokenIdOpsPerSec} requests per second together (burst ${this.config.tokenIdOpsBurst})`);
    }
    return undefined;
  }
}
