/** With server.corsOrigins set, the presence, follows and push routes answer listed origins with
 * Access-Control-Allow-Origin, errors included (docs/http-api.md, "CORS"), and preflights allow
 * DELETE (DELETE /v1/follows, DELETE /v1/push/subscriptions). */
import t from 'tap';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';

const ORIGIN = 'https://app.example';

t.test('CORS on the presence and follows routes', async (t) => {
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

  const preflight = await fetch(`${server.httpUrl}/v1/follows`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'DELETE' } });
  t.equal(preflight.status, 204);
  t.match(preflight.headers.get('access-control-allow-methods') ?? '', /DELETE/, 'the preflight allows DELETE (DELETE /v1/follows, /v1/push/subscriptions)');
  await Promise.all([presence, follow, refused, vapid, preflight].map((r) => r.arrayBuffer()));
  t.equal(PermissionScopes !== undefined, true);
});
