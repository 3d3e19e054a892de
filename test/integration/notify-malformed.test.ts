/** Malformed notify requests (push registration, follows, webhooks: bad JSON, arrays, __proto__,
 * blank names, wrong types, unknown ids) get typed 4xx answers; nothing crashes or hangs. */
import t from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

t.test('malformed notify requests get typed 4xx answers', async (t) => {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, { config: { push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey } } });
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const user = await tokenFor(server, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'u' });
  const cases: Array<[string, string, string, string | undefined]> = [
    ['GET', '/v1/webhooks/%20', admin, undefined],
    ['GET', '/v1/webhooks/%01', admin, undefined],
    ['GET', '/v1/webhooks/%E0%A4%A', admin, undefined],
    ['GET', `/v1/webhooks/${'a'.repeat(300)}`, admin, undefined],
    ['PUT', '/v1/webhooks/app/x', admin, 'not json'],
    ['PUT', '/v1/webhooks/app/x', admin, '[]'],
    ['PUT', '/v1/webhooks/app/x', admin, '{"url":"http://a","events":["item.published"],"topicPrefix":"","secret":null}'],
    ['PUT', '/v1/webhooks/app/x', admin, '{"url":"http://a","events":["item.published"],"topicPrefix":"","__proto__":{"x":1}}'],
    ['PUT', '/v1/webhooks/%20/x', admin, '{"url":"http://a","events":["item.published"],"topicPrefix":""}'],
    ['DELETE', '/v1/webhooks/app/nope', admin, undefined],
    ['POST', '/v1/follows', user, '{}'],
    ['POST', '/v1/follows', user, '{"cache":"app","topic":{"a":1}}'],
    ['DELETE', '/v1/follows', user, 'null'],
    ['POST', '/v1/push/subscriptions', user, '{"endpoint":"https://x","keys":"k"}'],
    ['POST', '/v1/push/subscriptions', user, '"str"'],
    ['DELETE', '/v1/push/subscriptions', user, '{"endpoint":5}'],
    ['POST', '/v1/push/subscriptions', user, `{"endpoint":"https://a:b@x.example/p","keys":{"p256dh":"${'A'.repeat(87)}","auth":"${'A'.repeat(22)}"}}`],
  ];
  for (const [method, path, token, body] of cases) {
    const res = await fetch(`${server.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    t.comment(`${method} ${path.slice(0, 40)} ${body?.slice(0, 60) ?? ''} -> ${res.status} ${text.slice(0, 160)}`);
    t.ok(res.status < 500, `${method} ${path.slice(0, 40)} -> ${res.status}`);
  }
});
