/** A token bucket: `burst` tokens at most, refilled at `perSec` per second, read off an injected
 * clock (tests move time by hand). Refill is computed lazily on take(), so an idle bucket costs no
 * timer and no work. */
import type { Clock } from '../core/clock.js';

export interface BucketRate {
  /** Tokens added per second. */
  perSec: number;
  /** Tokens held at most (and at start). */
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: BucketRate, private readonly clock: Clock) {
    this.tokens = rate.burst;
    this.last = clock.now();
  }

  /** Takes `n` tokens if they are there; false (and nothing taken) otherwise. */
  take(n = 1): boolean {
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Gives back tokens taken by a request another limit then refused. */
  giveBack(n = 1): void {
    this.tokens = Math.min(this.rate.burst, this.tokens + n);
  }

  /** Whether it holds `burst` tokens again: forgetting it then changes nothing. */
  full(): boolean {
    return this.available() >= this.rate.burst;
  }

  /** Tokens available now (for tests and metrics). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock stepping backwards refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.rate.burst, this.tokens + (elapsed * this.rate.perSec) / 1000);
  }
}

/** A token bucket kept as two small integers on its owner instead of an object (a connection's
 * request bucket: held for life by every idle connection). It was last full at `opsFullAt` (ms on
 * the caller's time base) and `opsTaken` tokens were taken since without it filling up again:
 * tokens now = burst − opsTaken + refill since `opsFullAt`, at most burst. `opsTaken` 0 = full. */
export interface CompactBucket { opsTaken: number; opsFullAt: number | undefined }

/** TokenBucket.take(n) on a CompactBucket at time `now`. */
export function takeCompact(bucket: CompactBucket, rate: BucketRate, now: number, n = 1): boolean {
  let taken = bucket.opsTaken;
  if (taken > 0) {
    const elapsed = now - bucket.opsFullAt!;
    // Refilled what was taken: full again, the same as a new bucket. A clock stepping back past
    // the last full time also starts full (TokenBucket refills nothing then; this state cannot
    // tell how much had refilled before the step, and never draining is the safe side).
    if (elapsed < 0 || (elapsed * rate.perSec) / 1000 >= taken) taken = 0;
    else if (rate.burst - taken + (elapsed * rate.perSec) / 1000 < n) return false;
  }
  if (taken === 0) {
    if (rate.burst < n) return false;
    bucket.opsFullAt = now;
  }
  bucket.opsTaken = taken + n;
  return true;
}

/** TokenBucket.giveBack(n) on a CompactBucket that just took them. */
export function giveBackCompact(bucket: CompactBucket, n = 1): void {
  bucket.opsTaken -= n;
}
