/** A tokenId is not bound to the key that minted it: an API key of one cache can mint a token
 * named "alice". Such a token must receive, through Web Push, nothing it could not subscribe to
 * itself: a push subscription keeps the scope of the credential that registered it, and a push for
 * a topic goes to it only when that scope may subscribe to the topic (docs/push.md, "Whose pushes
 * a subscription gets"). Alice's own subscription still gets her pushes, and the impostor's
 * follows (made under her name, in its own cache) do not reach her browser either. Engines memory
 * and redis; with redis the scope must survive Redis: heard on the channel by a node that was up,
 * and loaded by a node started afterwards. Everything goes through the HTTP and WebSocket routes a
 * backend and a browser use. Registering again with a narrower token narrows what is pushed, queued pushes included; a token that may
 * subscribe to nothing, or whose scope is past push.maxScopeBytes, is refused; a subscription
 * stored (engine redis) before subscriptions kept a scope is not loaded, with one warning per load,
 * until it is registered again. */
import tap, { type Test } from 'tap';
import webpush from 'web-push';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { startServer, testEachEngine, type TestEngine } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { createLogger } from '../../src/core/logger.js';
import { RawClient } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { browserSubscription, decrypt, type BrowserSubscription } from '../helpers/push-service.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { PermissionScopes, createServer, defaultFeatures, generateSigningKey, type DeepPartial, type Scope, type TidingsConfig, type TidingsServer } from '../../src/index.js';

/** Nodes of one deployment: with memory one server three times; with redis three nodes on one
 * prefix, the third started only when asked (after the registrations). */
async function deployment(t: Test, engine: TestEngine): Promise<{ a: TidingsServer; b: TidingsServer; later: () => Promise<TidingsServer>; push: HttpReceiver }> {
  const vapid = webpush.generateVAPIDKeys();
  const push = await HttpReceiver.start(t);
  push.respond = () => ({ status: 201 });
  const config: DeepPartial<TidingsConfig> = {
    auth: { signingKeys: [generateSigningKey()] },
    presence: { leaveGraceMs: 0 },
    // Every item here is on a topic of its own; a long window keeps a repeated publish (waiting for
    // another node to hear a change) from sending a second push.
    push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true, collapseMs: 60_000 },
  };
  if (engine === 'memory') {
    const s = await startServer(t, { engine, config });
    return { a: s, b: s, later: async () => s, push };
  }
  const redisUrl = await sharedRedisUrl();
  const redisKeyPrefix = uniquePrefix('push-scope');
  t.teardown(() => deletePrefix(redisUrl, redisKeyPrefix));
  const node = () => startServer(t, { engine, redisUrl, redisKeyPrefix, config });
  return { a: await node(), b: await node(), later: node, push };
}

