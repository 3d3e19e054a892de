/** Follows, Web Push subscriptions and webhook endpoints added through the admin route are the
 * deployment's, not a node's (engine "redis",
 * docs/operations.md "Follows, push subscriptions and webhooks are shared"): real nodes on one
 * real redis-server. A follow or subscription registered on one node is notified by whichever node
 * takes the publish, exactly once; a push endpoint's 410 and a tokenId's revocation remove them on
 * every node; an endpoint registered under another tokenId moves to it on every node (one push
 * per item); notify.maxFollowsPerToken / maxFollows and push.maxSubscriptionsPerToken hold across
 * nodes; they survive a restart of every node; with Redis away a follow or registration answers
 * SERVER_UNAVAILABLE (retryable) instead of an acknowledgement that would be lost, and a node whose
 * Redis link was cut loads what changed meanwhile once it is back. An admin-added webhook endpoint
 * is sent to by every node (signed with its one secret), once per event, counts against
 * webhooks.maxEndpoints for the deployment, goes from every node when deleted on one, and survives
 * a restart of every node. */
import t, { type Test } from 'tap';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt, type BrowserSubscription } from '../helpers/push-service.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { verify } from '../../src/notify/webhook-signature.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

interface Deployment {
  /** Starts one more node on the deployment's Redis and prefix (optionally through another URL). */
  node(redisUrl?: string): Promise<TidingsServer>;
  hooks: HttpReceiver;
  push: HttpReceiver;
  redisUrl: string;
}

async function deployment(t: Test, options: { redisUrl?: string; config?: DeepPartial<TidingsConfig> } = {}): Promise<Deployment> {
  const redisUrl = options.redisUrl ?? await sharedRedisUrl();
  const prefix = uniquePrefix('notify');
  t.teardown(() => deletePrefix(redisUrl, prefix));
  const hooks = await HttpReceiver.start(t);
  const push = await HttpReceiver.start(t);
  push.respond = () => ({ status: 201 });
  const vapid = webpush.generateVAPIDKeys();
  // One deployment: one signing key, one config file on every node.
  const extra = options.config ?? {};
  const config: DeepPartial<TidingsConfig> = {
    ...extra,
    auth: { signingKeys: [generateSigningKey()] },
    presence: { leaveGraceMs: 0 },
    push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, collapseMs: 20, ...extra.push },
    webhooks: { allowPrivateUrls: true, ...extra.webhooks, endpoints: [{ name: 'backend', url: hooks.url, secret: 'a-secret-of-enough-length', cache: CACHE, topicPrefix: '', events: ['item.undelivered'] }] },
  };
  return {
    hooks, push, redisUrl,
    node: (url = redisUrl) => startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config }),
  };
}

async function client(t: Test, node: TidingsServer, tokenId: string): Promise<RawClient> {
  const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId }));
  t.teardown(() => c.close());
  return c;
}

/** A user away from every topic: follows `topics` and registers one browser, on `node`. */
async function follower(t: Test, d: Deployment, node: TidingsServer, tokenId: string, topics: string[]): Promise<BrowserSubscription> {
  const c = await client(t, node, tokenId);
  const browser = browserSubscription(`${d.push.url}/push/${tokenId}`);
  await c.ok({ t: 'pushRegister', subscription: browser.json });
  for (const topic of topics) await c.ok({ t: 'follow', cache: CACHE, topic });
  return browser;
}

const undelivered = (d: Deployment, tokenId: string, topic: string) =>
  d.hooks.events().filter((e) => e['type'] === 'item.undelivered' && e['tokenId'] === tokenId && e['topic'] === topic);
const pushes = (d: Deployment, tokenId: string) => d.push.received.filter((r) => r.path === `/push/${tokenId}`);

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Publishes a marker that `markerUser` (following `marker`) is notified of, by webhook and push,
 * and waits for both: whatever the publishes before it were going to send has been sent by then. */
