/** The idempotency key of the write being applied, for a networked engine that remembers first
 * results in its backend, inside the write's own step (engine redis: the write script; a retry on
 * another node finds the result there). The broker sets it around the synchronous part of a write
 * that carries an `idempotencyKey` (engine/idempotency.ts), and the engine takes it while it
 * builds the write's command, before anything is awaited: a handler that awaited first would find
 * none, and its write would then be deduplicated on its own node only. */
export class IdempotencyContext {
  private current: string | undefined;

  /** Runs `apply` with `key` current for its synchronous part. */
  run<T>(key: string, apply: () => T): T {
    this.current = key;
    try {
      return apply();
    } finally {
      this.current = undefined;
    }
  }

  /** The key of the write being applied (once: a second write in the same step gets none). */
  take(): string | undefined {
    const key = this.current;
    this.current = undefined;
    return key;
  }
}
