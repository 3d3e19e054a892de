/** Idempotent writes: a publish, pubAppend or list write may carry a client-chosen
 * `idempotencyKey`; the first result is remembered for a bounded window, and a repeat (a retry after
 * a cut link) gets that result instead of being applied again. So a write whose reply was lost is
 * never a "maybe": retrying it is safe. Keys are scoped by tokenId (a retry comes on a new
 * connection with the same credential) and by operation. Bounded in count and time. */
import { LRUCache } from 'lru-cache';
import type { Clock } from '../core/clock.js';
import type { Maybe } from '../core/maybe.js';
import { invalidArgument } from '../core/errors.js';

const MAX_KEY_LENGTH = 128;

type Remembered = { result: unknown } | { pending: Promise<unknown> };

export class IdempotentResults {
  private readonly results: LRUCache<string, Remembered>;

  constructor(config: { idempotencyWindowMs: number; maxIdempotencyKeys: number }, clock: Clock) {
    this.results = new LRUCache<string, Remembered>({
      max: config.maxIdempotencyKeys,
      ttl: config.idempotencyWindowMs,
      ttlResolution: 0,
      perf: { now: () => clock.now() },
      updateAgeOnGet: false,
    });
  }

  get size(): number { return this.results.size; }

  /** Applies the write once per (scope, operation, key) within the window; a repeat answers what
   * the first answered (waiting for it if it is still in flight). A failed write is forgotten, so
   * its retry is applied. */
  run(scope: string, operation: string, key: unknown, apply: () => Maybe<unknown>): Maybe<unknown> {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw invalidArgument(`idempotencyKey must be a string of 1 to ${MAX_KEY_LENGTH} characters`);
    }
    const k = `${scope}\u0000${operation}\u0000${key}`;
    const seen = this.results.get(k);
    if (seen) return 'result' in seen ? seen.result : seen.pending;
    const outcome = apply();
    if (outcome instanceof Promise) {
      this.results.set(k, { pending: outcome });
      outcome.then((result) => { this.results.set(k, { result }); }, () => { this.results.delete(k); });
    } else {
      this.results.set(k, { result: outcome });
    }
    return outcome;
  }
}
