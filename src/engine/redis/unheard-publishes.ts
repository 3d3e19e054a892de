/** Idempotent publishes whose outcome this node never heard: the script was sent, then the reply
 * was lost (a command timeout, the link dropped in flight), so the item may be published with the
 * node's publish hooks (webhooks, Web Push) never run for it. A retry of the key on this node that
 * hears the first result ('dup') runs them then, once. Kept per idempotency key with a digest of
 * the item, so a different write reusing the key (answered with the first result, not applied) does
 * not stand for it; as long as the key is (its window), and at most `maxKeys` (the oldest go). */
import { createHash } from 'node:crypto';

export class UnheardPublishes {
  /** Oldest first (a Map keeps insertion order, and a key is re-inserted when remembered again). */
  private readonly byKey = new Map<string, { digest: string; until: number }>();

  constructor(private readonly maxKeys: number) {}

  /** The item's identity for a retry: its encoded parts (cache, topic, value, tokenId). */
  static digest(head: Uint8Array, tail: Uint8Array): string {
    return createHash('sha256').update(head).update(tail).digest('base64');
  }

  remember(key: string, digest: string, now: number, windowMs: number): void {
    this.byKey.delete(key);
    for (const [oldest, { until }] of this.byKey) {
      if (until > now && this.byKey.size < this.maxKeys) break;
      this.byKey.delete(oldest);
    }
    this.byKey.set(key, { digest, until: now + windowMs });
  }

  /** Forgets the key; answers whether it stood for an unheard publish of this very item. */
  take(key: string, head: Uint8Array, tail: Uint8Array, now: number): boolean {
    const unheard = this.byKey.get(key);
    if (!unheard) return false;
    this.byKey.delete(key);
    return unheard.until > now && unheard.digest === UnheardPublishes.digest(head, tail);
  }
}
