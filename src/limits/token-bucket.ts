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
