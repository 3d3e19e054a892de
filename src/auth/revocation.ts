/** Revoked credentials. An entry names a tokenId (every credential carrying it issued up to the
 * revocation) or one credential by its `jti`. Entries are kept until the credentials they cover
 * have expired (`until`), and at most `auth.maxRevocations` of them: past that a revocation is
 * refused, never an older one evicted (eviction would silently un-revoke).
 *
 * RevocationList is the seam for several nodes: a shared implementation (Redis) stores entries
 * centrally, mirrors them locally so the check at every hello stays synchronous, and calls the
 * listeners for entries added on other nodes so each node closes its own connections. */
import { LimitCause } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import { limitExceeded } from '../core/errors.js';

export interface Revocation {
  /** Every credential with this tokenId issued at or before `revokedAt`. */
  tokenId?: string;
  /** The one credential with this JWT id. */
  jti?: string;
  /** Unix ms when it was revoked. */
  revokedAt: number;
  /** Unix ms after which every credential it covers has expired, so it can be forgotten; null =
   * never (an API key minted without expiry). */
  until: number | null;
}

/** What a credential is matched on. */
export interface RevocableCredential {
  tokenId: string | undefined;
  jti: string | undefined;
  /** Unix ms (`iat`, whole seconds). */
  issuedAt: number | undefined;
}

export type RevocationListener = (entry: Revocation, atStart: boolean) => void;

export interface RevocationList {
  /** Adds an entry. Throws LIMIT_EXCEEDED_ERROR (revocations_limit_exceeded) when full. */
  revoke(entry: Revocation): Promise<void>;
  /** Whether a live entry covers the credential. Synchronous: it runs on every hello and auth. */
  isRevoked(credential: RevocableCredential): boolean;
  /** Calls `listener` for every entry added from now on (here or, for a shared list, elsewhere).
   * `atStart`: a shared list's entry made before this node started, found by its first load
   * (possibly long after it was made): nothing this node did was covered by it, and credentials
   * issued since, which it does not cover, may have acted (followed, registered) meanwhile. */
  subscribe(listener: RevocationListener): () => void;
  /** Live entries. */
  readonly size: number;
}

/** Whether `entry` covers `credential`. `iat` has whole seconds, so a credential issued in the
 * same second as a tokenId revocation is covered too (mint the replacement a second later). */
export function covers(entry: Revocation, credential: RevocableCredential): boolean {
  if (entry.jti !== undefined) return credential.jti === entry.jti;
  if (entry.tokenId !== undefined) {
    return credential.tokenId === entry.tokenId && (credential.issuedAt === undefined || credential.issuedAt <= entry.revokedAt);
  }
  return false;
}

/** One node's revocation list in process memory. */
export class MemoryRevocationList implements RevocationList {
  private readonly byJti = new Map<string, Revocation>();
  private readonly byTokenId = new Map<string, Revocation>();
  private readonly listeners = new Set<RevocationListener>();

  constructor(private readonly maxEntries: number, private readonly clock: Clock) {}

  get size(): number { return this.byJti.size + this.byTokenId.size; }

  /** `atStart`: told to the listeners (RevocationList.subscribe). */
  async revoke(entry: Revocation, atStart = false): Promise<void> {
    if ((entry.jti === undefined) === (entry.tokenId === undefined)) throw new TypeError('a revocation names exactly one of tokenId and jti');
    const [map, key] = entry.jti !== undefined ? [this.byJti, entry.jti] : [this.byTokenId, entry.tokenId!];
    const previous = map.get(key);
    if (!previous && this.size >= this.maxEntries) this.sweep();
    if (!previous && this.size >= this.maxEntries) {
      throw limitExceeded(LimitCause.REVOCATIONS, `the server holds its maximum of ${this.maxEntries} revocations (auth.maxRevocations); they leave as the credentials they cover expire`);
    }
    // A repeated revocation widens the entry: the later time and the longer life win.
    map.set(key, previous ? merge(previous, entry) : { ...entry });
    for (const listener of this.listeners) listener(entry, atStart);
  }

  /** Whether an entry here already covers `entry` whole: revoking it again would change nothing. */
  holds(entry: Revocation): boolean {
    const known = entry.jti !== undefined ? this.byJti.get(entry.jti) : this.byTokenId.get(entry.tokenId!);
    if (known === undefined) return false;
    const merged = merge(known, entry);
    return merged.revokedAt === known.revokedAt && merged.until === known.until;
  }

  /** The entries whose credentials may still be valid. */
  *entries(): Iterable<Revocation> {
    const now = this.clock.now();
    for (const map of [this.byJti, this.byTokenId]) {
      for (const entry of map.values()) if (entry.until === null || entry.until > now) yield entry;
    }
  }

  isRevoked(credential: RevocableCredential): boolean {
    if (this.size === 0) return false;
    return this.live(this.byJti, credential.jti, credential) || this.live(this.byTokenId, credential.tokenId, credential);
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Forgets entries whose credentials have all expired. */
  sweep(): void {
    const now = this.clock.now();
    for (const map of [this.byJti, this.byTokenId]) {
      for (const [key, entry] of map) if (entry.until !== null && entry.until <= now) map.delete(key);
    }
  }

  private live(map: Map<string, Revocation>, key: string | undefined, credential: RevocableCredential): boolean {
    if (key === undefined) return false;
    const entry = map.get(key);
    if (!entry) return false;
    if (entry.until !== null && entry.until <= this.clock.now()) {
      map.delete(key);
      return false;
    }
    return covers(entry, credential);
  }
}

function merge(a: Revocation, b: Revocation): Revocation {
  return { ...a, revokedAt: Math.max(a.revokedAt, b.revokedAt), until: a.until === null || b.until === null ? null : Math.max(a.until, b.until) };
}
