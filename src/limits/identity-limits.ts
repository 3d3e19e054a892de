/** Limits per identity: connections, subscriptions and group memberships per tokenId, request rates per connection and per tokenId
 * (token buckets), and token mints per API key. The broker asks once per connection at `hello` and once per request. Per-tokenId
 * state lives while that tokenId has an open connection, and its bucket after that until it is full
 * again (reconnecting does not refill it). Callers with no connection of their own (gRPC calls) are
 * charged per client address instead, remembered the same way. The remembered buckets are bounded
 * by limits.maxIdleBuckets, oldest forgotten first (a forgotten one starts full: lenient, never
 * stricter). */
import { LimitCause } from '../protocol/index.js';
import type { LimitsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded, type TidingsError } from '../core/errors.js';
import { TokenBucket, giveBackCompact, takeCompact, type BucketRate, type CompactBucket } from './token-bucket.js';

interface TokenIdState { connections: number; subscriptions: number; groups: number; bucket: TokenBucket }

/** Where a connection keeps its own request bucket: two small integers on the connection instead of
 * a TokenBucket object with two unix-ms numbers (~90 B held by every idle connection after its
 * first request; bench/analysis.md, "Connect, memory and history"). Its time base is ms since the
 * IdentityLimits started, so `opsFullAt` stays a small integer (stored in the field itself) for
 * the first 24 days. A new connection starts with 0 taken (full). */
export type RequestRateHolder = CompactBucket;

export class IdentityLimits {
  private readonly byTokenId = new Map<string, TokenIdState>();
  /** Buckets of tokenIds without open connections, of client addresses and of minting API keys; least recently used
   * first (Map order: each use moves an entry to the end). */
  private readonly idle = new Map<string, TokenBucket>();

  /** One rate object shared by every connection's bucket. */
  private readonly connectionRate: BucketRate;
  /** One rate object shared by every API key's minting bucket. */
  private readonly mintRate: BucketRate;
  /** What a connection's `opsFullAt` counts from. */
  private readonly epoch: number;

  constructor(private readonly config: LimitsConfig, private readonly clock: Clock) {
    this.connectionRate = { perSec: config.connectionOpsPerSec, burst: config.connectionOpsBurst };
    this.mintRate = { perSec: config.tokenMintsPerSec, burst: config.tokenMintsBurst };
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
      state = { connections: 0, subscriptions: 0, groups: 0, bucket: rested ?? new TokenBucket({ perSec: this.config.tokenIdOpsPerSec, burst: this.config.tokenIdOpsBurst }, this.clock) };
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

  /** Counts one more topic subscription of a connection of `tokenId` (counted by connect());
   * throws topic_subscriptions_limit_exceeded past limits.maxSubscriptionsPerTokenId. */
  subscribe(tokenId: string | undefined): void {
    const state = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (!state) return;
    if (state.subscriptions >= this.config.maxSubscriptionsPerTokenId) {
      throw limitExceeded(LimitCause.SUBSCRIPTIONS, `connections of tokenId "${tokenId}" may hold at most ${this.config.maxSubscriptionsPerTokenId} subscriptions together`);
    }
    state.subscriptions++;
  }

  /** A subscription counted by subscribe() ended (uncounted with the tokenId's last connection). */
  unsubscribe(tokenId: string | undefined): void {
    const state = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (state && state.subscriptions > 0) state.subscriptions--;
  }

  /** Counts one more moderator group membership of a connection of `tokenId`; throws
   * groups_limit_exceeded past limits.maxGroupsPerTokenId. */
  joinGroup(tokenId: string | undefined): void {
    const state = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (!state) return;
    if (state.groups >= this.config.maxGroupsPerTokenId) {
      throw limitExceeded(LimitCause.GROUPS, `connections of tokenId "${tokenId}" may be members of at most ${this.config.maxGroupsPerTokenId} groups together`);
    }
    state.groups++;
  }

  /** `count` memberships counted by joinGroup() ended. */
  leaveGroups(tokenId: string | undefined, count = 1): void {
    const state = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (state) state.groups = Math.max(0, state.groups - count);
  }

  /** Open connections counted for `tokenId`. */
  connections(tokenId: string): number {
    return this.byTokenId.get(tokenId)?.connections ?? 0;
  }

  /** Takes `ops` requests (one, unless a large request is charged more: limits.requestElementsPerOp)
   * from the connection's (or, given a string, the client address's) and the tokenId's buckets;
   * the refusal when either lacks them (then neither is charged). */
  admitRequest(connection: RequestRateHolder | string, tokenId: string | undefined, ops = 1): TidingsError | undefined {
    let byAddress: TokenBucket | undefined;
    let taken: boolean;
    if (typeof connection === 'string') {
      byAddress = this.takeRemembered(`a:${connection}`, this.connectionRate, ops);
      taken = byAddress !== undefined;
    } else {
      taken = takeCompact(connection, this.connectionRate, this.clock.now() - this.epoch, ops);
    }
    if (!taken) {
      const who = typeof connection === 'string' ? 'calls from this address' : 'this connection';
      return limitExceeded(LimitCause.OPERATIONS_RATE, `${who} may send at most ${this.config.connectionOpsPerSec} requests per second (burst ${this.config.connectionOpsBurst})`);
    }
    const shared = tokenId === undefined ? undefined : this.byTokenId.get(tokenId);
    if (shared && !shared.bucket.take(ops)) {
      // Given back: the tokenId's refusal charges neither bucket.
      if (byAddress) byAddress.giveBack(ops);
      else giveBackCompact(connection as RequestRateHolder, ops);
      return limitExceeded(LimitCause.OPERATIONS_RATE, `connections of tokenId "${tokenId}" may send at most ${this.config.tokenIdOpsPerSec} requests per second together (burst ${this.config.tokenIdOpsBurst})`);
    }
    return undefined;
  }

  /** Takes one token mint from the minting API key's bucket (limits.tokenMints*); the refusal when
   * it is empty. The key is known by its jti, which every credential minted here has (one signed
   * elsewhere without it: by its tokenId). */
  admitMint(apiKey: { jti: string | undefined; tokenId: string | undefined }): TidingsError | undefined {
    const key = apiKey.jti !== undefined ? `m:${apiKey.jti}` : `n:${apiKey.tokenId ?? ''}`;
    if (this.takeRemembered(key, this.mintRate, 1)) return undefined;
    return limitExceeded(LimitCause.OPERATIONS_RATE, `this API key may mint at most ${this.config.tokenMintsPerSec} tokens per second (burst ${this.config.tokenMintsBurst}; limits.tokenMintsPerSec)`);
  }

  /** Takes `n` from the bucket remembered under `key` (a new, full one at `rate` if none is), which
   * moves to the most recently used end (or is kept for the first time, now that it is not full);
   * the bucket when they were there, else undefined. */
  private takeRemembered(key: string, rate: BucketRate, n: number): TokenBucket | undefined {
    const bucket = this.idle.get(key) ?? new TokenBucket(rate, this.clock);
    const taken = bucket.take(n);
    this.idle.delete(key);
    this.remember(key, bucket);
    return taken ? bucket : undefined;
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
