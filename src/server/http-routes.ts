/** HTTP routes: health and token minting. Every async reply is corked and abort-safe. */
import type { TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, PermissionScopes, encodeMomentoCredential } from '../protocol/index.js';
import { TidingsError, permissionDenied } from '../core/errors.js';
import { jsonRoute, type Cors } from './http-common.js';
import type { Logger } from '../core/logger.js';
import type { Grant, RevokeRequest, TokenAuthority } from '../auth/tokens.js';
import { readJsonObject } from './http-body.js';
import type { BodyBudget } from './body-budget.js';
import type { RequestShapeLimits } from '../core/request-shape.js';
import { endHead, getAndHead } from './static-files.js';

export { errorReply, jsonRoute, type JsonReply } from './http-common.js';

const ADMIN_PERMISSIONS = PermissionScopes.allDataReadWrite().permissions;

/** The grant of an admin credential from an `Authorization: Bearer <API key>` header: an API key
 * whose scope covers every cache and topic, read and write (what `tidings api-key` mints by
 * default). Throws AUTHENTICATION_ERROR / PERMISSION_ERROR otherwise. */
export function requireAdmin(auth: TokenAuthority, authorization: string): Grant {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw new TidingsError(ErrorCode.AUTHENTICATION_ERROR, 'send an admin API key as "Authorization: Bearer <key>"');
  const grant = auth.verify(match[1]);
  if (grant.kind !== 'api_key' || !grant.permissions.covers(ADMIN_PERMISSIONS)) {
    throw permissionDenied('this route needs an API key whose scope covers every cache and topic (read and write)');
  }
  return grant;
}


export interface HttpRouteDeps {
  auth: TokenAuthority;
  log: Logger;
  maxBodyBytes: number;
  /** What a JSON body may hold (server.maxRequestElements, server.maxRequestDepth). */
  shape: RequestShapeLimits;
  bodies: BodyBudget;
  cors: Cors;
  /** Charges a mint to its API key's rate (limits.tokenMints*); throws LIMIT_EXCEEDED_ERROR. */
  admitMint(minter: Grant): void;
  /** The endpoint for Momento-shaped tokens; undefined while the gRPC listener is off. */
  momentoEndpoint(): string | undefined;
}

export function mountHttpRoutes(app: TemplatedApp, deps: HttpRouteDeps): void {
  const { auth, log, maxBodyBytes, bodies, cors } = deps;

  // HEAD too: uptime checkers send it (static-files.ts getAndHead).
  getAndHead(app, '/healthz', (res, _req, head) => {
    const body = '{"status":"ok"}';
    res.writeHeader('content-type', 'application/json');
    if (head) endHead(res, body.length);
    else res.end(body);
  });

  /** Mint a disposable token. Authorization: Bearer <API key>. Body: { scope, expiresInSeconds, tokenId?, momento? }. */
  app.post('/v1/tokens', (res, req) => {
    const authorization = req.getHeader('authorization');
    const corsHeaders = cors.headers(req.getHeader('origin'));
    const lease = bodies.lease(res, req);
    jsonRoute(res, log, async (aborted) => {
      // The credential before the body: an unauthenticated caller is answered without the server
      // reading (or holding) any of its upload.
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw new TidingsError(ErrorCode.AUTHENTICATION_ERROR, 'send the API key as "Authorization: Bearer <key>"');
      const minter = auth.verify(match[1]);
      deps.admitMint(minter);
      const request: { scope?: unknown; expiresInSeconds?: unknown; tokenId?: unknown; momento?: unknown } = await readJsonObject(res, maxBodyBytes, aborted, lease, deps.shape);
      if (typeof request.expiresInSeconds !== 'number') throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'expiresInSeconds must be a number');
      if (request.momento !== undefined && typeof request.momento !== 'boolean') throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'momento must be a boolean');
      const endpoint = deps.momentoEndpoint();
      if (request.momento && endpoint === undefined) {
        throw new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, 'Momento-shaped tokens need the gRPC listener (momento.enabled)');
      }
      // The token authority checks tokenId (1..64 characters), as for every other caller.
      const minted = await auth.mintFor(minter, {
        scope: request.scope as never,
        expiresInSec: request.expiresInSeconds,
        ...(request.tokenId !== undefined ? { tokenId: request.tokenId as string } : {}),
      });
      // momento: true answers the token in the form the official Momento SDKs take (fromDisposableToken).
      const authToken = request.momento ? encodeMomentoCredential({ endpoint: endpoint!, apiKey: minted.token }) : minted.token;
      return { status: '201 Created', body: { authToken, expiresAt: minted.expiresAt } };
    }, corsHeaders, lease);
  });

  /** Revoke credentials. Authorization: Bearer <admin API key>. Body: exactly one of { tokenId },
   * { jti }, { token }, and optionally until (unix ms or null). Open connections using them are
   * closed before the reply is sent. */
  app.post('/v1/revocations', (res, req) => {
    const authorization = req.getHeader('authorization');
    const lease = bodies.lease(res, req);
    jsonRoute(res, log, async (aborted) => {
      // Credential and permission before the body (as for /v1/tokens).
      requireAdmin(auth, authorization);
      const request = await readJsonObject(res, maxBodyBytes, aborted, lease, deps.shape);
      // The token authority checks each field's type, as for the server API and the CLI.
      const entry = await auth.revoke(request as RevokeRequest);
      const body: Record<string, unknown> = { revokedAt: entry.revokedAt, until: entry.until };
      if (entry.tokenId !== undefined) body['tokenId'] = entry.tokenId;
      if (entry.jti !== undefined) body['jti'] = entry.jti;
      return { status: '201 Created', body };
    }, {}, lease);
  });
}
