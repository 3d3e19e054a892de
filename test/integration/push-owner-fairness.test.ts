/** One user's push endpoints cannot starve everyone else's: a tokenId holds at most
 * push.maxInFlightPerOwner requests at once and at most push.maxQueuedPerOwner queued pushes, so
 * while all of user A's endpoints hang, user B's push is still queued, sent and received; A's
 * pushes past its share are dropped and counted (tidings_push_dead_letters_total{reason="queue_full"}). */
import t, { type Test } from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt } from '../helpers/push-service.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');
/** push.maxSubscriptionsPerToken's default: A registers as many endpoints as it may. */
const A_ENDPOINTS = 10;

/** A server where A's endpoints all hang (held open until the test ends; the push timeout is far
 * away) and B's one endpoint answers 201. A follows `aTopics`, B follows `b-room`. */
async function setup(t: Test, push: DeepPartial<TidingsConfig['push']>, aTopics: string[]) {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, {
    config: {
      server: { metricsAccess: 'open' },
      presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, timeoutMs: 120_000, ...push },
    },
  });
  const aService = await HttpReceiver.start(t);
  aService.respond = () => ({ status: 201, hold: new Promise<void>(() => {}) });
  const bService = await HttpReceiver.start(t);
  bService.respond = () => ({ status: 201 });

  const a = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'user-a' }));
  for (let i = 0; i < A_ENDPOINTS; i++) await a.ok({ t: 'pushRegister', subscription: browserSubscription(`${aService.url}/a/${i}`).json });
  for (const topic of aTopics) await a.ok({ t: 'follow', cache: CACHE, topic });
  a.close();
  const bBrowser = browserSubscription(`${bService.url}/b`);
  const b = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'user-b' }));
  await b.ok({ t: 'pushRegister', subscription: bBrowser.json });
  await b.ok({ t: 'follow', cache: CACHE, topic: 'b-room' });
  b.close();
  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  t.teardown(() => publisher.close());
  return { server, aService, bService, bBrowser, publisher };
}

async function metric(server: TidingsServer, line: RegExp): Promise<string | undefined> {
  return line.exec(await (await fetch(`${server.httpUrl}/metrics`)).text())?.[1];
}

t.test('a user whose endpoints all hang cannot hold every in-flight slot', async (t) => {
  // Only knobs that existed before: 10 slots, as many as A has endpoints. A may hold 4 of them
  // (push.maxInFlightPerOwner's default).
  const { aService, bService, bBrowser, publisher } = await setup(t, { maxInFlight: A_ENDPOINTS }, ['a-room']);
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'a-room', value: 'for a' });
  await waitFor('A\'s endpoints to be called', () => aService.received.length > 0);
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'b-room', value: 'for b' });
  await waitFor('B\'s push', () => bService.received.length === 1);
  t.equal(aService.answered + aService.abandoned, 0, 'B was served while every request to A was still held open');
  t.match(JSON.parse(decrypt(bBrowser, bService.received[0]!.body)), { topic: 'b-room', item: { value: 'for b' } }, 'B got its push');
  await waitFor('A\'s share of the slots', () => aService.received.length >= 4);
  t.equal(aService.received.length, 4, 'A holds push.maxInFlightPerOwner (4) slots, no more');
});

t.test('a user whose endpoints all hang cannot fill the queue', async (t) => {
  // A's three pushes to ten endpoints are 30 jobs: more than the whole queue (25).
  const { server, aService, bService, bBrowser, publisher } = await setup(t, { queueSize: 25, maxInFlight: 4, maxInFlightPerOwner: 2, maxQueuedPerOwner: 10 }, ['a-0', 'a-1', 'a-2']);
  for (const topic of ['a-0', 'a-1', 'a-2']) await publisher.ok({ t: 'pub', cache: CACHE, topic, value: 'for a' });
  await waitFor('A\'s endpoints to be called', () => aService.received.length >= 2);
  t.equal(await metric(server, /^tidings_push_dead_letters_total\{reason="queue_full"\} (\d+)$/m), '20', 'A\'s pushes past its share (10) are dropped and counted');
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'b-room', value: 'for b' });
  await waitFor('B\'s push', () => bService.received.length === 1);
  t.equal(aService.answered + aService.abandoned, 0, 'B was served while every request to A was still held open');
  t.match(JSON.parse(decrypt(bBrowser, bService.received[0]!.body)), { topic: 'b-room', item: { value: 'for b' } });
  t.equal(aService.received.length, 2, 'A holds push.maxInFlightPerOwner (2) slots, no more');
  t.equal(await metric(server, /^tidings_push_dead_letters_total\{reason="queue_full"\} (\d+)$/m), '20', 'B\'s push was not dropped');
});
