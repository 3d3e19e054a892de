/** Once a tokenId's revocation is acknowledged, no push to that user's subscriptions leaves the
 * server: pushes already queued for it, its pending retries and its request in flight (aborted) are
 * dropped and counted (tidings_push_dead_letters_total{reason="revoked"}), and the queue's slots go
 * on serving the other users; another tokenId's collapsed pushes stay, even one whose name starts
 * with the revoked one and U+0000 (the collapse keys' separator), and a revoked user's push still
 * waiting for a free slot is skipped when one frees. Against a local receiver playing
 * the push service. */
import t from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt, type BrowserSubscription } from '../helpers/push-service.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');
const ROOMS = ['room-0', 'room-1', 'room-2'];

/** A user who registers one browser at `${service.url}/${path}`, follows `topics`, and leaves. */
async function follower(server: TidingsServer, service: HttpReceiver, tokenId: string, path: string, topics: readonly string[]): Promise<BrowserSubscription> {
  const browser = browserSubscription(`${service.url}/${path}`);
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId }));
  await c.ok({ t: 'pushRegister', subscription: browser.json });
  for (const topic of topics) await c.ok({ t: 'follow', cache: CACHE, topic });
  c.close();
  return browser;
}

async function metric(server: TidingsServer, line: RegExp): Promise<string | undefined> {
  return line.exec(await (await fetch(`${server.httpUrl}/metrics`)).text())?.[1];
}

const vapid = webpush.generateVAPIDKeys();
const server = await startServer(t, {
  config: {
    server: { metricsAccess: 'open' },
    presence: { leaveGraceMs: 0 },
    // One slot per user: the user's later pushes wait behind the one in flight. Every item of the
    // first case is on a topic of its own, so the collapse window matters to the second only.
    // Two slots in all: two users' held pushes make a third user's wait for a turn (the last case).
    push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, timeoutMs: 120_000, maxInFlight: 2, maxInFlightPerOwner: 1, collapseMs: 300 },
  },
});

t.test('a revoked tokenId\'s queued and in-flight pushes, and their retries, never leave', async (t) => {
  const service = await HttpReceiver.start(t);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  // The user's first push is held open, then answered 500 (which would be retried).
  service.respond = (r) => (r.path === '/user-17' && service.received.filter((x) => x.path === '/user-17').length === 1 ? { status: 500, hold: held } : { status: 201 });
  t.teardown(() => release());

  await follower(server, service, 'user-17', 'user-17', ROOMS);
  const bob = await follower(server, service, 'bob', 'bob', ['bob-room']);

  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  t.teardown(() => publisher.close());
  for (const topic of ROOMS) await publisher.ok({ t: 'pub', cache: CACHE, topic, value: `to ${topic}` });
  await waitFor('the user\'s first push to be in flight', () => service.received.length === 1);

  await server.revoke({ tokenId: 'user-17' });
  await waitFor('the request in flight to be aborted', () => service.abandoned === 1, 5000);
  // Would be answered 500 now (then retried, and the two queued pushes would follow).
  release();
  t.equal(await metric(server, /^tidings_push_dead_letters_total\{reason="revoked"\} (\d+)$/m), '3', 'the in-flight and the two queued pushes are counted as dropped');

  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'bob-room', value: 'for bob' });
  await waitFor('bob\'s push', () => service.received.some((r) => r.path === '/bob'));
  t.match(JSON.parse(decrypt(bob, service.received.find((r) => r.path === '/bob')!.body)), { topic: 'bob-room', item: { value: 'for bob' } }, 'other users are still served');
  // A retry of the 500 would come within 1 s (push backoff starts at 1 s, full jitter).
  const more = await eventually(() => service.received.filter((r) => r.path === '/user-17').length > 1, 2500);
  t.notOk(more, `nothing more reaches the revoked user's endpoint (got ${service.received.filter((r) => r.path === '/user-17').length} requests)`);
  t.equal(await metric(server, /^tidings_push_sent_total (\d+)$/m), '1', 'only bob\'s push was sent');
});

