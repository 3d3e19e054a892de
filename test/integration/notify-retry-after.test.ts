/** A receiver that answers 429 or 503 with Retry-After is not asked again before then (up to the
 * sender's backoff cap: webhooks.backoffMaxMs, 30 s for Web Push), however short the backoff would
 * have been: webhooks and Web Push. */
import t from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription } from '../helpers/push-service.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'app';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

for (const [status, retryAfter] of [[429, '3600'], [503, new Date(Date.now() + 3600_000).toUTCString()]] as const) {
  t.test(`a webhook receiver's ${status} with Retry-After: ${retryAfter}`, async (t) => {
    // The backoff alone would retry within 20 ms.
    const server = await startServer(t, { config: { webhooks: { allowPrivateUrls: true, maxAttempts: 3, backoffInitialMs: 20, backoffMaxMs: 60_000, endpoints: [] } } });
    const receiver = await HttpReceiver.start(t);
    receiver.respond = (_r, i) => (i === 0 ? { status, headers: { 'retry-after': retryAfter } } : { status: 200 });
    const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
    const put = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/hook`, {
      method: 'PUT', headers: { authorization: `Bearer ${admin}` }, body: JSON.stringify({ url: `${receiver.url}/hook`, topicPrefix: '', events: ['item.published'] }),
    });
    t.equal(put.status, 200);
    const pub = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'p' }));
    t.teardown(() => pub.close());
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'x', value: 'v' });
    await waitFor('the first attempt', () => receiver.answered === 1);
    t.notOk(await eventually(() => receiver.received.length > 1, 1500), `not retried before Retry-After (got ${receiver.received.length} requests)`);
  });
}

t.test('a push service\'s 429 with Retry-After', async (t) => {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, {
    config: { presence: { leaveGraceMs: 0 }, push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true } },
  });
  const service = await HttpReceiver.start(t);
  service.respond = (_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '120' } } : { status: 201 });
  const user = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'u' }));
  await user.ok({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/u`).json });
  await user.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  user.close();
  const pub = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'p' }));
  t.teardown(() => pub.close());
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'v' });
  await waitFor('the first attempt', () => service.answered === 1);
  // Push's backoff alone retries within 1 s.
  t.notOk(await eventually(() => service.received.length > 1, 2500), `not retried before Retry-After (got ${service.received.length} requests)`);
});
