/** HTTP routes: health and token minting. Every async reply is corked and abort-safe. */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, LimitCause, PermissionScopes, type WireError } from '../protocol/index.js';
import { TidingsError, limitExceeded, permissionDenied, toWireError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Grant, RevokeRequest, TokenAuthority } from '../auth/tokens.js';
import { BodyTooLargeError, readBody, readJsonObject } from './http-body.js';

const STATUS: Partial<Record<string, string>> = {
  [ErrorCode.INVALID_ARGUMENT_ERROR]: '400 Bad Request',
  [ErrorCode.BAD_REQUEST_ERROR]: '400 Bad Request',
  [ErrorCode.AUTHENTICATION_ERROR]: '401 Unauthorized',
  [ErrorCode.PERMISSION_ERROR]: '403 Forbidden',
  [ErrorCode.NOT_FOUND_ERROR]: '404 Not Found',
  [ErrorCode.FAILED_PRECONDITION_ERROR]: '409 Conflict',
  [ErrorCode.LIMIT_EXCEEDED_ERROR]: '429 Too Many Requests',
};

export interface JsonReply { status: string; body: unknown }

const ADMIN_PERMISSIONS = PermissionScopes.allDataReadWrite().permissions;

/** The grant of an admin credential from an `Authorization: Bearer <API key>` header: an API key
 * whose scope covers every cache and topic, read and write (what `tidings api-key` mints by
 * default). Throws AUTHENTICATION_ERROR / PERMISSION_ERROR otherwise. */
export async function requireAdmin(auth: TokenAuthority, authorization: string): Promise<Grant> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw new TidingsError(ErrorCode.AUTHENTICATION_ERROR, 'send an admin API key as "Authorization: Bearer <key>"');
  const grant = await auth.verify(match[1]);
  if (grant.kind !== 'api_key' || !grant.permissions.covers(ADMIN_PERMISSIONS)) {
    throw permissionDenied('this route needs an API key whose scope covers every cache and topic (read and write)');
  }
  return grant;
}

/** The JSON reply for a failed request: typed errors keep their code, anything else is logged. */
export function errorReply(err: unknown, log: Logger): JsonReply {
  if (!(err instanceof TidingsError)) log.error({ err }, 'http request failed');
  const e: WireError = toWireError(err);
  return { status: STATUS[e.code] ?? '500 Internal Server Error', body: { error: e } };
}

/** Runs an async JSON handler with abort tracking and a corked reply. */
export function jsonRoute(res: HttpResponse, log: Logger, work: (aborted: () => boolean) => Promise<JsonReply>): void {
  let aborted = false;
  res.onAborted(() => { aborted = true; });
  work(() => aborted)
    .catch((err): JsonReply => errorReply(err, log))
    .then((reply) => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(reply.status).writeHeader('content-type', 'application/json').end(JSON.stringify(reply.body));
      });
    });
}

export function mountHttpRoutes(app: TemplatedApp, deps: { auth: TokenAuthority; log: Logger; maxBodyBytes: number }): void {
  const { auth, log, maxBodyBytes } = deps;

  app.get('/healthz', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
  });

  /** Mint a disposable token. Authorization: Bearer <API key>. Body: { scope, expiresInSeconds, tokenId? }. */
  app.post('/v1/tokens', (res, req) => {
    const authorization = req.getHeader('authorization');
    jsonRoute(res, log, async (aborted) => {
      let body: Buffer;
      try {
        body = await readBody(res, maxBodyBytes, aborted);
      } catch (err) {
        if (err instanceof BodyTooLargeError) throw limitExceeded(LimitCause.REQUEST_SIZE, err.message);
        throw err;
      }
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw new TidingsError(ErrorCode.AUTHENTICATION_ERROR, 'send the API key as "Authorization: Bearer <key>"');
      const minter = await auth.verify(match[1]);
      let request: { scope?: unknown; expiresInSeconds?: unknown; tokenId?: unknown };
      try {
        request = JSON.parse(body.toString('utf8')) as typeof request;
      } catch {
        throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'body must be JSON');
      }
      if (typeof request !== 'object' || request === null) throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'body must be a JSON object');
      if (typeof request.expiresInSeconds !== 'number') throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'expiresInSeconds must be a number');
      if (request.tokenId !== undefined && typeof request.tokenId !== 'string') throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'tokenId must be a string');
      const minted = await auth.mintFor(minter, {
        scope: request.scope as never,
        expiresInSec: request.expiresInSeconds,
        ...(request.tokenId !== undefined ? { tokenId: request.tokenId } : {}),
      });
      return { status: '201 Created', body: { authToken: minted.token, expiresAt: minted.expiresAt } };
    });
  });

  /** Revoke credentials. Authorization: Bearer <admin API key>. Body: exactly one of { tokenId },
   * { jti }, { token }, and optionally until (unix ms or null). Open connections using them are
   * closed before the reply is sent. */
  app.post('/v1/revocations', (res, req) => {
    const authorization = req.getHeader('authorization');
    jsonRoute(res, log, async (aborted) => {
      const request = await readJsonObject(res, maxBodyBytes, aborted);
      await requireAdmin(auth, authorization);
      for (const key of ['tokenId', 'jti', 'token'] as const) {
        if (request[key] !== undefined && typeof request[key] !== 'string') throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, `${key} must be a string`);
      }
      if (request['until'] !== undefined && request['until'] !== null && typeof request['until'] !== 'number') {
        throw new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, 'until must be unix ms or null');
      }
      const entry = await auth.revoke(request as RevokeRequest);
      const body: Record<string, unknown> = { revokedAt: entry.revokedAt, until: entry.until };
      if (entry.tokenId !== undefined) body['tokenId'] = entry.tokenId;
      if (entry.jti !== undefined) body['jti'] = entry.jti;
      return { status: '201 Created', body };
    });
  });
}
