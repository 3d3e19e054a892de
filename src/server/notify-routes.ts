/** HTTP routes of the notification feature (docs/push.md, docs/webhooks.md): follows and push
 * subscriptions for the caller's tokenId (the same operations as over WebSocket), the VAPID public
 * key, and the admin routes for webhook endpoints. */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, PermissionScopes, type GenericRequest } from '../protocol/index.js';
import { TidingsError, permissionDenied } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Grant, TokenAuthority } from '../auth/tokens.js';
import type { Broker } from '../engine/broker.js';
import type { NotifyService } from '../notify/notify-service.js';
import { bearer, callerReader, dispatchRoute, type CallerConfig } from './http-dispatch.js';
import { readJsonObject } from './http-body.js';
import { jsonRoute } from './http-routes.js';
import type { BodyBudget } from './body-budget.js';

export interface NotifyRouteDeps { broker: Broker; auth: TokenAuthority; log: Logger; config: CallerConfig; maxBodyBytes: number; bodies: BodyBudget; service: NotifyService }

export function mountNotifyRoutes(app: TemplatedApp, { broker, auth, log, config, maxBodyBytes, bodies, service }: NotifyRouteDeps): void {
  const callerOf = callerReader(config);
  /** Dispatches the operation `build` makes of the JSON body (read after the credential is checked). */
  const bodyRoute = (res: HttpResponse, req: HttpRequest, build: (body: Record<string, unknown>) => GenericRequest, status?: string) => {
    const caller = callerOf(res, req);
    const lease = bodies.lease(res, req);
    dispatchRoute(res, caller, broker, log, async (aborted) => build(await readJsonObject(res, maxBodyBytes, aborted, lease, config.server)), status, lease);
  };

  app.post('/v1/follows', (res, req) => bodyRoute(res, req, (body) => ({ ...body, t: 'follow', id: 0 })));
  app.del('/v1/follows', (res, req) => bodyRoute(res, req, (body) => ({ ...body, t: 'unfollow', id: 0 })));
  app.post('/v1/push/subscriptions', (res, req) => bodyRoute(res, req, (body) => ({ subscription: body, t: 'pushRegister', id: 0 }), '201 Created'));
  app.del('/v1/push/subscriptions', (res, req) => bodyRoute(res, req, (body) => ({ ...body, t: 'pushUnregister', id: 0 })));
  // Public by nature: every page that subscribes needs it before it has a token.
  app.get('/v1/push/vapid-public-key', (res, req) => {
    const { corsHeaders } = callerOf(res, req);
    jsonRoute(res, log, async () => {
      if (!service.push) throw new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, 'Web Push is not configured on this server (push.vapidPublicKey)');
      return { status: '200 OK', body: { publicKey: service.push.publicKey } };
    }, corsHeaders);
  });

  /** Admin: a webhook sees every event of its cache, so managing one needs a credential that may
   * read and write everything in that cache (docs/webhooks.md). */
  const admin = (token: string | undefined, cache: string): Grant => {
    if (token === undefined) throw new TidingsError(ErrorCode.AUTHENTICATION_ERROR, 'send the API key as "Authorization: Bearer <key>"');
    const grant = auth.verify(token);
    const needed = PermissionScopes.combine(PermissionScopes.cacheReadWrite(cache), PermissionScopes.topicPublishSubscribe(cache, '*'));
    // An API key, as for the other admin routes: a disposable token is a client's, never a backend's.
    if (grant.kind !== 'api_key' || !grant.permissions.covers(needed.permissions)) {
      throw permissionDenied(`managing webhooks of cache "${cache}" needs an API key with readwrite and publishsubscribe on all of it`);
    }
    return grant;
  };
  /** Join and leave events say who is subscribed: the presence right (docs/tokens.md), which read
   * and write on everything do not include. An endpoint sending them needs it on every topic it
   * covers, or it would hand a key what the key may not ask for itself. */
  const presenceFor = (grant: Grant, cache: string, input: Record<string, unknown>) => {
    const events = input['events'];
    if (!Array.isArray(events) || !events.some((e) => e === 'subscriber.joined' || e === 'subscriber.left')) return;
    const prefix = typeof input['topicPrefix'] === 'string' ? input['topicPrefix'] : '';
    const topic = prefix === '' ? '*' : { namePrefix: prefix };
    if (!grant.permissions.covers(PermissionScopes.topicPresence({ name: cache }, topic).permissions)) {
      throw permissionDenied(`subscriber.joined / subscriber.left events need an API key with presence on ${prefix === '' ? 'every topic' : `every topic starting with "${prefix}"`} of cache "${cache}"`);
    }
  };
  app.get('/v1/webhooks/:cache', (res, req) => {
    const token = bearer(req);
    const cache = decodeSegment(req.getParameter(0));
    jsonRoute(res, log, async () => {
      admin(token, cache);
      return { status: '200 OK', body: { endpoints: service.webhooks.list(cache) } };
    });
  });
  app.put('/v1/webhooks/:cache/:name', (res, req) => {
    const token = bearer(req);
    const cache = decodeSegment(req.getParameter(0));
    const name = decodeSegment(req.getParameter(1));
    const lease = bodies.lease(res, req);
    jsonRoute(res, log, async (aborted) => {
      // Credential and permission before the body: a caller that may not is answered without the
      // server reading its upload.
      const grant = admin(token, cache);
      const input = await readJsonObject(res, maxBodyBytes, aborted, lease, config.server);
      presenceFor(grant, cache, input);
      const { secret } = await service.webhooks.put({ ...input, cache, name } as never);
      return { status: '200 OK', body: { name, cache, secret } };
    }, {}, lease);
  });
  app.del('/v1/webhooks/:cache/:name', (res, req) => {
    const token = bearer(req);
    const cache = decodeSegment(req.getParameter(0));
    const name = decodeSegment(req.getParameter(1));
    jsonRoute(res, log, async () => {
      admin(token, cache);
      await service.webhooks.remove(cache, name);
      return { status: '200 OK', body: {} };
    });
  });
}

export function decodeSegment(segment: string | undefined): string {
  try { return decodeURIComponent(segment ?? ''); } catch { return segment ?? ''; }
}
