/** HTTP routes: health and token minting. Every async reply is corked and abort-safe. */
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, type WireError } from '../protocol/index.js';
import { TidingsError, toWireError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TokenAuthority } from '../auth/tokens.js';
import { BodyTooLargeError, readBody } from './http-body.js';

const STATUS: Partial<Record<string, string>> = {
  [ErrorCode.INVALID_ARGUMENT_ERROR]: '400 Bad Request',
  [ErrorCode.BAD_REQUEST_ERROR]: '400 Bad Request',
  [ErrorCode.AUTHENTICATION_ERROR]: '401 Unauthorized',
  [ErrorCode.PERMISSION_ERROR]: '403 Forbidden',
  [ErrorCode.NOT_FOUND_ERROR]: '404 Not Found',
  [ErrorCode.LIMIT_EXCEEDED_ERROR]: '429 Too Many Requests',
};

export interface JsonReply { status: string; body: unknown }

/** Runs an async JSON handler with abort tracking and a corked reply. */
export function jsonRoute(res: HttpResponse, log: Logger, work: (aborted: () => boolean) => Promise<JsonReply>): void {
  let aborted = false;
  res.onAborted(() => { aborted = true; });
  work(() => aborted)
    .catch((err): JsonReply => {
      if (!(err instanceof TidingsError)) log.error({ err }, 'http request failed');
      const e: WireError = toWireError(err);
      return { status: STATUS[e.code] ?? '500 Internal Server Error', body: { error: e } };
    })
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
        if (err instanceof BodyTooLargeError) throw new TidingsError(ErrorCode.LIMIT_EXCEEDED_ERROR, err.message, 'request_size_limit_exceeded');
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
}
