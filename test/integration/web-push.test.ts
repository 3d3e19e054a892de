import t, { type Test } from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt, verifyVapid } from '../helpers/push-service.js';
import { sdkFor } from '../helpers/sdk.js';
import { ManualClock, PermissionScopes } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { NotifyClient } from '../../src/client/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');
/** push.collapseMs of the first server: its windows run on a manual clock the tests move, so a
 * loaded machine can neither close a window in the middle of a burst nor leave one open. */
const COLLAPSE_MS = 400;

t.test('web push', async (t) => {
  const vapid = webpush.generateVAPIDKeys();
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, {
    clock,
    config: {
      server: { metricsAccess: 'open' },
      presence: { leaveGraceMs: 0 },
      notify: { maxFollowsPerToken: 2 },
      push: {
        vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, subject: 'mailto:ops@example.com',
        ttlSec: 600, urgency: 'high', collapseMs: COLLAPSE_MS, allowInsecureEndpoints: true, allowPrivateEndpoints: true,
      },
    },
  });
  const pushService = await HttpReceiver.start(t);
  pushService.respond = () => ({ status: 201 });
  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));

  const key = await (await fetch(`${server.httpUrl}/v1/push/vapid-public-key`)).json() as { publicKey: string };
  t.equal(key.publicKey, vapid.publicKey, 'the public key is served for applicationServerKey');

  // A browser of gina's: registered and following through the SDK.
  const gina = await sdkFor(t, server, { tokenId: 'gina', token: await tokenFor(server, scope, { tokenId: 'gina' }) });
  const browser = browserSubscription(`${pushService.url}/push/gina-1`);
  t.equal((await gina.notify.registerPush(browser.json)).type, 'Success');
  t.equal((await gina.notify.follow(CACHE, 'room')).type, 'Success');
  const sdkKey = await gina.notify.vapidPublicKey();
  t.equal(sdkKey.type === 'Success' ? sdkKey.publicKey : undefined, vapid.publicKey);
  // unfollow frees a follow (maxFollowsPerToken 2), and closing a NotifyClient on a shared
  // connection leaves it open; gina ends following only 'room', as the cases below expect.
  t.equal((await gina.notify.follow(CACHE, 'spare')).type, 'Success');
  const overLimit = await gina.notify.follow(CACHE, 'third');
  t.equal(overLimit.type === 'Error' && overLimit.errorCode(), 'LIMIT_EXCEEDED_ERROR', 'a third follow is over the limit');
  new NotifyClient({ connection: gina.connection }).close();
  t.equal((await gina.notify.unfollow(CACHE, 'spare')).type, 'Success');
  t.equal((await gina.notify.follow(CACHE, 'third')).type, 'Success', 'unfollow made room');
  t.equal((await gina.notify.unfollow(CACHE, 'third')).type, 'Success');

  t.test('an item for a follower who is away arrives encrypted, signed, with TTL / Urgency / Topic', async (t) => {
    await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'are you there?' });
    const [req] = await pushService.until(1);
    t.equal(req!.path, '/push/gina-1');
    t.equal(req!.headers['content-encoding'], 'aes128gcm');
    t.equal(req!.headers['ttl'], '600');
    t.equal(req!.headers['urgency'], 'high');
    t.match(req!.headers['topic'], /^[A-Za-z0-9_-]{1,32}$/, 'a Topic header so the push service replaces, not piles up');
    const claims = await verifyVapid(req!.headers, vapid.publicKey, pushService.url);
    t.equal(claims.sub, 'mailto:ops@example.com');
    t.ok(claims.exp! * 1000 > Date.now() && claims.exp! * 1000 <= Date.now() + 24 * 3600_000 + 60_000, 'expires within 24 h');
    const payload = JSON.parse(decrypt(browser, req!.body)) as Record<string, any>;
    t.match(payload, { cache: CACHE, topic: 'room', count: 1, item: { value: 'are you there?', tokenId: 'hank', seq: 1 } });
  });

  t.test('a burst collapses: the first item at once, the rest in one push with the newest and the count', async (t) => {
    clock.advance(COLLAPSE_MS); // the first push's window is over
    for (const v of ['one', 'two', 'three']) await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: v });
    await pushService.until(2);
    clock.advance(COLLAPSE_MS - 1);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(pushService.received.length, 2, 'nothing more within the window');
    clock.advance(1);
    await pushService.until(3);
    const payloads = pushService.received.slice(1).map((r) => JSON.parse(decrypt(browser, r.body)) as Record<string, any>);
    t.match(payloads, [{ count: 1, item: { value: 'one' } }, { count: 2, item: { value: 'three' } }]);
    clock.advance(COLLAPSE_MS);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(pushService.received.length, 3, 'nothing else was sent');
  });

  t.test('no push while the follower is on the topic', async (t) => {
    clock.advance(COLLAPSE_MS); // the collapse window is closed
    const tab = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'gina' }));
    await tab.ok({ t: 'sub', cache: CACHE, topic: 'room' });
    await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'seen live' });
    await tab.items(1);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(pushService.received.length, 3);
    tab.close();
    await tab.waitClosed();
  });

  t.test('410 from the push service removes the subscription', async (t) => {
    clock.advance(COLLAPSE_MS);
    pushService.respond = () => ({ status: 410 });
    await waitFor('gina\'s tab close to reach presence', async () => !(await server.engine.presence.isPresent(CACHE, 'room', 'gina')));
    await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'gone?' });
    await pushService.until(4);
    await new Promise((r) => setTimeout(r, 50));
    const unregistered = await gina.notify.unregisterPush(browser.json.endpoint);
    t.equal(unregistered.type === 'Success' && unregistered.removed, false, 'the server forgot it');
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    t.match(metrics, /^tidings_push_gone_total 1$/m);
    t.match(metrics, /^tidings_push_sent_total 3$/m);
    t.match(metrics, /^tidings_push_collapsed_total 1$/m);
    clock.advance(COLLAPSE_MS);
    await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'nobody to push to' });
    await new Promise((r) => setTimeout(r, 200));
    t.equal(pushService.received.length, 4, 'no push to a removed subscription');
  });

  t.test('registration over HTTP, and what is refused', async (t) => {
    const ivy = await tokenFor(server, scope, { tokenId: 'ivy' });
    const post = (token: string | undefined, body: unknown) => fetch(`${server.httpUrl}/v1/push/subscriptions`, {
      method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body: JSON.stringify(body),
    });
    t.equal((await post(ivy, browserSubscription(`${pushService.url}/push/ivy`).json)).status, 201);
    t.equal((await post(undefined, browserSubscription(`${pushService.url}/push/x`).json)).status, 401);
    const badKey = await post(ivy, { endpoint: `${pushService.url}/push/ivy2`, keys: { p256dh: 'AAAA', auth: 'AAAA' } });
    t.equal(badKey.status, 400);
    const withCredentials = await post(ivy, browserSubscription(`${pushService.url.replace('http://', 'http://user:pass@')}/push/ivy3`).json);
    t.equal(withCredentials.status, 400, 'an endpoint with user:password@ (docs/push.md) is refused');
    t.match(((await withCredentials.json()) as { error: { message: string } }).error.message, /user:password@/);
    const longEndpoint = browserSubscription(`${pushService.url}/push/${'e'.repeat(2049 - `${pushService.url}/push/`.length)}`).json;
    const tooLong = await post(ivy, longEndpoint);
    t.equal(tooLong.status, 400, 'an endpoint over 2048 characters (docs/push.md) is refused');
    t.match(((await tooLong.json()) as { error: { message: string } }).error.message, /at most 2048 characters/);
    t.equal((await post(ivy, { ...longEndpoint, endpoint: longEndpoint.endpoint.slice(0, 2048) })).status, 201, 'one of 2048 is taken');
    const anonymous = (await server.auth.mintDisposableToken({ scope, expiresInSec: 60 })).token;
    const noId = await post(anonymous, browserSubscription(`${pushService.url}/push/y`).json);
    t.equal(noId.status, 409);
    t.equal(((await noId.json()) as { error: { code: string } }).error.code, 'FAILED_PRECONDITION_ERROR', 'push is per user: a tokenId is needed');
    const follow = await fetch(`${server.httpUrl}/v1/follows`, {
      method: 'POST', headers: { authorization: `Bearer ${await tokenFor(server, PermissionScopes.topicPublishOnly(CACHE, '*'), { tokenId: 'ivy' })}` },
      body: JSON.stringify({ cache: CACHE, topic: 'room' }),
    });
    t.equal(follow.status, 403, 'following needs the right to read the topic');
    const following = (topic: string) => fetch(`${server.httpUrl}/v1/follows`, { method: 'POST', headers: { authorization: `Bearer ${ivy}` }, body: JSON.stringify({ cache: CACHE, topic }) });
    t.same([(await following('f1')).status, (await following('f2')).status, (await following('f1')).status], [200, 200, 200], 'two topics, one followed again');
    const third = await following('f3');
    t.equal(third.status, 429, 'a third topic passes notify.maxFollowsPerToken');
    t.match(await third.json(), { error: { cause: 'follows_limit_exceeded' } });
  });

  t.test('https only, unless allowed', async (t) => {
    const strict = await startServer(t, { config: { push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey } } });
    const c = await RawClient.open(strict, await tokenFor(strict, scope, { tokenId: 'jo' }));
    const r = await c.request({ t: 'pushRegister', subscription: browserSubscription('http://127.0.0.1:1/push').json });
    t.equal(r['e']?.['code'], 'INVALID_ARGUMENT_ERROR');
    c.close();
    const off = await startServer(t);
    const d = await RawClient.open(off, await tokenFor(off, scope, { tokenId: 'jo' }));
    const k = await d.request({ t: 'pushKey' });
    t.equal(k['e']?.['code'], 'FAILED_PRECONDITION_ERROR', 'no VAPID keys outside dev mode: push is off');
    t.match(k['e']?.['message'], /not configured.*push\.vapidPublicKey/, 'naming the key that turns it on');
    d.close();
    const overHttp = await fetch(`${off.httpUrl}/v1/push/vapid-public-key`);
    t.equal(overHttp.status, 409);
    t.match(((await overHttp.json()) as { error: { message: string } }).error.message, /not configured.*push\.vapidPublicKey/, 'over HTTP too');
  });

  t.test('an item too big for a push (4 KiB) arrives without its value, marked truncated; the follower\'s own item is not pushed', async (t) => {
    const lena = browserSubscription(`${pushService.url}/push/lena`);
    const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'lena' }));
    await c.ok({ t: 'pushRegister', subscription: lena.json });
    await c.ok({ t: 'follow', cache: CACHE, topic: 'big' });
    pushService.respond = () => ({ status: 201 });
    // Away (not subscribed), lena publishes herself: were it pushed, it would be her first push, and
    // hank's item would wait for the collapse window.
    await c.ok({ t: 'pub', cache: CACHE, topic: 'big', value: 'my own' });
    c.close();
    await c.waitClosed();
    await publisher.ok({ t: 'pub', cache: CACHE, topic: 'big', value: 'x'.repeat(5000) });
    await waitFor('lena\'s push', () => pushService.received.some((r) => r.path === '/push/lena'));
    const payload = JSON.parse(decrypt(lena, pushService.received.find((r) => r.path === '/push/lena')!.body)) as Record<string, any>;
    t.match(payload, { cache: CACHE, topic: 'big', count: 1, truncated: true, item: { tokenId: 'hank', seq: 2 } });
    t.notOk('value' in payload['item'], 'the value is left out');
  });
});

