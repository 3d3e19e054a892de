/** Listing a cache's webhooks (GET /v1/webhooks/:cache) never shows a config-file endpoint's URL
 * beyond its origin: its path and query (where the operator's credential may sit) stay hidden from
 * a cache's admin, while an endpoint that admin registered is shown with the URL it was given.
 * No listed endpoint carries its secret. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'app';
const OPERATOR_URL = 'https://hooks.example.com:8443/in/op-path-credential-7f3a?key=op-query-credential-91bc';

t.test('config-file endpoint URLs are redacted in the listing; admin-route ones are shown as given', async (t) => {
  const server = await startServer(t, {
    config: { webhooks: { endpoints: [{ name: 'ops', url: OPERATOR_URL, secret: 'operator-secret-value', cache: CACHE, topicPrefix: '', events: ['item.published'] }] } },
  });
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const adminUrl = 'https://receiver.example.net/hook/admin-own-path?sig=admin-own-query';
  const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/mine`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ url: adminUrl, topicPrefix: 'x', events: ['item.published'] }),
  });
  t.equal(put.status, 200, 'admin endpoint registered');
  const res = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}`, { headers: { authorization: `Bearer ${admin}` } });
  t.equal(res.status, 200);
  const text = await res.text();
  for (const secret of ['op-path-credential-7f3a', 'op-query-credential-91bc', 'operator-secret-value', '/in/']) {
    t.notOk(text.includes(secret), `listing does not contain ${secret}`);
  }
  const { endpoints } = JSON.parse(text) as { endpoints: Array<Record<string, unknown>> };
  const ops = endpoints.find((e) => e['name'] === 'ops');
  const mine = endpoints.find((e) => e['name'] === 'mine');
  t.same(ops, { name: 'ops', cache: CACHE, topicPrefix: '', events: ['item.published'], source: 'config', url: '[redacted]', origin: 'https://hooks.example.com:8443' }, 'config endpoint: origin only');
  t.same(mine, { name: 'mine', cache: CACHE, topicPrefix: 'x', events: ['item.published'], source: 'admin', url: adminUrl }, 'admin endpoint: the URL it was given, no secret');
});
