/** Revoking a tokenId removes the follows and push subscriptions its credentials made: a leaked
 * token's push endpoint stops receiving the topics it followed; the user's next token (issued after
 * the revocation) registers again as usual. */
import t from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt } from '../helpers/push-service.js';
import { PermissionScopes } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

t.test('a revoked credential stops getting notifications', async (t) => {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, {
    config: { presence: { leaveGraceMs: 0 }, push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, collapseMs: 50 } },
  });
  const attacker = await HttpReceiver.start(t);
  attacker.respond = () => ({ status: 201 });
  const leaked = await tokenFor(server, scope, { tokenId: 'user-17' });
  const m = await RawClient.open(server, leaked);
  const sub = browserSubscription(`${attacker.url}/steal`);
  await m.ok({ t: 'pushRegister', subscription: sub.json });
  await m.ok({ t: 'follow', cache: CACHE, topic: 'private-room' });
  m.close();
  const { revokedAt } = await server.revoke({ tokenId: 'user-17' });
  // Credentials issued in the revocation's second are covered too: the fresh one below needs a later second.
  await waitFor('a second after the revocation\'s', () => Math.floor(Date.now() / 1000) > Math.floor(revokedAt / 1000), 5000);
  const pub = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'private-room', value: 'secret plans' });
  await new Promise((r) => setTimeout(r, 500));
  const stolen = attacker.received.map((r) => decrypt(sub, r.body));
  t.same(stolen, [], `nothing reaches the revoked credential's push endpoint; got ${JSON.stringify(stolen)}`);

  const fresh = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'user-17' }));
  await fresh.ok({ t: 'pushRegister', subscription: sub.json });
  await fresh.ok({ t: 'follow', cache: CACHE, topic: 'private-room' });
  fresh.close();
  await new Promise((r) => setTimeout(r, 100));
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'private-room', value: 'after' });
  const deadline = Date.now() + 5000;
  while (attacker.received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.match(attacker.received.map((r) => decrypt(sub, r.body)), [/after/], 'a token issued after the revocation registers and is notified again');
  pub.close();
});