/** A server that pushes to a push service on this machine and tries a refused push once more, at
 * once (push.backoffInitialMs and backoffMaxMs 1 ms, maxAttempts 2). */
function retryingAtOnce(t: Test): ReturnType<typeof startServer> {
  const vapid = webpush.generateVAPIDKeys();
  return startServer(t, {
    config: {
      presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, backoffInitialMs: 1, backoffMaxMs: 1, maxAttempts: 2 },
    },
  });
}

t.test('web push - push.backoffMaxMs caps the wait a push service asks for (Retry-After), so the retry comes on the knob', async (t) => {
  // An hour asked for, capped to 1 ms by the knob: the retry follows at once (a fixed 30 s cap would hold it).
  const server = await retryingAtOnce(t);
  const pushService = await HttpReceiver.start(t);
  pushService.respond = (_r, index) => (index === 0 ? { status: 503, headers: { 'retry-after': '3600' } } : { status: 201 });
  const kim = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'kim' }));
  await kim.ok({ t: 'pushRegister', subscription: browserSubscription(`${pushService.url}/push/kim`).json });
  await kim.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  kim.close();
  await kim.waitClosed();
  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'again' });
  const [first, second] = await pushService.until(2);
  t.equal(first!.path, '/push/kim');
  t.equal(second!.path, '/push/kim', 'the refused push was sent again');
  publisher.close();
});

