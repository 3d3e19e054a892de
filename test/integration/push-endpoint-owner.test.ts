/** A push endpoint is one browser on one device, so it belongs to one tokenId: registering it under
 * another tokenId moves it there (the latest registration wins; the earlier owner's registration of
 * it is replaced). The device then gets one push per item, not one per tokenId that registered it;
 * a move counts against the new owner's push.maxSubscriptionsPerToken (refused past it, leaving the
 * endpoint where it was) but not again against push.maxSubscriptions; the earlier owner's pushes
 * still queued for it are not sent to it. Engines memory and redis. */
import webpush from 'web-push';
import type { Test } from 'tap';
import { startServer, testEachEngine, type TestEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt } from '../helpers/push-service.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { PermissionScopes } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

async function setup(t: Test, engine: TestEngine) {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, {
    engine,
    config: {
      server: { metricsAccess: 'open' },
      presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, collapseMs: 20, maxSubscriptionsPerToken: 2, maxSubscriptions: 3 },
    },
  });
  const service = await HttpReceiver.start(t);
  service.respond = () => ({ status: 201 });
  const open = async (tokenId: string) => {
    const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId }));
    t.teardown(() => c.close());
    return c;
  };
  return { server, service, open };
}

const errorOf = (frame: Record<string, unknown>) => frame['e'] as { code?: string; message?: string } | undefined;

testEachEngine('an endpoint registered under a second tokenId moves to it', async (t, engine) => {
  const { service, open } = await setup(t, engine);
  const device = browserSubscription(`${service.url}/device`);
  const alice = await open('alice');
  const bob = await open('bob');
  await alice.ok({ t: 'pushRegister', subscription: device.json });
  await alice.ok({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/alice-laptop`).json });
  // The deployment holds 2 of its 3: the move below must not count as a third and fourth.
  await bob.ok({ t: 'pushRegister', subscription: device.json });
  await bob.ok({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/bob-phone`).json });
  for (const c of [alice, bob]) await c.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  alice.close();
  bob.close();

  const publisher = await open('hank');
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'hello' });
  const to = (path: string) => service.received.filter((r) => r.path === path);
  await waitFor('the pushes', () => to('/device').length >= 1 && to('/alice-laptop').length === 1 && to('/bob-phone').length === 1);
  // Every push to the other endpoints has arrived; a second one to the device would be queued beside them.
  t.notOk(await eventually(() => to('/device').length > 1, 1000), 'the device gets one push per item');
  t.equal(to('/device').length, 1);
  t.match(decrypt(device, to('/device')[0]!.body), /hello/);

  const alice2 = await open('alice');
  t.equal((await alice2.ok({ t: 'pushUnregister', endpoint: device.json.endpoint }))['removed'], false, 'alice no longer holds the device\'s endpoint');
  const bob2 = await open('bob');
  t.equal((await bob2.ok({ t: 'pushUnregister', endpoint: device.json.endpoint }))['removed'], true, 'bob holds it');
  // The move freed no room and took none: 2 of 3 are held now (alice's laptop, bob's phone).
  await alice2.ok({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/alice-tablet`).json });
  const full = errorOf(await bob2.request({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/bob-tablet`).json }));
  t.equal(full?.code, 'LIMIT_EXCEEDED_ERROR', 'push.maxSubscriptions (3) counts each endpoint once');
});

testEachEngine('a move past the new owner\'s bound is refused and leaves the endpoint where it was', async (t, engine) => {
  const { service, open } = await setup(t, engine);
  const device = browserSubscription(`${service.url}/device`);
  const alice = await open('alice');
  const carol = await open('carol');
  await alice.ok({ t: 'pushRegister', subscription: device.json });
  await carol.ok({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/carol-1`).json });
  await carol.ok({ t: 'pushRegister', subscription: browserSubscription(`${service.url}/carol-2`).json });
  const refused = errorOf(await carol.request({ t: 'pushRegister', subscription: device.json }));
  t.equal(refused?.code, 'LIMIT_EXCEEDED_ERROR', 'carol holds push.maxSubscriptionsPerToken (2) already');
  t.match(refused?.message, /at most 2 push subscriptions/);
  t.equal((await alice.ok({ t: 'pushUnregister', endpoint: device.json.endpoint }))['removed'], true, 'alice still holds the endpoint');
});

testEachEngine('pushes of the earlier owner still queued do not go to a moved endpoint', async (t, engine) => {
  const { server, service, open } = await setup(t, engine);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  t.teardown(() => release());
  // Alice's first push is held open: her second waits behind it in the endpoint's lane.
  service.respond = (_r, i) => (i === 0 ? { status: 201, hold: held } : { status: 201 });
  const device = browserSubscription(`${service.url}/device`);
  const alice = await open('alice');
  await alice.ok({ t: 'pushRegister', subscription: device.json });
  for (const topic of ['a-0', 'a-1']) await alice.ok({ t: 'follow', cache: CACHE, topic });
  alice.close();
  const publisher = await open('hank');
  for (const topic of ['a-0', 'a-1']) await publisher.ok({ t: 'pub', cache: CACHE, topic, value: `for alice in ${topic}` });
  await waitFor('alice\'s first push in flight', () => service.received.length === 1);

  const bob = await open('bob');
  await bob.ok({ t: 'pushRegister', subscription: device.json });
  release();
  const metrics = async () => await (await fetch(`${server.httpUrl}/metrics`)).text();
  await waitFor('alice\'s queued push to be dropped', async () => /^tidings_push_dead_letters_total\{reason="unregistered"\} 1$/m.test(await metrics()), 5000);
  t.equal(service.received.length, 1, 'the device, now bob\'s, got only the push that was in flight');
  t.match(await metrics(), /^tidings_push_sent_total 1$/m);
});
