/** Once a tokenId's revocation is acknowledged, no push to that user's subscriptions leaves the
 * server: pushes already queued for it, its pending retries and its request in flight (aborted) are
 * dropped and counted (tidings_push_dead_letters_total{reason="revoked"}), and the queue's slots go
 * on serving the other users; another tokenId's collapsed pushes stay, even one whose name starts
 * with the revoked one and U+0000 (the collapse keys' separator). Against a local receiver playing
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
    push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, timeoutMs: 120_000, maxInFlightPerOwner: 1, collapseMs: 300 },
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