/** Mints over POST /v1/tokens, as a backend does with its API key. */
async function mint(node: TidingsServer, apiKey: string, scope: Scope, tokenId: string): Promise<string> {
  const res = await fetch(`${node.httpUrl}/v1/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope, expiresInSeconds: 300, tokenId }),
  });
  if (res.status !== 201) throw new Error(`mint: ${res.status}`);
  return ((await res.json()) as { authToken: string }).authToken;
}

async function open(t: Test, node: TidingsServer, token: string): Promise<RawClient> {
  const c = await RawClient.open(node, token);
  t.teardown(() => c.close());
  return c;
}

testEachEngine('a token minted under another user\'s tokenId by a key of another cache gets none of that user\'s pushes', async (t, engine) => {
  const { a, b, later, push } = await deployment(t, engine);
  // Two backends: the chat app's key covers cache "chat"; another tenant's key covers cache "other" only.
  const chatKey = (await a.auth.mintApiKey({ scope: PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat')), expiresInSec: null })).token;
  const otherKey = (await a.auth.mintApiKey({ scope: PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('other', '*'), PermissionScopes.cacheReadWrite('other')), expiresInSec: null })).token;

  const aliceBrowser = browserSubscription(`${push.url}/push/alice`);
  const alice = await open(t, a, await mint(a, chatKey, PermissionScopes.topicPublishSubscribe('chat', '*'), 'alice'));
  await alice.ok({ t: 'pushRegister', subscription: aliceBrowser.json });
  for (let i = 1; i <= 3; i++) await alice.ok({ t: 'follow', cache: 'chat', topic: `room-${i}` });
  alice.close();

  // The other tenant's key names its token "alice" too, and registers its own endpoint under it.
  const impostorBrowser = browserSubscription(`${push.url}/push/impostor`);
  const impostor = await open(t, b, await mint(b, otherKey, PermissionScopes.topicPublishSubscribe('other', '*'), 'alice'));
  await impostor.ok({ t: 'pushRegister', subscription: impostorBrowser.json });
  for (let i = 0; i <= 3; i++) await impostor.ok({ t: 'follow', cache: 'other', topic: `news-${i}` });
  const followChat = await impostor.request({ t: 'follow', cache: 'chat', topic: 'room-1' });
  t.equal((followChat['e'] as { code?: string } | undefined)?.code, 'PERMISSION_ERROR', 'it may not follow alice\'s room itself');
  impostor.close();

  const hank = await open(t, a, (await a.auth.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('*', '*'), expiresInSec: 300, tokenId: 'hank' })).token);
  const got = (browser: BrowserSubscription, path: string) => push.received.filter((r) => r.path === path).map((r) => JSON.parse(decrypt(browser, r.body)) as { cache: string; topic: string; item: { value: string } });
  const aliceGot = () => got(aliceBrowser, '/push/alice').map((p) => `${p.cache}/${p.topic}`);
  const impostorGot = () => got(impostorBrowser, '/push/impostor').map((p) => `${p.cache}/${p.topic}`);

  // Node a hears the impostor's registration (made on b) before its follow of news-0: once a
  // publish through a reaches the impostor's endpoint, a has both.
  await waitFor('node a to hear the impostor\'s registration', async () => {
    await hank.ok({ t: 'pub', cache: 'other', topic: 'news-0', value: 'other tenant' });
    return impostorGot().length > 0;
  });

  // Each endpoint's pushes go one at a time, in order: a push misdirected to one would arrive
  // before the item published after it that the endpoint is owed.
  const third = await later();
  const hankLater = await open(t, third, (await third.auth.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('*', '*'), expiresInSec: 300, tokenId: 'hank' })).token);
  for (const [via, i] of [[hank, 1], [hank, 2], [hankLater, 3]] as const) {
    await via.ok({ t: 'pub', cache: 'chat', topic: `room-${i}`, value: `for alice ${i}` });
    await via.ok({ t: 'pub', cache: 'other', topic: `news-${i}`, value: `other tenant ${i}` });
  }
  await waitFor('alice\'s and the impostor\'s own pushes', () => aliceGot().includes('chat/room-3') && impostorGot().includes('other/news-3'));
  t.notOk(await eventually(() => aliceGot().length > 3 || impostorGot().length > 4, 500), 'nothing more arrives');
  t.same(aliceGot(), ['chat/room-1', 'chat/room-2', 'chat/room-3'], 'alice gets her rooms, and none of what the impostor follows under her name');
  t.same(impostorGot(), ['other/news-0', 'other/news-1', 'other/news-2', 'other/news-3'], 'the impostor\'s endpoint gets only topics of its own cache');
  t.equal(got(aliceBrowser, '/push/alice')[0]?.item.value, 'for alice 1');
});

testEachEngine('registering again with a narrower token narrows what the subscription is pushed, queued pushes included', async (t, engine) => {
  const { a, push } = await deployment(t, engine);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  t.teardown(() => release());
  // The first push is held open: the next one waits behind it in the endpoint's lane.
  push.respond = (_r, i) => (i === 0 ? { status: 201, hold: held } : { status: 201 });
  const token = (scope: Scope) => a.auth.mintDisposableToken({ scope, expiresInSec: 300, tokenId: 'gina' }).then((m) => m.token);
  const browser = browserSubscription(`${push.url}/push/gina`);
  const wide = await open(t, a, await token(PermissionScopes.topicSubscribeOnly('chat', '*')));
  await wide.ok({ t: 'pushRegister', subscription: browser.json });
  for (const topic of ['room-0', 'room-1', 'room-2', 'room-3']) await wide.ok({ t: 'follow', cache: 'chat', topic });
  wide.close();
  const hank = await open(t, a, await a.auth.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: 300, tokenId: 'hank' }).then((m) => m.token));
  await hank.ok({ t: 'pub', cache: 'chat', topic: 'room-0', value: 'first' });
  await waitFor('the first push in flight', () => push.received.length === 1);
  await hank.ok({ t: 'pub', cache: 'chat', topic: 'room-1', value: 'queued behind it' });

  // The browser registers again with a token for room-2 alone.
  const narrow = await open(t, a, await token(PermissionScopes.topicSubscribeOnly('chat', 'room-2')));
  await narrow.ok({ t: 'pushRegister', subscription: browser.json });
  release();
  await hank.ok({ t: 'pub', cache: 'chat', topic: 'room-3', value: 'after the narrowing' });
  await hank.ok({ t: 'pub', cache: 'chat', topic: 'room-2', value: 'still covered' });
  const values = () => push.received.map((r) => (JSON.parse(decrypt(browser, r.body)) as { item: { value: string } }).item.value);
  await waitFor('the push of room-2', () => values().includes('still covered'));
  t.same(values(), ['first', 'still covered'], 'neither room-1\'s queued push nor room-3\'s later one is sent: the scope no longer covers them');
  const metrics = await (await fetch(`${a.httpUrl}/metrics`, { headers: { authorization: `Bearer ${(await a.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token}` } })).text();
  t.match(metrics, /^tidings_push_dead_letters_total\{reason="unregistered"\} 1$/m, 'the queued one counted as unregistered');
});

testEachEngine('a token that may subscribe to nothing, or whose scope is past push.maxScopeBytes, cannot register', async (t, engine) => {
  const { a, push } = await deployment(t, engine);
  const register = async (scope: Scope) => {
    const c = await open(t, a, (await a.auth.mintDisposableToken({ scope, expiresInSec: 300, tokenId: 'ivy' })).token);
    const reply = await c.request({ t: 'pushRegister', subscription: browserSubscription(`${push.url}/push/ivy`).json });
    c.close();
    return reply['e'] as { code: string; message: string; cause?: string } | undefined;
  };
  const publishOnly = await register(PermissionScopes.combine(PermissionScopes.topicPublishOnly('chat', '*'), PermissionScopes.cacheReadWrite('chat')));
  t.equal(publishOnly?.code, 'PERMISSION_ERROR');
  t.match(publishOnly?.message, /may subscribe to no topic/);
  // 20 permissions of long topic names: within auth.maxPermissions, past the 4096 bytes kept.
  const long = PermissionScopes.combine(...Array.from({ length: 20 }, (_, i) => PermissionScopes.topicSubscribeOnly('chat', `${'r'.repeat(240)}-${i}`)));
  const tooLarge = await register(long);
  t.equal(tooLarge?.code, 'LIMIT_EXCEEDED_ERROR');
  t.equal(tooLarge?.cause, 'push_subscriptions_limit_exceeded');
  t.match(tooLarge?.message, /push\.maxScopeBytes/);
  t.equal(await register(PermissionScopes.topicSubscribeOnly('chat', '*')), undefined, 'a token that may subscribe registers');
}, ['memory']);

tap.test('subscriptions stored before they kept a scope are not loaded, with one warning, and work once registered again [redis]', async (t) => {
  if (!requireRedis(t)) return;
  const redisUrl = await sharedRedisUrl();
  const prefix = uniquePrefix('push-old');
  t.teardown(() => deletePrefix(redisUrl, prefix));
  const push = await HttpReceiver.start(t);
  push.respond = () => ({ status: 201 });
  // What an earlier version stored (docs/operations.md, "Keys"): per tokenId endpoint -> its keys only.
  const old = ['u0', 'u1', 'u2'].map((u) => ({ tokenId: u, browser: browserSubscription(`${push.url}/push/${u}`) }));
  const redis = new Redis(redisUrl);
  t.teardown(() => redis.quit());
  for (const { tokenId, browser } of old) {
    await redis.hset(`${prefix}n:p:${tokenId}`, browser.json.endpoint, JSON.stringify(browser.json.keys));
    await redis.sadd(`${prefix}n:\u0000p:tokens`, tokenId);
    await redis.hset(`${prefix}n:\u0000p:owners`, browser.json.endpoint, tokenId);
  }
  await redis.set(`${prefix}n:\u0000p:count`, old.length);

  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const vapid = webpush.generateVAPIDKeys();
  const server = await createServer({
    config: {
      engine: 'redis', redis: { url: redisUrl, keyPrefix: prefix },
      server: { port: 0, shutdownGraceMs: 200 }, auth: { signingKeys: [generateSigningKey()] }, presence: { leaveGraceMs: 0 },
      push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true },
    },
    logger: createLogger({ level: 'warn', destination: sink }),
  }, defaultFeatures());
  t.teardown(() => server.close());

  const lines = written.split('\n').filter((l) => l.includes('push subscription'));
  t.equal(lines.length, 1, 'one warning for the load, not one per subscription');
  t.match(JSON.parse(lines[0]!), { skipped: 3, reason: /permissions array/ });
  for (const { browser } of old) t.notOk(written.includes(browser.json.keys.auth), 'no auth secret in the log');

  const token = (tokenId: string) => server.auth.mintDisposableToken({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: 300, tokenId }).then((m) => m.token);
  const u0 = await open(t, server, await token('u0'));
  await u0.ok({ t: 'pushRegister', subscription: old[0]!.browser.json });
  await u0.ok({ t: 'follow', cache: 'chat', topic: 'room' });
  u0.close();
  const u1 = await open(t, server, await token('u1'));
  await u1.ok({ t: 'follow', cache: 'chat', topic: 'room' });
  u1.close();
  const hank = await open(t, server, await token('hank'));
  await hank.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'hello' });
  await waitFor('u0\'s push', () => push.received.some((r) => r.path === '/push/u0'));
  t.match(decrypt(old[0]!.browser, push.received.find((r) => r.path === '/push/u0')!.body), /hello/, 'registered again: pushed');
  t.notOk(await eventually(() => push.received.some((r) => r.path === '/push/u1'), 500), 'not registered again: no push');
});
