/** Credentials: long-lived API keys for backends and disposable tokens that must expire, both
 * HS256 JWTs signed with the server's key (jose). A verified credential becomes a Grant. */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { ErrorCode, innerCredential, isWellFormed, type Permission, type Scope } from '../protocol/index.js';
import type { AuthConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { TidingsError, authenticationFailed, invalidArgument, permissionDenied } from '../core/errors.js';
import { Permissions, describePermission, parseScope } from './scopes.js';
import { Hs256Verifier, TokenRejected, type Hs256Key } from './hs256.js';
import { MemoryRevocationList, type Revocation, type RevocationList } from './revocation.js';

export type CredentialKind = 'api_key' | 'disposable';
const KIND_CLAIM: Record<CredentialKind, string> = { api_key: 'key', disposable: 'dt' };
const MAX_TOKEN_ID_LENGTH = 64;
const ALGORITHM = 'HS256';

/** What a verified credential allows. Every open connection holds one for life, so its times are
 * kept as the token's whole seconds: small integers, which V8 stores in the field itself, where
 * unix ms would each be a separate 16-byte number (bench/analysis.md, "Connect, memory and
 * history"). */
export class Grant {
  constructor(
    readonly kind: CredentialKind,
    readonly permissions: Permissions,
    /** Set by whoever minted the token; stamped on every item this credential publishes. */
    readonly tokenId: string | undefined,
    /** `exp`, unix seconds; null for an API key minted without expiry. */
    private readonly expSec: number | null,
    /** The credential's JWT id (every credential minted here has one), for revocation. */
    readonly jti: string | undefined,
    /** `iat`, unix seconds. */
    private readonly iatSec: number | undefined,
  ) {}

  /** Unix ms; null for an API key minted without expiry. */
  get expiresAt(): number | null { return this.expSec === null ? null : this.expSec * 1000; }

  /** Unix ms (`iat`), for revocation by tokenId. */
  get issuedAt(): number | undefined { return this.iatSec === undefined ? undefined : this.iatSec * 1000; }
}

/** What to revoke: exactly one of `tokenId` (every credential carrying it issued up to now), `jti`
 * (one credential) or `token` (one credential, given whole: its expiry is then known exactly). */
export interface RevokeRequest {
  tokenId?: string;
  jti?: string;
  token?: string;
  /** Unix ms until which the entry is kept; null = forever. Default: the credential's own expiry
   * when `token` is given, else now + auth.maxTokenTtlSec (+ clock tolerance), which covers every
   * disposable token; pass it (or `token`) to revoke an API key that lives longer. */
  until?: number | null;
}

export interface MintOptions {
  scope: Scope;
  /** Lifetime in seconds; null = never (API keys only). */
  expiresInSec: number | null;
  tokenId?: string;
}

export interface MintedCredential { token: string; expiresAt: number | null }

/** Generates a fresh random signing key (base64url, 32 bytes). */
export function generateSigningKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Signs and verifies credentials with the configured keys (first signs; all verify, by `kid`). */
export class TokenAuthority {
  private readonly keys: Hs256Key[];
  private readonly verifier: Hs256Verifier;
  private readonly permissionCache = new LRUCache<string, Permissions>({ max: 1024 });

  /** Revoked credentials; verify() refuses what it covers. */
  readonly revocations: RevocationList;

  constructor(private readonly config: AuthConfig, signingKeys: readonly string[], private readonly clock: Clock, revocations?: RevocationList) {
    this.revocations = revocations ?? new MemoryRevocationList(config.maxRevocations, clock);
    if (signingKeys.length === 0) throw new Error('TokenAuthority needs at least one signing key');
    this.keys = signingKeys.map((k) => {
      const secret = Buffer.from(k, 'base64url');
      return { kid: createHash('sha256').update(secret).digest('base64url').slice(0, 12), secret };
    });
    this.verifier = new Hs256Verifier(this.keys);
  }

  async mintDisposableToken(options: MintOptions): Promise<MintedCredential> {
    if (options.expiresInSec === null) throw invalidArgument('a disposable token must expire (ExpiresIn.never() is for API keys)');
    if (options.expiresInSec > this.config.maxTokenTtlSec) {
      throw invalidArgument(`a disposable token may live at most ${this.config.maxTokenTtlSec} s`);
    }
    return this.mint('disposable', options);
  }

  mintApiKey(options: MintOptions): Promise<MintedCredential> {
    return this.mint('api_key', options);
  }

  /** Mints a disposable token on behalf of `minter`, which must be an API key covering the scope. */
  async mintFor(minter: Grant, options: MintOptions): Promise<MintedCredential> {
    if (minter.kind !== 'api_key') throw permissionDenied('only an API key can mint tokens; a disposable token cannot');
    const scope = parseScope(options.scope, this.config.maxPermissions);
    const missing = minter.permissions.uncovered(scope.permissions);
    if (missing) {
      // Name the permission and the right, so the backend knows what to narrow (or what the key lacks).
      const permission = scope.permissions[missing.index]!;
      const verb = missing.action === 'presence' ? 'see presence' : missing.action;
      const hint = missing.action === 'presence'
        ? ': presence is a right of its own, which a key has only where a permission of its scope says "presence": true (docs/tokens.md)'
        : '';
      throw permissionDenied(`the requested scope is wider than the API key minting it: permissions[${missing.index}] (${describePermission(permission)}) asks to ${verb}, which the key does not allow${hint}`);
    }
    if (minter.expiresAt !== null && options.expiresInSec !== null && this.clock.now() + options.expiresInSec * 1000 > minter.expiresAt) {
      throw permissionDenied('a token cannot outlive the API key minting it');
    }
    return this.mintDisposableToken({ ...options, scope });
  }

  private async mint(kind: CredentialKind, options: MintOptions): Promise<MintedCredential> {
    const scope = parseScope(options.scope, this.config.maxPermissions);
    const { tokenId, expiresInSec } = options;
    if (tokenId !== undefined && (typeof tokenId !== 'string' || tokenId.length === 0 || tokenId.length > MAX_TOKEN_ID_LENGTH)) {
      throw invalidArgument(`tokenId must be 1..${MAX_TOKEN_ID_LENGTH} characters`);
    }
    // A lone surrogate has no UTF-8: Redis keys and members (follows, push subscriptions,
    // revocations) would hold U+FFFD instead, merging such tokenIds and renaming them on a reload.
    if (tokenId !== undefined && !isWellFormed(tokenId)) throw invalidArgument('tokenId must be well-formed Unicode (no lone surrogates)');
    if (expiresInSec !== null && (!Number.isFinite(expiresInSec) || expiresInSec <= 0)) {
      throw invalidArgument('expiresIn must be a positive number of seconds');
    }
    const nowSec = Math.floor(this.clock.now() / 1000);
    const key = this.keys[0]!;
    const payload: JWTPayload & Record<string, unknown> = { tk: KIND_CLAIM[kind], perms: scope.permissions };
    if (tokenId !== undefined) payload['tid'] = tokenId;
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.config.issuer)
      .setAudience(this.config.issuer)
      .setIssuedAt(nowSec)
      .setJti(randomBytes(9).toString('base64url'));
    let expiresAt: number | null = null;
    if (expiresInSec !== null) {
      const expSec = nowSec + Math.ceil(expiresInSec);
      jwt.setExpirationTime(expSec);
      expiresAt = expSec * 1000;
    }
    const token = await jwt.sign(key.secret);
    // Verification refuses a longer token: minting it would hand out a credential that never works.
    if (token.length > this.config.maxTokenBytes) {
      throw invalidArgument(`the scope makes a credential of ${token.length} bytes, over auth.maxTokenBytes (${this.config.maxTokenBytes}): use fewer or shorter permissions`);
    }
    return { token, expiresAt };
  }

  /** Verifies any credential; every failure is AUTHENTICATION_ERROR with a reason safe to show.
   * Synchronous (it throws), so `hello` answers without a promise chain per connect. */
  verify(token: unknown): Grant {
    const grant = this.verifySigned(token);
    if (this.revocations.isRevoked(grant)) throw authenticationFailed('token has been revoked');
    return grant;
  }

  /** verify() without the revocation check. */
  private verifySigned(token: unknown): Grant {
    if (typeof token !== 'string' || token.length === 0) throw authenticationFailed('a token is required');
    if (token.length > this.config.maxTokenBytes) throw authenticationFailed(`token is too long (over auth.maxTokenBytes, ${this.config.maxTokenBytes})`);
    let payload: JWTPayload;
    try {
      payload = this.verifier.verify(token, {
        issuer: this.config.issuer,
        audience: this.config.issuer,
        clockToleranceSec: this.config.clockToleranceSec,
        nowMs: this.clock.now(),
      });
    } catch (err) {
      if (err instanceof TokenRejected) throw authenticationFailed(err.message);
      throw err;
    }
    return this.toGrant(payload);
  }

  /** A grant verify() answered moments ago, checked again for what can change meanwhile (an HTTP
   * route verifies before reading the body and opens the session after): its expiry and
   * revocation, not its signature again. Same errors as verify(). */
  recheck(grant: Grant): Grant {
    const exp = grant.expiresAt;
    if (exp !== null && exp / 1000 <= this.clock.now() / 1000 - this.config.clockToleranceSec) throw authenticationFailed('token has expired');
    if (this.revocations.isRevoked(grant)) throw authenticationFailed('token has been revoked');
    return grant;
  }

  /** Revokes credentials (RevokeRequest). Open connections using them are closed by whoever
   * subscribes to `revocations` (the server does). */
  async revoke(request: RevokeRequest): Promise<Revocation> {
    const given = (['tokenId', 'jti', 'token'] as const).filter((k) => request[k] !== undefined);
    if (given.length !== 1) throw invalidArgument('name exactly one of tokenId, jti and token');
    const now = this.clock.now();
    let until = request.until === undefined ? now + (this.config.maxTokenTtlSec + this.config.clockToleranceSec) * 1000 : request.until;
    // Whole ms (Redis keeps the entry that long) and later than now: a time already past (seconds
    // given for ms) would revoke nothing while answering success.
    if (until !== null && (typeof until !== 'number' || !Number.isSafeInteger(until) || until <= now)) {
      throw invalidArgument('until must be unix ms (a whole number) later than now, or null');
    }
    const entry: Revocation = { revokedAt: now, until };
    if (request.token !== undefined) {
      if (typeof request.token !== 'string') throw invalidArgument('token must be a string');
      let grant: Grant;
      try {
        // A leaked credential may be in the form the Momento SDKs take (`momento: true`): the token
        // inside is revoked. One revoked already is revoked again (the entry widens or stays).
        grant = this.verifySigned(innerCredential(request.token));
      } catch (err) {
        // A token that no longer verifies (expired, foreign) needs no entry: it is refused anyway.
        // The caller's own credential is fine, so this is a bad argument, not a failed login.
        if (err instanceof TidingsError && err.code === ErrorCode.AUTHENTICATION_ERROR) throw invalidArgument(`the token needs no revocation, it is refused already: ${err.message}`);
        throw err;
      }
      if (grant.jti === undefined) throw invalidArgument('the token has no jti; revoke it by tokenId');
      entry.jti = grant.jti;
      if (request.until === undefined) until = grant.expiresAt === null ? null : grant.expiresAt + this.config.clockToleranceSec * 1000;
      entry.until = until;
    } else {
      const key = request.tokenId ?? request.jti;
      if (typeof key !== 'string' || key.length === 0 || key.length > MAX_TOKEN_ID_LENGTH) {
        throw invalidArgument(`${request.tokenId !== undefined ? 'tokenId' : 'jti'} must be 1..${MAX_TOKEN_ID_LENGTH} characters`);
      }
      if (request.tokenId !== undefined) entry.tokenId = key;
      else entry.jti = key;
    }
    await this.revocations.revoke(entry);
    return entry;
  }

  private toGrant(payload: JWTPayload): Grant {
    const kind = payload['tk'] === 'key' ? 'api_key' : payload['tk'] === 'dt' ? 'disposable' : undefined;
    if (!kind) throw authenticationFailed('token is not a Tidings credential');
    if (kind === 'disposable' && payload.exp === undefined) throw authenticationFailed('disposable token has no expiry');
    // Held at every verification, not only when minted: a limit the operator lowered takes effect
    // for tokens already out (and a revocation by tokenId, kept for this long, covers them all).
    if (kind === 'disposable' && payload.exp! > this.clock.now() / 1000 + this.config.maxTokenTtlSec + this.config.clockToleranceSec) {
      throw authenticationFailed(`disposable token expires later than auth.maxTokenTtlSec (${this.config.maxTokenTtlSec} s) from now allows: mint a new one`);
    }
    const tokenId = typeof payload['tid'] === 'string' ? payload['tid'] : undefined;
    return new Grant(
      kind, this.compiledPermissions(payload['perms']), tokenId, payload.exp === undefined ? null : payload.exp,
      typeof payload.jti === 'string' ? payload.jti : undefined,
      typeof payload.iat === 'number' ? payload.iat : undefined,
    );
  }

  /** Many connections carry the same scope (every participant of a chat shape, every moderator):
   * share one compiled, immutable Permissions per distinct scope instead of one per connection. */
  private compiledPermissions(perms: unknown): Permissions {
    const cacheKey = JSON.stringify(perms);
    let compiled = this.permissionCache.get(cacheKey);
    if (!compiled) {
      let permissions: Permission[];
      try {
        permissions = parseScope({ permissions: perms }, Number.MAX_SAFE_INTEGER).permissions;
      } catch (err) {
        throw authenticationFailed(`token scope is malformed: ${(err as TidingsError).message}`);
      }
      compiled = new Permissions(permissions);
      this.permissionCache.set(cacheKey, compiled);
    }
    return compiled;
  }
}
