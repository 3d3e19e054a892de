/** Limits per identity: connections per tokenId, and request rates per connection and per tokenId
 * (token buckets). The broker asks once per connection at `hello` and once per request. Per-tokenId
 * state lives only while that tokenId has an open connection, so it is bounded by connections. */
import { LimitCause } from '../protocol/index.js';
import type { LimitsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded, type TidingsError } from '../core/errors.js';
import { TokenBucket } from './token-bucket.js';

interface TokenIdState { connections: number; bucket: TokenBucket }

export class IdentityLimits {
  private readonly byTokenId = new Map<string, TokenIdState>();
  /** Keyed by the connection object itself, so a closed connection's bucket goes with it. */
  private readonly byConnection = new WeakMap<object, TokenBucket>();

  constructor(private readonly config: LimitsConfig, private readonly clock: Clock) {}

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
  admitRequest(connection: object, tokenId: string | undefined): TidingsError | undefined {
    let own = this.byConnection.get(connection);
    if (!own) {
      own = new TokenBucket({ perSec: this.config.connectionOpsPerSec, burst: this.config.connectionOpsBurst }, this.clock);
      this.byConnection.set(connection, own);
    }
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