t.test('revoking a tokenId keeps the collapsed pushes of a tokenId that starts with its name and U+0000', async (t) => {
  const service = await HttpReceiver.start(t);
  service.respond = () => ({ status: 201 });
  // A tokenId may hold any well-formed Unicode (docs/tokens.md), U+0000 included.
  const other = await follower(server, service, 'user-17\u0000b', 'other', ['room']);
  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  t.teardown(() => publisher.close());
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'first, at once' });
  await waitFor('the first push', () => service.received.length === 1);
  // Within the collapse window: held, to go when it ends.
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'second, collapsed' });
  await server.revoke({ tokenId: 'user-17' });
  await waitFor('the collapsed push, once the window ends', () => service.received.length === 2, 5000);
  t.match(JSON.parse(decrypt(other, service.received[1]!.body)), { item: { value: 'second, collapsed' } }, 'user-17\'s revocation did not drop it');
});

t.test('a revoked tokenId\'s push waiting for a free slot is skipped when one frees; the queue goes on', async (t) => {
  const service = await HttpReceiver.start(t);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  // The pushes to /held-* hold both slots until released.
  service.respond = (r) => (r.path.startsWith('/held-') ? { status: 201, hold: held } : { status: 201 });
  t.teardown(() => release());
  for (const name of ['held-a', 'held-b', 'user-18', 'carl']) await follower(server, service, name, name, [`${name}-room`]);
  const revokedBefore = Number(await metric(server, /^tidings_push_dead_letters_total\{reason="revoked"\} (\d+)$/m) ?? 0);
  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  t.teardown(() => publisher.close());
  for (const name of ['held-a', 'held-b']) await publisher.ok({ t: 'pub', cache: CACHE, topic: `${name}-room`, value: 'holds a slot' });
  await waitFor('both slots to be taken', () => service.received.length === 2);
  // Queued, its owner in line for the next free slot.
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'user-18-room', value: 'waits for a slot' });
  await server.revoke({ tokenId: 'user-18' });
  t.equal(Number(await metric(server, /^tidings_push_dead_letters_total\{reason="revoked"\} (\d+)$/m)) - revokedBefore, 1, 'the waiting push is dropped');
  release();
  await waitFor('the held pushes to be answered', () => service.answered === 2);
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'carl-room', value: 'for carl' });
  await waitFor('carl\'s push', () => service.received.some((r) => r.path === '/carl'));
  t.notOk(service.received.some((r) => r.path === '/user-18'), 'nothing reached the revoked user');
});

t.test('an aborted last attempt of a revoked tokenId is counted once, as revoked', async (t) => {
  // One attempt per push and one slot: the aborted attempt gives up its slot before the next push goes.
  const once = await startServer(t, {
    config: {
      server: { metricsAccess: 'open' },
      presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, timeoutMs: 120_000, maxInFlight: 1, maxAttempts: 1 },
    },
  });
  const service = await HttpReceiver.start(t);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  service.respond = (r) => (r.path === '/user-19' ? { status: 500, hold: held } : { status: 201 });
  t.teardown(() => release());
  await follower(once, service, 'user-19', 'user-19', ['r1', 'r2']);
  await follower(once, service, 'bob', 'bob', ['bob-room']);
  const publisher = await RawClient.open(once, await tokenFor(once, scope, { tokenId: 'hank' }));
  t.teardown(() => publisher.close());
  for (const topic of ['r1', 'r2']) await publisher.ok({ t: 'pub', cache: CACHE, topic, value: topic });
  await waitFor('the first push to be in flight', () => service.received.length === 1);
  await once.revoke({ tokenId: 'user-19' });
  await waitFor('the request in flight to be aborted', () => service.abandoned === 1, 5000);
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'bob-room', value: 'for bob' });
  await waitFor('bob\'s push, once the aborted attempt gave the slot back', () => service.received.some((r) => r.path === '/bob'));
  const deadLetters = async (reason: string) => metric(once, new RegExp(`^tidings_push_dead_letters_total\\{reason="${reason}"\\} (\\d+)$`, 'm'));
  t.equal(await deadLetters('revoked'), '2', 'the in-flight and the queued push');
  t.equal(await deadLetters('attempts_exhausted'), '0', 'the aborted attempt is not counted again as the last one failing');
});