/** The browser's subscription got new keys for the same endpoint (registered again: "Registering
 * the same endpoint again replaces its keys") while a push to it waited for its retry. The retry
 * was encrypted to the keys of when it was queued: the push service took it (counted sent), and
 * the browser, holding only the new keys, could not decrypt it. Each attempt now encrypts to the
 * keys registered then. */
t.test('web push - a push retried after its endpoint was registered again with new keys is encrypted to the new keys', async (t) => {
  const server = await retryingAtOnce(t);
  const pushService = await HttpReceiver.start(t);
  let registeredAgain!: () => void;
  const held = new Promise<void>((resolve) => { registeredAgain = resolve; });
  // The first attempt is answered 503 only once the endpoint was registered again.
  pushService.respond = (_r, index) => (index === 0 ? { status: 503, hold: held } : { status: 201 });
  const leeToken = await tokenFor(server, scope, { tokenId: 'lee' });
  const lee = await RawClient.open(server, leeToken);
  t.teardown(() => lee.close());
  const before = browserSubscription(`${pushService.url}/push/lee`);
  await lee.ok({ t: 'pushRegister', subscription: before.json });
  await lee.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  const publisher = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'hank' }));
  t.teardown(() => publisher.close());
  await publisher.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'for the keys you hold' });
  await pushService.until(1);
  const after = browserSubscription(before.json.endpoint);
  await lee.ok({ t: 'pushRegister', subscription: after.json });
  registeredAgain();
  const [, retried] = await pushService.until(2);
  t.match(JSON.parse(decrypt(after, retried!.body)), { topic: 'room', item: { value: 'for the keys you hold' } }, 'the browser can read the retry');
});
