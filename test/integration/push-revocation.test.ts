/** Revoking a tokenId removes the follows and push subscriptions its credentials made: a leaked
 * token's push endpoint stops receiving the topics it followed; the user's next token (issued after
 * the revocation) registers again as usual, and a node started later (on Redis), which loads the
 * revocation, leaves that newer credential's follows alone. */
import t from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt } from '../helpers/push-service.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';
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

t.test('a node started after a tokenId\'s revocation leaves the follows of the tokenId\'s newer credential alone', async (t) => {
  // It loads the revocation at start (atStart): the nodes that heard it removed the follows then,
  // and what the tokenId followed since was followed by a credential the revocation does not cover.
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('pushrev');
  t.teardown(() => deletePrefix(url, prefix));
  const vapid = webpush.generateVAPIDKeys();
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    presence: { leaveGraceMs: 0 },
    push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, collapseMs: 50 },
  };
  const node = () => startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const a = await node();
  const receiver = await HttpReceiver.start(t);
  receiver.respond = () => ({ status: 201 });
  const { revokedAt } = await a.revoke({ tokenId: 'user-17' });
  await waitFor('a second after the revocation\'s', () => Math.floor(Date.now() / 1000) > Math.floor(revokedAt / 1000), 5000);
  const fresh = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'user-17' }));
  const sub = browserSubscription(`${receiver.url}/device`);
  await fresh.ok({ t: 'pushRegister', subscription: sub.json });
  await fresh.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  fresh.close();
  const b = await node();
  t.equal(b.auth.revocations.size, 1, 'the later node loaded the revocation');
  const pub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 'hank' }));
  await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'still followed' });
  await waitFor('the push to the newer credential\'s device', () => receiver.received.length > 0, 10_000);
  t.match(receiver.received.map((r) => decrypt(sub, r.body)), [/still followed/]);
  pub.close();
});