async function settle(d: Deployment, via: RawClient, markerUser: string, marker: string): Promise<void> {
  const [hooks, sent] = [undelivered(d, markerUser, marker).length, pushes(d, markerUser).length];
  await via.ok({ t: 'pub', cache: CACHE, topic: marker, value: 'marker' });
  await until(`the marker reaches ${markerUser}`, () => undelivered(d, markerUser, marker).length > hooks && pushes(d, markerUser).length > sent);
  await new Promise((r) => setTimeout(r, 150));
}

async function putWebhook(node: TidingsServer, name: string, body: Record<string, unknown>): Promise<Response> {
  const key = (await node.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  return fetch(`${node.httpUrl}/v1/webhooks/${CACHE}/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
}

async function webhookAdmin(node: TidingsServer, method: 'GET' | 'DELETE', path: string): Promise<Response> {
  const key = (await node.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  return fetch(`${node.httpUrl}/v1/webhooks/${CACHE}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
}

const listed = async (node: TidingsServer) => ((await (await webhookAdmin(node, 'GET', '')).json()) as { endpoints: Array<{ name: string }> }).endpoints.map((e) => e.name).sort();

let syncs = 0;

/** Waits until `to` has heard every follow and subscription change made on `from` so far (a change
 * is acknowledged once Redis has it and reaches the other nodes a moment later): a fresh follow
 * made on `from` after them is announced after them, so once a publish through `to` notifies it,
 * `to` has them all. */
async function sync(t: Test, d: Deployment, from: TidingsServer, to: TidingsServer): Promise<void> {
  const name = `sync-${++syncs}`;
  await (await client(t, from, name)).ok({ t: 'follow', cache: CACHE, topic: name });
  const pub = await client(t, to, 'syncer');
  await until(`${name} reaches the other node`, async () => {
    await pub.request({ t: 'pub', cache: CACHE, topic: name, value: 'sync' });
    await new Promise((r) => setTimeout(r, 50));
    return undelivered(d, name, name).length > 0;
  });
}

const errorOf = (reply: Frame) => (reply['t'] === 'err' ? reply['e'] as { code: string; message: string; cause?: string } : undefined);

t.test('follows and push subscriptions shared by every node on one Redis', async (t) => {
  if (!requireRedis(t)) return;

  t.test('a follow registered on one node is notified by the node that takes the publish, once', async (t) => {
    const d = await deployment(t);
    const [a, b, c] = [await d.node(), await d.node(), await d.node()];
    const browser = await follower(t, d, a, 'gina', ['room']);
    await follower(t, d, c, 'ivan', ['marker']);
    await sync(t, d, a, b);
    await sync(t, d, c, b);
    await sync(t, d, a, c);
    const hank = await client(t, b, 'hank');
    // Sent twice, the second time on node c (a client that reconnected elsewhere after a lost
    // answer): the retry is answered from Redis's record of the first and notifies no one again
    // (topic-engine.ts stamp: a repeat runs no publish hook). The marker goes through node c too.
    const pub = { t: 'pub', cache: CACHE, topic: 'room', value: 'are you there?', idempotencyKey: 'once' };
    const first = await hank.ok(pub);
    const retry = await client(t, c, 'hank');
    t.same(await retry.ok(pub), first, 'the retry of the idempotent publish is answered as the first');
    await until('gina\'s webhook and push', () => undelivered(d, 'gina', 'room').length >= 1 && pushes(d, 'gina').length >= 1);
    await settle(d, retry, 'ivan', 'marker');
    t.equal(undelivered(d, 'gina', 'room').length, 1, 'one item.undelivered webhook for gina');
    t.equal(undelivered(d, 'gina', 'room')[0]!['item']['value'], 'are you there?');
    t.equal(pushes(d, 'gina').length, 1, 'one Web Push to gina\'s browser');
    t.match(decrypt(browser, pushes(d, 'gina')[0]!.body), /are you there\?/, 'the push decrypts to the item');
  });

  t.test('an endpoint registered under another tokenId on another node moves there for every node', async (t) => {
    const d = await deployment(t);
    const [a, b] = [await d.node(), await d.node()];
    const device = browserSubscription(`${d.push.url}/push/device`);
    const alice = await client(t, a, 'alice');
    await alice.ok({ t: 'pushRegister', subscription: device.json });
    await alice.ok({ t: 'follow', cache: CACHE, topic: 'room' });
    const bob = await client(t, b, 'bob');
    await bob.ok({ t: 'pushRegister', subscription: device.json });
    await bob.ok({ t: 'follow', cache: CACHE, topic: 'room' });
    await follower(t, d, b, 'ivan', ['marker']);
    await sync(t, d, b, a);
    const hank = await client(t, a, 'hank');
    await hank.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'to the device' });
    await settle(d, hank, 'ivan', 'marker');
    t.equal(pushes(d, 'device').length, 1, 'node A, which saw alice register it, pushes once to the device (now bob\'s)');
    t.equal((await alice.ok({ t: 'pushUnregister', endpoint: device.json.endpoint }))['removed'], false, 'alice no longer holds it');
  });

  t.test('a push endpoint\'s 410 removes the subscription on every node', async (t) => {
    const d = await deployment(t);
    const [a, b, c] = [await d.node(), await d.node(), await d.node()];
    const browser = await follower(t, d, a, 'gina', ['room']);
    await follower(t, d, a, 'ivan', ['room']);
    for (const node of [b, c]) await sync(t, d, a, node);
    d.push.respond = (r) => ({ status: r.path === '/push/gina' && pushes(d, 'gina').length >= 2 ? 410 : 201 });
    const viaB = await client(t, b, 'hank');
    await viaB.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'first' });
    await until('the first push', () => pushes(d, 'gina').length === 1);
    t.match(decrypt(browser, pushes(d, 'gina')[0]!.body), /first/, 'registered on A, pushed by B');
    await viaB.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'second' });
    await until('the second push (answered 410)', () => pushes(d, 'gina').length === 2);
    // The removal is in Redis: unregistering finds nothing there, on any node.
    const viaC = await client(t, c, 'gina');
    await until('the subscription is gone from Redis', async () => (await viaC.ok({ t: 'pushUnregister', endpoint: browser.json.endpoint }))['removed'] === false);
    for (const [name, node] of [['a', a], ['b', b], ['c', c]] as const) {
      const pub = await client(t, node, 'hank');
      const before = pushes(d, 'ivan').length;
      await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: `after 410 via ${name}` });
      await until(`ivan's push via ${name}`, () => pushes(d, 'ivan').length > before);
    }
    await new Promise((r) => setTimeout(r, 150));
    t.equal(pushes(d, 'gina').length, 2, 'no node pushes to the gone endpoint again');
  });

  t.test('revoking a tokenId on one node removes its follows and subscriptions on every node', async (t) => {
    const d = await deployment(t);
    const [a, b, c] = [await d.node(), await d.node(), await d.node()];
    await follower(t, d, a, 'gina', ['room']);
    await follower(t, d, c, 'ivan', ['marker']);
    await sync(t, d, a, b);
    for (const node of [a, b]) await sync(t, d, c, node);
    const viaB = await client(t, b, 'hank');
    await viaB.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'before' });
    await until('gina is notified through B', () => undelivered(d, 'gina', 'room').length === 1 && pushes(d, 'gina').length === 1);
    await c.revoke({ tokenId: 'gina' });
    // Every node forgets them (the revocation reaches each node over Redis); a node started now
    // loads none of them.
    const d4 = await d.node();
    for (const node of [a, b]) await sync(t, d, c, node);
    for (const node of [a, b, c, d4]) {
      const pub = await client(t, node, 'hank');
      await pub.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'after' });
      await settle(d, pub, 'ivan', 'marker');
    }
    t.equal(undelivered(d, 'gina', 'room').length, 1, 'no webhook for the revoked tokenId after the revocation, from any node');
    t.equal(pushes(d, 'gina').length, 1, 'no push to the revoked tokenId\'s browser, from any node');
  });

  t.test('the limits are the deployment\'s', async (t) => {
    const d = await deployment(t, { config: { notify: { maxFollowsPerToken: 2, maxFollows: 3 }, push: { maxSubscriptionsPerToken: 1 } } });
    const [a, b, c] = [await d.node(), await d.node(), await d.node()];
    const [ginaA, ginaB, ginaC] = [await client(t, a, 'gina'), await client(t, b, 'gina'), await client(t, c, 'gina')];
    await ginaA.ok({ t: 'follow', cache: CACHE, topic: 't1' });
    await ginaB.ok({ t: 'follow', cache: CACHE, topic: 't2' });
    await ginaC.ok({ t: 'follow', cache: CACHE, topic: 't1' }); // already there: no new follow
    const third = errorOf(await ginaC.request({ t: 'follow', cache: CACHE, topic: 't3' }));
    t.equal(third?.code, 'LIMIT_EXCEEDED_ERROR', 'a third topic is refused on another node (maxFollowsPerToken 2)');
    t.match(third?.message, /at most 2 topics/);
    await (await client(t, c, 'ivan')).ok({ t: 'follow', cache: CACHE, topic: 't1' });
    const fourth = errorOf(await (await client(t, a, 'jack')).request({ t: 'follow', cache: CACHE, topic: 't1' }));
    t.equal(fourth?.code, 'LIMIT_EXCEEDED_ERROR', 'the deployment holds at most maxFollows 3');
    t.match(fourth?.message, /at most 3 follows/);
    await ginaB.ok({ t: 'unfollow', cache: CACHE, topic: 't2' });
    await ginaC.ok({ t: 'follow', cache: CACHE, topic: 't3' });
    t.pass('an unfollow on one node makes room on another');

    const first = browserSubscription(`${d.push.url}/push/one`);
    await ginaA.ok({ t: 'pushRegister', subscription: first.json });
    const second = errorOf(await ginaB.request({ t: 'pushRegister', subscription: browserSubscription(`${d.push.url}/push/two`).json }));
    t.equal(second?.code, 'LIMIT_EXCEEDED_ERROR', 'a second browser is refused on another node (maxSubscriptionsPerToken 1)');
    await ginaB.ok({ t: 'pushRegister', subscription: browserSubscription(`${d.push.url}/push/one`).json });
    t.pass('re-registering the same endpoint (new keys) on another node replaces it');
  });

  t.test('follows and subscriptions survive a restart of every node', async (t) => {
    const d = await deployment(t);
    const [a, b] = [await d.node(), await d.node()];
    const browser = await follower(t, d, a, 'gina', ['room']);
    await follower(t, d, b, 'ivan', ['marker']);
    await a.close();
    await b.close();
    const [a2, b2] = [await d.node(), await d.node()];
    const hank = await client(t, b2, 'hank');
    await hank.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'after the restart' });
    await until('gina is notified after the restart', () => undelivered(d, 'gina', 'room').length >= 1 && pushes(d, 'gina').length >= 1);
    await settle(d, hank, 'ivan', 'marker');
    t.equal(undelivered(d, 'gina', 'room').length, 1);
    t.equal(pushes(d, 'gina').length, 1);
    t.match(decrypt(browser, pushes(d, 'gina')[0]!.body), /after the restart/);
    t.ok(a2, 'a second generation of nodes');
  });

  t.test('with Redis away a follow or registration is refused as retryable; nothing acknowledged is lost', async (t) => {
    const redis = await startRedis(t, { aof: true });
    const d = await deployment(t, { redisUrl: redis.url, config: { redis: { queueTimeoutMs: 300 } } });
    const [a, b] = [await d.node(), await d.node()];
    await follower(t, d, a, 'gina', ['room']);
    await follower(t, d, b, 'ivan', ['marker']);
    const token = await tokenFor(a, scope, { tokenId: 'gina' });
    const ginaA = await client(t, a, 'gina');
    await redis.stop();

    const follow = errorOf(await ginaA.request({ t: 'follow', cache: CACHE, topic: 'later' }));
    t.equal(follow?.code, 'SERVER_UNAVAILABLE', 'follow: SERVER_UNAVAILABLE, not an acknowledgement');
    const register = errorOf(await ginaA.request({ t: 'pushRegister', subscription: browserSubscription(`${d.push.url}/push/gina-2`).json }));
    t.equal(register?.code, 'SERVER_UNAVAILABLE', 'pushRegister: SERVER_UNAVAILABLE');
    const put = await putWebhook(a, 'ops', { url: `${d.push.url}/ops`, topicPrefix: '', events: ['item.published'] });
    t.equal(put.status, 503, 'PUT /v1/webhooks answers 503');
    t.equal(((await put.json()) as { error: { code: string } }).error.code, 'SERVER_UNAVAILABLE');
    const res = await fetch(`${a.httpUrl}/v1/follows`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ cache: CACHE, topic: 'later' }) });
    t.equal(res.status, 503, 'POST /v1/follows answers 503');
    t.equal(((await res.json()) as { error: { code: string } }).error.code, 'SERVER_UNAVAILABLE');

    await redis.start();
    // The caller retries; once Redis is back the follow is taken.
    await until('a follow is taken again', async () => (await ginaA.request({ t: 'follow', cache: CACHE, topic: 'later' }))['t'] === 'ok');
    await sync(t, d, a, b);
    const hank = await client(t, b, 'hank');
    await until('a publish through B is taken again', async () => (await hank.request({ t: 'pub', cache: CACHE, topic: 'room', value: 'back' }))['t'] === 'ok');
    await hank.ok({ t: 'pub', cache: CACHE, topic: 'later', value: 'back' });
    await until('gina is notified of both', () => undelivered(d, 'gina', 'room').length >= 1 && undelivered(d, 'gina', 'later').length >= 1 && pushes(d, 'gina').length >= 2);
    t.pass('the follow acknowledged before the outage and the one retried after it both notify through B');
  });

  t.test('a node whose Redis link was cut loads the changes it missed once the link is back', async (t) => {
    const d = await deployment(t, { config: { redis: { connectTimeoutMs: 300, reconnectMaxMs: 200 } } });
    const port = Number(new URL(d.redisUrl).port);
    const proxy = await startTcpProxy(port);
    t.teardown(() => proxy.close());
    const a = await d.node();
    const b = await d.node(`redis://127.0.0.1:${proxy.port}`);
    await follower(t, d, a, 'ivan', ['marker']);
    const gina = await client(t, a, 'gina');
    await gina.ok({ t: 'follow', cache: CACHE, topic: 'early' });
    await sync(t, d, a, b);
    const hank = await client(t, b, 'hank');
    await hank.ok({ t: 'pub', cache: CACHE, topic: 'early', value: 'one' });
    await until('B notifies gina of early', () => undelivered(d, 'gina', 'early').length === 1);

    // B's link dies; meanwhile gina unfollows one topic and follows another through A.
    proxy.blackhole();
    proxy.reset();
    await gina.ok({ t: 'unfollow', cache: CACHE, topic: 'early' });
    await gina.ok({ t: 'follow', cache: CACHE, topic: 'late' });
    proxy.heal();

    let n = 0;
    await until('B notifies gina of late', async () => {
      if (undelivered(d, 'gina', 'late').length > 0) return true;
      await hank.request({ t: 'pub', cache: CACHE, topic: 'late', value: `try ${++n}` });
      await new Promise((r) => setTimeout(r, 100));
      return undelivered(d, 'gina', 'late').length > 0;
    }, 15_000);
    await hank.ok({ t: 'pub', cache: CACHE, topic: 'early', value: 'two' });
    await settle(d, hank, 'ivan', 'marker');
    t.equal(undelivered(d, 'gina', 'early').length, 1, 'the unfollow made while B was cut off holds on B');
  });

  t.test('a webhook endpoint added through the admin route is the deployment\'s', async (t) => {
    const d = await deployment(t, { config: { webhooks: { allowPrivateUrls: true, maxEndpoints: 3 } } });
    const [a, b, c] = [await d.node(), await d.node(), await d.node()];
    // Received on the push receiver under their own paths (the config-file endpoint has the other).
    const at = (path: string) => d.push.received.filter((r) => r.path === path);
    const events = (path: string) => at(path).flatMap((r) => (JSON.parse(r.text) as { events: Array<Record<string, any>> }).events);
    const put = await putWebhook(a, 'ops', { url: `${d.push.url}/ops`, topicPrefix: '', events: ['item.published'] });
    t.equal(put.status, 200);
    const { secret } = (await put.json()) as { secret: string };

    // Every node sends to it once it has heard of it.
    for (const [i, node] of [b, c].entries()) {
      const pub = await client(t, node, 'hank');
      let n = 0;
      await until(`node ${i + 2} sends to the endpoint`, async () => {
        await pub.request({ t: 'pub', cache: CACHE, topic: `probe-${i}`, value: `probe ${++n}` });
        await new Promise((r) => setTimeout(r, 50));
        return events('/ops').some((e) => e['topic'] === `probe-${i}`);
      });
    }
    const viaB = await client(t, b, 'hank');
    await viaB.ok({ t: 'pub', cache: CACHE, topic: 'once', value: 'one event' });
    await until('the event', () => events('/ops').some((e) => e['topic'] === 'once'));
    await viaB.ok({ t: 'pub', cache: CACHE, topic: 'after', value: 'marker' });
    await until('the marker', () => events('/ops').some((e) => e['topic'] === 'after'));
    await new Promise((r) => setTimeout(r, 150));
    t.equal(events('/ops').filter((e) => e['topic'] === 'once').length, 1, 'one item.published event, from the publishing node');
    const signed = at('/ops').find((r) => r.text.includes('"once"'))!;
    t.ok(verify(secret, signed.text, signed.headers['tidings-timestamp'] as string, signed.headers['tidings-signature'] as string, Date.now()),
      'node B signs with the secret node A answered');

    t.equal((await putWebhook(b, 'ops2', { url: `${d.push.url}/ops2`, topicPrefix: '', events: ['item.published'] })).status, 200);
    const third = await putWebhook(c, 'ops3', { url: `${d.push.url}/ops3`, topicPrefix: '', events: ['item.published'] });
    t.equal(((await third.json()) as { error: { code: string } }).error.code, 'LIMIT_EXCEEDED_ERROR',
      'a third admin endpoint is refused on another node (maxEndpoints 3, one in the config file)');
    await until('every node lists both', async () => (await Promise.all([a, b, c].map(listed))).every((l) => JSON.stringify(l) === JSON.stringify(['backend', 'ops', 'ops2'])));

    t.equal((await webhookAdmin(c, 'DELETE', '/ops')).status, 200, 'deleted on C');
    await until('no node lists it', async () => (await Promise.all([a, b, c].map(listed))).every((l) => !l.includes('ops')));
    for (const node of [a, b]) {
      const pub = await client(t, node, 'hank');
      const before = events('/ops2').length;
      await pub.ok({ t: 'pub', cache: CACHE, topic: 'gone', value: 'x' });
      await until('ops2 gets it', () => events('/ops2').length > before);
    }
    await new Promise((r) => setTimeout(r, 150));
    t.equal(events('/ops').filter((e) => e['topic'] === 'gone').length, 0, 'no node sends to the deleted endpoint');

    for (const node of [a, b, c]) await node.close();
    const a2 = await d.node();
    t.same(await listed(a2), ['backend', 'ops2'], 'a restarted node has the admin-added endpoint');
    await (await client(t, a2, 'hank')).ok({ t: 'pub', cache: CACHE, topic: 'restarted', value: 'x' });
    await until('sent after the restart', () => events('/ops2').some((e) => e['topic'] === 'restarted'));
  });
});
