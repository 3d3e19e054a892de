/** Operations over HTTP: a route authenticates the call's bearer credential into a short-lived
 * session and runs the same `Broker.dispatch` as the WebSocket (same validation, permissions,
 * limits and error codes). The session has no socket: nothing is ever pushed to it. */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ErrorCode, type GenericRequest } from '../protocol/index.js';
import { TidingsError } from '../core/errors.js';
import type { RequestShapeLimits } from '../core/request-shape.js';
import type { Logger } from '../core/logger.js';
import type { Broker } from '../engine/broker.js';
import { DISPATCH_ONLY } from '../engine/session.js';
import { jsonRoute, type JsonReply } from './http-routes.js';
import { Cors } from './http-common.js';
import { requestAddress } from './admission.js';
import type { BodyLease } from './body-budget.js';

/** The bearer credential of `Authorization: Bearer <token>`; read synchronously (uWS forbids
 * touching `req` after the handler returns). */
export function bearer(req: HttpRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.getHeader('authorization'))?.[1];
}

/** Who calls, read synchronously in the handler: the bearer credential, the client address its
 * request rate is charged to (as for the HTTP API and gRPC calls: without it every call would get
 * a fresh, full per-connection bucket), and the CORS headers its answer carries. */
export interface Caller { token: string | undefined; rateKey: string; corsHeaders: Record<string, string> }

export interface CallerConfig { server: RequestShapeLimits & { trustedProxyHeader: string; corsOrigins: string[] }; http: { corsMaxAgeSec: number } }

export type CallerOf = (res: HttpResponse, req: HttpRequest) => Caller;

/** Reads the Caller of a request, with the CORS policy built once for a set of routes. */
export function callerReader(config: CallerConfig): CallerOf {
  const cors = new Cors(config.server.corsOrigins, config.http.corsMaxAgeSec);
  const proxyHeader = config.server.trustedProxyHeader;
  return (res, req) => ({ token: bearer(req), rateKey: requestAddress(res, req, proxyHeader), corsHeaders: cors.headers(req.getHeader('origin')) });
}

/** Answers the operation `request` builds (from the path, or the body) as JSON: 200 with the
 * result, or the error's status. A route that reads a body passes the lease it reads it under. */
export function dispatchRoute(
  res: HttpResponse, { token, rateKey, corsHeaders }: Caller, broker: Broker, log: Logger,
  request: (aborted: () => boolean) => Promise<GenericRequest> | GenericRequest, status = '200 OK', lease?: BodyLease,
): void {
  jsonRoute(res, log, async (aborted): Promise<JsonReply> => {
    // The credential before the body: an unauthenticated caller is answered without the server
    // reading (or holding) its upload. Synchronous, so `request` still registers its body reader
    // before the handler returns (uWS delivers the body only to a reader registered then);
    // the session opens with that grant once the body is in, checked again for expiry and
    // revocation meanwhile.
    if (token === undefined) throw new TidingsError(ErrorCode.AUTHENTICATION_ERROR, 'send the token as "Authorization: Bearer <token>"');
    const grant = broker.verifyCredential(token);
    const frame = await request(aborted);
    const session = await broker.openAuthenticated(DISPATCH_ONLY, grant, rateKey);
    try {
      return { status, body: await broker.dispatch(session, frame, 'http') };
    } finally {
      broker.closed(session);
    }
  }, corsHeaders, lease);
}
