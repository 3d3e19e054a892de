/** Random ids for things made at connect rate (connection ids). `randomBytes(n)` per id enters
 * OpenSSL once per call, and measured ~25 µs of a ~400 µs connect under load (bench/analysis.md);
 * one 4 KiB draw from the same CSPRNG serves hundreds of ids. Each byte is used once, so the ids
 * are exactly as unpredictable as a fresh `randomBytes(n)` each. */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;

export class RandomIds {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;

  /** `bytes` random bytes (at most 256), base64url. */
  next(bytes: number): string {
    if (this.offset + bytes > POOL_BYTES) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += bytes;
    const id = this.pool.toString('base64url', start, this.offset);
    // Spent bytes are overwritten so a later memory disclosure cannot reveal ids handed out.
    this.pool.fill(0, start, this.offset);
    return id;
  }
}
