/** What the HTTP routes share: error code -> HTTP status, JSON replies (corked, abort-safe),
 * bearer credentials, and CORS (off unless server.corsOrigins names origins). */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { CloseCode, ErrorCode, LimitCause, type WireError } from '../protocol/index.js';
import { TidingsError, authenticationFailed, invalidArgument, toWireError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BodyLease } from './body-budget.js';

const STATUS: Record<ErrorCode, string> = {
  [ErrorCode.INVALID_ARGUMENT_ERROR]: '400 Bad Request',
  [ErrorCode.BAD_REQUEST_ERROR]: '400 Bad Request',
  [ErrorCode.AUTHENTICATION_ERROR]: '401 Unauthorized',
  [ErrorCode.PERMISSION_ERROR]: '403 Forbidden',
  [ErrorCode.NOT_FOUND_ERROR]: '404 Not Found',
  [ErrorCode.ALREADY_EXISTS_ERROR]: '409 Conflict',
  [ErrorCode.FAILED_PRECONDITION_ERROR]: '409 Conflict',
  [ErrorCode.LIMIT_EXCEEDED_ERROR]: '429 Too Many Requests',
  [ErrorCode.TIMEOUT_ERROR]: '504 Gateway Timeout',
  [ErrorCode.CANCELLED_ERROR]: '409 Conflict',
  [ErrorCode.SERVER_UNAVAILABLE]: '503 Service Unavailable',
  [ErrorCode.INTERNAL_SERVER_ERROR]: '500 Internal Server Error',
  [ErrorCode.CONNECTION_ERROR]: '503 Service Unavailable',
};
/** Size limits are about the request, not its rate: 413 tells a client retrying will not help. */
const SIZE_CAUSES: ReadonlySet<string> = new Set([
  LimitCause.REQUEST_SIZE, LimitCause.VALUE_SIZE, LimitCause.ITEM_SIZE, LimitCause.ELEMENT_SIZE, LimitCause.FRAME_SIZE, LimitCause.REQUEST_ELEMENTS, LimitCause.REQUEST_DEPTH,
]);

export function httpStatus(e: WireError): string {
  if (e.code === ErrorCode.LIMIT_EXCEEDED_ERROR && e.cause !== undefined && SIZE_CAUSES.has(e.cause)) return '413 Content Too Large';
  return STATUS[e.code] ?? '500 Internal Server Error';
}

export interface JsonReply { status: string; body: unknown }

/** `{ error: { code, message, cause } }` with its status; untyped errors are logged, never echoed. */
export function errorReply(err: unknown, log: Logger): JsonReply {
  if (!(err instanceof TidingsError)) log.error({ err }, 'http request failed');
  const e = toWireError(err);
  return { status: httpStatus(e), body: { error: e } };
}

/** Writes a JSON reply in one corked call (safe outside uWS callbacks). */
export function writeJson(res: HttpResponse, reply: JsonReply, headers: Record<string, string> = {}): void {
  res.cork(() => {
    res.writeStatus(reply.status);
    for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
    if (reply.status.startsWith('204')) res.end();
    else res.writeHeader('content-type', 'application/json').end(JSON.stringify(reply.body));
  });
}

/** A credential in a URL ends up in proxy and server logs: a stream or poll naming one in its query
 * is refused (INVALID_ARGUMENT_ERROR), even beside a valid header, so the mistake shows at once. */
export function refuseCredentialInUrl(query: URLSearchParams): void {
  if (query.has('token') || query.has('authToken')) {
    throw invalidArgument('never put a credential in a URL: send "Authorization: Bearer <token>", or a ticket from POST /v1/sse/tickets');
  }
}

/** The answer to a stream or poll whose session the broker closed before it could be answered:
 * the credential's end (revoked, expired) as AUTHENTICATION_ERROR, anything else (shutdown) as
 * SERVER_UNAVAILABLE, retryable as `retry` says. */
export function closedBeforeAnswer(code: number, reason: string, retry: string): TidingsError {
  if (code === CloseCode.REVOKED || code === CloseCode.TOKEN_EXPIRED) return authenticationFailed(reason);
  return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, `${reason}; ${retry}`);
}

/** The credential of `Authorization: Bearer <token>`; AUTHENTICATION_ERROR when absent or malformed. */
export function bearer(authorization: string): string {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw authenticationFailed('send the credential as "Authorization: Bearer <token>"');
  return match[1]!;
}

/** What a preflight allows: methods and request headers (`Allow-Headers: *` does not cover
 * `authorization`, so each is listed). */
export interface PreflightAllow { methods: string; headers: string }

const API_PREFLIGHT: PreflightAllow = {
  methods: 'GET, POST, DELETE, OPTIONS',
  headers: 'authorization, content-type, idempotency-key, last-event-id, x-tidings-stream',
};

/** Cross-origin access for browser pages on other origins (server.corsOrigins, the list the SDK
 * bundle route uses too). With no configured origin it adds no header and answers no preflight,
 * so a deployment opts in explicitly. */
export class Cors {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(origins: readonly string[], private readonly maxAgeSec: number) {
    this.any = origins.includes('*');
    this.origins = new Set(origins);
  }

  get enabled(): boolean { return this.origins.size > 0; }

  /** Headers for a response to a request from `origin` (the request's Origin header, '' if none). */
  headers(origin: string): Record<string, string> {
    // With a list, whether the answer allows its origin depends on the Origin header: caches must
    // key on it for every answer, those without the header included (as the SDK bundle's route does).
    if (!origin || !(this.any || this.origins.has(origin))) return this.enabled && !this.any ? { vary: 'Origin' } : {};
    // Credentials travel in the Authorization header, never cookies: no Allow-Credentials.
    return this.any ? { 'access-control-allow-origin': '*' } : { 'access-control-allow-origin': origin, vary: 'Origin' };
  }

  /** Answers preflights under /v1/ when CORS is on. */
  mount(app: TemplatedApp): void {
    if (!this.enabled) return;
    app.options('/v1/*', (res, req) => this.preflight(res, req));
  }

  /** Answers one preflight (also for a route that handles every method itself, which a uWS
   * `any` route does before the `options` wildcard above): 204 with what `allow` lists for a
   * listed origin, else 403. `allow` defaults to the HTTP API's methods and headers. */
  preflight(res: HttpResponse, req: HttpRequest, allow: PreflightAllow = API_PREFLIGHT): void {
    const allowed = this.headers(req.getHeader('origin'));
    if (!allowed['access-control-allow-origin']) {
      res.writeStatus('403 Forbidden').end();
      return;
    }
    res.writeStatus('204 No Content');
    for (const [name, value] of Object.entries(allowed)) res.writeHeader(name, value);
    res.writeHeader('access-control-allow-methods', allow.methods);
    res.writeHeader('access-control-allow-headers', allow.headers);
    res.writeHeader('access-control-max-age', String(this.maxAgeSec));
    res.end();
  }
}

/** Runs async work behind a uWS response: abort tracking, typed errors, one corked JSON reply.
 * A route that reads a body passes its lease: released when the reply is written or the request
 * aborted (an aborted body read never settles, so the abort is the only sign of its end). */
export function jsonRoute(res: HttpResponse, log: Logger, work: (aborted: () => boolean) => Promise<JsonReply>, headers: Record<string, string> = {}, lease?: BodyLease): void {
  let aborted = false;
  res.onAborted(() => { aborted = true; lease?.release(); });
  work(() => aborted)
    .catch((err) => errorReply(err, log))
    .then((reply) => {
      lease?.release();
      if (!aborted) writeJson(res, reply, headers);
    });
}
