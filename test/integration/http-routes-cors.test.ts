/** With server.corsOrigins set, the presence, follows and push routes, and the browser's streams
 * (SSE tickets and streams, long-polls; the SDK's fallback stream in test/browser/http-fallback.ts), answer listed origins with
 * Access-Control-Allow-Origin, errors included (docs/http-api.md, "CORS"), and preflights allow
 * DELETE (DELETE /v1/follows, DELETE /v1/push/subscriptions); the admin routes (webhooks,
 * revocations) answer no origin: they are for backends. */
import t from 'tap';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { SseReader } from '../helpers/sse.js';

const ORIGIN = 'https://app.example';

t.test('CORS on the presence and follows routes, none on the admin routes', async (t) => {
  const server = await startServer(t, { config: { server: { corsOrigins: [ORIGIN] } } });
  const scope = { permissions: [{ role: 'publishsubscribe', cache: 'rv', topic: '*', presence: true }] };
  const key = (await server.auth.mintApiKey({ scope: scope as never, expiresInSec: null, tokenId: 'u1' })).token;
  const headers = { authorization: `Bearer ${key}`, origin: ORIGIN, 'content-type': 'application/json' };

  const presence = await fetch(`${server.httpUrl}/v1/presence/rv/room`, { headers });
  t.equal(presence.status, 200);
  t.equal(presence.headers.get('access-control-allow-origin'), ORIGIN, 'GET /v1/presence');

  const follow = await fetch(`${server.httpUrl}/v1/follows`, { method: 'POST', headers, body: JSON.stringify({ cache: 'rv', topic: 'room' }) });
  t.equal(follow.status, 200);
  t.equal(follow.headers.get('access-control-allow-origin'), ORIGIN, 'POST /v1/follows');

  const refused = await fetch(`${server.httpUrl}/v1/follows`, { method: 'POST', headers: { ...headers, authorization: 'Bearer nope' }, body: '{}' });
  t.equal(refused.status, 401);
  t.equal(refused.headers.get('access-control-allow-origin'), ORIGIN, 'an error answer too (the page can read why)');

  const vapid = await fetch(`${server.httpUrl}/v1/push/vapid-public-key`, { headers: { origin: ORIGIN } });
  t.equal(vapid.headers.get('access-control-allow-origin'), ORIGIN, 'GET /v1/push/vapid-public-key');

  const ticket = await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers });
  t.equal(ticket.status, 201);
  t.equal(ticket.headers.get('access-control-allow-origin'), ORIGIN, 'POST /v1/sse/tickets');
  const sse = await SseReader.open(`${server.httpUrl}/v1/sse?cache=rv&topic=room&ticket=${(await ticket.json()).ticket}`, { origin: ORIGIN });
  t.teardown(() => sse.close());
  t.equal(sse.status, 200);
  t.equal(sse.headers.get('access-control-allow-origin'), ORIGIN, 'GET /v1/sse');
  const poll = await fetch(`${server.httpUrl}/v1/poll?cache=rv&topic=room&waitMs=0`, { headers });
  t.equal(poll.status, 200);
  t.equal(poll.headers.get('access-control-allow-origin'), ORIGIN, 'GET /v1/poll');

  const preflight = await fetch(`${server.httpUrl}/v1/follows`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'DELETE' } });
  t.equal(preflight.status, 204);
  t.match(preflight.headers.get('access-control-allow-methods') ?? '', /DELETE/, 'the preflight allows DELETE (DELETE /v1/follows, /v1/push/subscriptions)');

  // The admin routes are for backends: a listed origin's page gets no CORS header from them, so it
  // cannot read their answers (a page should never hold an admin key).
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const list = await fetch(`${server.httpUrl}/v1/webhooks/rv`, { headers: { authorization: `Bearer ${admin}`, origin: ORIGIN } });
  t.equal(list.status, 200);
  t.equal(list.headers.get('access-control-allow-origin'), null, 'GET /v1/webhooks/{cache}: no CORS header');
  const revoke = await fetch(`${server.httpUrl}/v1/revocations`, {
    method: 'POST', headers: { authorization: `Bearer ${admin}`, origin: ORIGIN, 'content-type': 'application/json' }, body: JSON.stringify({ tokenId: 'nobody' }),
  });
  t.equal(revoke.status, 201);
  t.equal(revoke.headers.get('access-control-allow-origin'), null, 'POST /v1/revocations: no CORS header');
  await Promise.all([presence, follow, refused, vapid, poll, preflight, list, revoke].map((r) => r.arrayBuffer()));
});
