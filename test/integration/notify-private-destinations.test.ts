/** A URL the server will POST to, chosen by a client (a push endpoint) or by a cache's admin (a
 * webhook added through the admin route), may not name this machine or a private, link-local
 * (cloud metadata) or otherwise internal address: it is refused with INVALID_ARGUMENT_ERROR and a
 * message saying why, unless the operator allows it (push.allowPrivateEndpoints,
 * webhooks.allowPrivateUrls). A public https endpoint is still accepted, by name or by address. A redirect is not a way
 * around it: a receiver's 3xx is never followed (the event is dead-lettered as rejected). */
import t from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { browserSubscription } from '../helpers/push-service.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const INTERNAL = [
  'https://127.0.0.1/p', 'https://127.9.8.7:8443/p', 'https://localhost/p', 'https://api.localhost/p', 'https://[::1]/p',
  'https://169.254.169.254/latest/meta-data', 'https://10.1.2.3/p', 'https://172.16.0.1/p', 'https://192.168.1.1/p',
  'https://100.64.0.1/p', 'https://0.0.0.0/p', 'https://[fe80::1]/p', 'https://[fd00::1]/p', 'https://[::ffff:127.0.0.1]/p',
  // Other spellings of 127.0.0.1 that URL parsing normalises.
  'https://2130706433/p', 'https://0x7f.1/p',
];
/** Public addresses, some just past an internal range: accepted like a public name. */
const PUBLIC = ['https://8.8.8.8/p', 'https://172.32.0.1/p', 'https://100.128.0.1/p', 'https://[2606:4700:4700::1111]/p'];

async function server(t: Parameters<typeof startServer>[0], extra: DeepPartial<TidingsConfig> = {}): Promise<TidingsServer> {
  const vapid = webpush.generateVAPIDKeys();
  return startServer(t, { config: { ...extra, push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, ...extra.push } } });
}

async function registering(s: TidingsServer, endpoint: string): Promise<Record<string, any>> {
  const c = await RawClient.open(s, await tokenFor(s, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'mallory' }));
  try {
    return await c.request({ t: 'pushRegister', subscription: browserSubscription(endpoint).json });
  } finally {
    c.close();
  }
}

async function puttingWebhook(s: TidingsServer, url: string): Promise<{ status: number; body: Record<string, any> }> {
  const admin = (await s.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const res = await fetch(`${s.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ url, topicPrefix: '', events: ['item.published'] }),
  });
  return { status: res.status, body: await res.json() as Record<string, any> };
}

t.test('push endpoints on internal addresses are refused', async (t) => {
  const s = await server(t);
  for (const endpoint of INTERNAL) {
    const reply = await registering(s, endpoint);
    t.equal(reply['e']?.code, 'INVALID_ARGUMENT_ERROR', `${endpoint} refused`);
    t.match(reply['e']?.message, /internal|private|push\.allowPrivateEndpoints/, 'saying why');
  }
  t.equal((await registering(s, 'https://fcm.googleapis.com/fcm/send/abc'))['t'], 'ok', 'a public push service is accepted');
  for (const endpoint of PUBLIC) t.equal((await registering(s, endpoint))['t'], 'ok', `${endpoint} accepted`);
});

t.test('push.allowPrivateEndpoints lets an operator accept them', async (t) => {
  const s = await server(t, { push: { allowPrivateEndpoints: true } });
  t.equal((await registering(s, 'https://10.1.2.3/p'))['t'], 'ok');
});

t.test('webhook URLs on internal addresses are refused from the admin route', async (t) => {
  const s = await server(t);
  for (const url of INTERNAL.map((u) => u.replace('https:', 'http:'))) {
    const { status, body } = await puttingWebhook(s, url);
    t.equal(status, 400, `${url} refused`);
    t.equal(body['code'] ?? body['error']?.code, 'INVALID_ARGUMENT_ERROR');
  }
  t.equal((await puttingWebhook(s, 'https://hooks.example.com/in')).status, 200, 'a public URL is accepted');
  for (const url of PUBLIC) t.equal((await puttingWebhook(s, url)).status, 200, `${url} accepted`);
});

t.test('webhooks.allowPrivateUrls lets an operator accept them', async (t) => {
  const s = await server(t, { webhooks: { allowPrivateUrls: true } });
  t.equal((await puttingWebhook(s, 'http://169.254.169.254/x')).status, 200);
});

t.test('a receiver\'s redirect is not followed', async (t) => {
  const inside = await HttpReceiver.start(t);
  const outside = await HttpReceiver.start(t);
  outside.respond = () => ({ status: 307, headers: { location: `${inside.url}/internal-admin` } });
  const s = await server(t, {
    server: { metricsAccess: 'open' },
    webhooks: { endpoints: [{ name: 'hook', url: `${outside.url}/hook`, secret: 'a-secret-of-enough-length', cache: CACHE, topicPrefix: '', events: ['item.published'] }] },
  });
  const pub = await RawClient.open(s, await tokenFor(s, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'p' }));
  t.teardown(() => pub.close());
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'x', value: 'v' });
  const rejected = async () => /^tidings_webhook_dead_letters_total\{endpoint="chat\/hook",reason="rejected"\} 1$/m.test(await (await fetch(`${s.httpUrl}/metrics`)).text());
  await waitFor('the event to be dead-lettered as rejected', rejected, 5000);
  t.equal(outside.received.length, 1, 'one request, not retried');
  t.equal(inside.received.length, 0, 'the redirect target was never called');
});
