/** A DNS name is no way around the internal-destination policy: a webhook added through the admin
 * route or a push endpoint registered by a token holder whose host name resolves to this machine
 * (or any internal address) is accepted at registration (names are not resolved then) but never
 * connected to: the address each connection is made to is checked, and the event is dead-lettered
 * as rejected without a request reaching the internal receiver. webhooks.allowPrivateUrls and
 * push.allowPrivateEndpoints still let an operator allow such destinations.
 *
 * The name is resolved, as any host name of a destination, by the resolver the notify feature is
 * given: node:dns by default, here one that answers 127.0.0.1 for one name under the reserved
 * `.test` domain (whatever this machine's own name resolves to), 192.0.2.1 then 127.0.0.1 for
 * another, and node:dns for the rest. The
 * policy checks its answers like any other, when connecting; the test needs no network. */
import t from 'tap';
import webpush from 'web-push';
import { lookup } from 'node:dns';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { browserSubscription } from '../helpers/push-service.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, defaultFeatures, type DeepPartial, type HostLookup, type TidingsConfig, type TidingsServer } from '../../src/index.js';

type Test = Parameters<typeof startServer>[0];

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

/** A name other than localhost (refused by name at registration) that resolves to the address the
 * receivers listen on. */
const name = 'hooks.tidings.test';
/** A name with a public (documentation, TEST-NET-1) answer first and the receivers' address second. */
const mixedName = 'mixed.tidings.test';
const resolve: HostLookup = (host, options, callback) => {
  if (host === name) return callback(null, [{ address: '127.0.0.1', family: 4 }]);
  if (host === mixedName) return callback(null, [{ address: '192.0.2.1', family: 4 }, { address: '127.0.0.1', family: 4 }]);
  lookup(host, options, callback);
};
const features = () => defaultFeatures({ notify: { lookup: resolve } });

async function metric(s: TidingsServer, line: RegExp): Promise<boolean> {
  return line.test(await (await fetch(`${s.httpUrl}/metrics`)).text());
}

async function withWebhook(t: Test, extra: DeepPartial<TidingsConfig>, host = name): Promise<{ s: TidingsServer; receiver: HttpReceiver }> {
  const receiver = await HttpReceiver.start(t);
  const s = await startServer(t, { features: features(), config: { server: { metricsAccess: 'open' }, ...extra } });
  const port = new URL(receiver.url).port;
  const admin = (await s.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const res = await fetch(`${s.httpUrl}/v1/webhooks/${CACHE}/hook`, {
    method: 'PUT', headers: { authorization: `Bearer ${admin}` },
    body: JSON.stringify({ url: `http://${host}:${port}/hook`, topicPrefix: '', events: ['item.published'] }),
  });
  t.equal(res.status, 200, 'a DNS name is accepted at registration');
  const pub = await RawClient.open(s, await tokenFor(s, scope, { tokenId: 'p' }));
  t.teardown(() => pub.close());
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'x', value: 'v' });
  return { s, receiver };
}

t.test('destinations named by DNS', async (t) => {
  t.test('a webhook whose host resolves to an internal address is never called', async (t) => {
    const { s, receiver } = await withWebhook(t, {});
    await waitFor('the event to be dead-lettered as rejected',
      () => metric(s, /^tidings_webhook_dead_letters_total\{endpoint="chat\/hook",reason="rejected"\} 1$/m), 10_000);
    t.equal(receiver.received.length, 0, 'no request reached the internal receiver');
  });

  t.test('a webhook whose host resolves to a public and an internal address is never called', async (t) => {
    // Checking only the first answer would let the connection reach the second.
    const { s, receiver } = await withWebhook(t, {}, mixedName);
    await waitFor('the event to be dead-lettered as rejected',
      () => metric(s, /^tidings_webhook_dead_letters_total\{endpoint="chat\/hook",reason="rejected"\} 1$/m), 10_000);
    t.equal(receiver.received.length, 0, 'no request reached the internal receiver');
  });

  t.test('webhooks.allowPrivateUrls lets it through', async (t) => {
    const { receiver } = await withWebhook(t, { webhooks: { allowPrivateUrls: true } });
    const [got] = await receiver.until(1, 10_000);
    t.equal(got!.path, '/hook');
  });

  const pushServer = async (t: Test, allowPrivateEndpoints: boolean) => {
    const vapid = webpush.generateVAPIDKeys();
    const receiver = await HttpReceiver.start(t);
    receiver.respond = () => ({ status: 201 });
    const s = await startServer(t, {
      features: features(),
      config: {
        server: { metricsAccess: 'open' },
        presence: { leaveGraceMs: 0 },
        push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints, collapseMs: 1 },
      },
    });
    const endpoint = `http://${name}:${new URL(receiver.url).port}/p`;
    const m = await RawClient.open(s, await tokenFor(s, scope, { tokenId: 'mallory' }));
    await m.ok({ t: 'pushRegister', subscription: browserSubscription(endpoint).json });
    await m.ok({ t: 'follow', cache: CACHE, topic: 'room' });
    m.close();
    const pub = await RawClient.open(s, await tokenFor(s, scope, { tokenId: 'hank' }));
    t.teardown(() => pub.close());
    // Mallory is away once her only connection has gone: each publish is a push for her.
    await waitFor('mallory to be away', async () => {
      await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'hi' });
      return (await metric(s, /^tidings_push_dead_letters_total\{reason="rejected"\} [1-9]/m)) || receiver.received.length > 0;
    }, 10_000);
    return { s, receiver };
  };

  t.test('a push endpoint whose host resolves to an internal address is never called', async (t) => {
    const { s, receiver } = await pushServer(t, false);
    t.ok(await metric(s, /^tidings_push_dead_letters_total\{reason="rejected"\} [1-9]/m), 'the push was dead-lettered as rejected');
    t.equal(receiver.received.length, 0, 'no request reached the internal receiver');
  });

  t.test('push.allowPrivateEndpoints lets it through', async (t) => {
    const { receiver } = await pushServer(t, true);
    t.ok(receiver.received.length > 0, 'the push service got the push');
  });
});
