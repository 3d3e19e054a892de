/** A node's copy of the shared follows and push subscriptions (engine "redis",
 * docs/operations.md "Follows, push subscriptions and webhooks are shared") is exactly what Redis
 * holds: real nodes on one real redis-server. A node loads them in many pages
 * (redis.notifyLoadPageSize) and still ends with every follow and subscription, also while
 * another node keeps following and unfollowing during the load; and its copy takes what Redis
 * holds even past its own configured bounds (a node started with lower notify, push or webhooks
 * limits during a rolling config change, or one that hears a change while its own newer one is
 * already applied), so no follow, subscription or admin-added webhook endpoint is left out of it.
 * A node's own change answered after later changes of other nodes were heard does not undo them.
 * A tokenId's revocation removes what it followed and registered as it is made: a node started
 * later leaves alone what the tokenId followed and registered since with a credential issued
 * after it. A tokenId is well-formed
 * Unicode (a lone surrogate would be stored as U+FFFD, so a reload would rename it). */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import webpush from 'web-push';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { browserSubscription } from '../helpers/push-service.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

async function deployment(t: Test) {
  const redisUrl = await sharedRedisUrl();
  const prefix = uniquePrefix('notifyload');
  t.teardown(() => deletePrefix(redisUrl, prefix));
  const redis = new Redis(redisUrl);
  t.teardown(() => redis.disconnect());
  const vapid = webpush.generateVAPIDKeys();
  const base: DeepPartial<TidingsConfig> = {
    auth: { signingKeys: [generateSigningKey()] },
    push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey, allowInsecureEndpoints: true, allowPrivateEndpoints: true },
  };
  const node = (config: DeepPartial<TidingsConfig> = {}, url = redisUrl) => startServer(t, {
    engine: 'redis', redisUrl: url, redisKeyPrefix: prefix,
    config: { ...base, ...config, auth: base.auth, push: { ...base.push, ...config.push } },
  });
  /** What Redis holds: "tokenId cache/topic" of every follow. */
  const stored = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const id of await redis.smembers(`${prefix}n:\u0000f:tokens`)) {
      for (const m of await redis.smembers(`${prefix}n:f:${id}`)) {
        const [cache, topic] = JSON.parse(m) as [string, string];
        out.push(`${id} ${cache}/${topic}`);
      }
    }
    return out.sort();
  };
  return { node, stored, redisUrl };
}

/** "tokenId cache/topic" of every follow in `node`'s copy, for the given topics. */
function copyOf(node: TidingsServer, topics: string[]): string[] {
  const out: string[] = [];
  for (const topic of topics) for (const id of node.engine.notify!.followers.of(CACHE, topic) ?? []) out.push(`${id} ${CACHE}/${topic}`);
  return out.sort();
}

async function http(node: TidingsServer, token: string, method: 'POST' | 'DELETE', topic: string): Promise<number> {
  const res = await fetch(`${node.httpUrl}/v1/follows`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ cache: CACHE, topic }) });
  await res.arrayBuffer();
  return res.status;
}

async function admin(node: TidingsServer, method: 'GET' | 'PUT', path: string, body?: unknown): Promise<Response> {
  const key = (await node.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  return fetch(`${node.httpUrl}/v1/webhooks/${CACHE}${path}`, { method, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

async function putWebhook(node: TidingsServer, name: string): Promise<number> {
  const res = await admin(node, 'PUT', `/${name}`, { url: 'http://127.0.0.1:9/hook', topicPrefix: '', events: ['item.published'] });
  await res.arrayBuffer();
  return res.status;
}

const listed = async (node: TidingsServer) => ((await (await admin(node, 'GET', '')).json()) as { endpoints: Array<{ name: string }> }).endpoints.map((e) => e.name).sort();

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('a node\'s copy of the shared follows and subscriptions is what Redis holds', async (t) => {
  if (!requireRedis(t)) return;

  t.test('a load in many pages brings every follow and subscription, also with changes made during it', async (t) => {
    const d = await deployment(t);
    const paged: DeepPartial<TidingsConfig> = { redis: { notifyLoadPageSize: 1 } };
    const a = await d.node(paged);
    // More tokenIds than Redis keeps in a compact set, so the index is scanned in many pages.
    const users = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const topics = ['t0', 't1', 't2', 't3'];
    const tokens = new Map<string, string>();
    for (const u of users) tokens.set(u, await tokenFor(a, scope, { tokenId: u }));
    const statuses = new Set<number>();
    for (const [i, u] of users.entries()) {
      statuses.add(await http(a, tokens.get(u)!, 'POST', topics[i % 4]!));
      if (i % 3 === 0) statuses.add(await http(a, tokens.get(u)!, 'POST', topics[(i + 1) % 4]!));
    }
    t.same([...statuses], [200], 'every follow stored');
    const browser = browserSubscription('http://127.0.0.1:9/push/user-7');
    const seven = await RawClient.open(a, tokens.get('user-7')!);
    t.teardown(() => seven.close());
    await seven.ok({ t: 'pushRegister', subscription: browser.json });

    // Node b loads while a keeps changing follows.
    let churning = true;
    let changes = 0;
    const churn = (async () => {
      for (let n = 0; churning; n++, changes++) {
        const u = users[(n * 7) % users.length]!;
        await http(a, tokens.get(u)!, n % 2 === 0 ? 'DELETE' : 'POST', topics[n % 4]!);
      }
    })();
    const b = await d.node(paged);
    churning = false;
    await churn;
    t.ok(changes > 0, 'follows changed while b started');
    const expected = await d.stored();
    t.ok(expected.length > 300, 'hundreds of follows stored');
    await until('b\'s copy is what Redis holds', () => JSON.stringify(copyOf(b, topics)) === JSON.stringify(expected));
    t.same(copyOf(b, topics), expected, 'b has every follow Redis holds, and no other');
    t.same(b.engine.notify!.subscriptions.of('user-7').map((s) => s.endpoint), [browser.json.endpoint], 'and the push subscription');
  });

  t.test('a node with lower limits in its config still copies every follow and subscription Redis holds', async (t) => {
    const d = await deployment(t);
    const a = await d.node({ notify: { maxFollowsPerToken: 3 }, push: { maxSubscriptionsPerToken: 2 } });
    const gina = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'gina' }));
    t.teardown(() => gina.close());
    for (const topic of ['t1', 't2']) await gina.ok({ t: 'follow', cache: CACHE, topic });
    const first = browserSubscription('http://127.0.0.1:9/push/one');
    await gina.ok({ t: 'pushRegister', subscription: first.json });
    // A node of the next config (a rolling change lowering the limits) loads what Redis holds...
    const b = await d.node({ notify: { maxFollowsPerToken: 1 }, push: { maxSubscriptionsPerToken: 1 } });
    t.same(copyOf(b, ['t1', 't2', 't3']), await d.stored(), 'the load keeps every follow');
    // ...and hears what the other nodes still accept.
    await gina.ok({ t: 'follow', cache: CACHE, topic: 't3' });
    const second = browserSubscription('http://127.0.0.1:9/push/two');
    await gina.ok({ t: 'pushRegister', subscription: second.json });
    await until('b hears the follow and the subscription', () => copyOf(b, ['t1', 't2', 't3']).length === 3 && b.engine.notify!.subscriptions.of('gina').length === 2);
    t.same(copyOf(b, ['t1', 't2', 't3']), ['gina chat/t1', 'gina chat/t2', 'gina chat/t3']);
    t.same(b.engine.notify!.subscriptions.of('gina').map((s) => s.endpoint).sort(), [first.json.endpoint, second.json.endpoint].sort());
  });

  t.test('a node with a lower webhooks.maxEndpoints still sends to every admin-added endpoint Redis holds', async (t) => {
    const d = await deployment(t);
    const a = await d.node({ webhooks: { allowPrivateUrls: true, maxEndpoints: 3 } });
    for (const name of ['w1', 'w2']) t.equal(await putWebhook(a, name), 200, `${name} added`);
    const b = await d.node({ webhooks: { allowPrivateUrls: true, maxEndpoints: 1 } });
    t.same(await listed(b), ['w1', 'w2'], 'b loads both');
    t.equal(await putWebhook(a, 'w3'), 200, 'w3 added on a');
    await until('b installs w3', async () => (await listed(b)).length === 3);
    t.same(await listed(b), ['w1', 'w2', 'w3'], 'b has every endpoint Redis holds');
  });

  t.test('a node started after a tokenId revocation keeps what a newer credential of that tokenId followed and registered', async (t) => {
    const d = await deployment(t);
    const a = await d.node();
    const old = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'gina' }));
    t.teardown(() => old.close());
    await old.ok({ t: 'follow', cache: CACHE, topic: 'before' });
    const { revokedAt } = await a.revoke({ tokenId: 'gina' });
    await until('the revocation removes the follow from Redis', async () => (await d.stored()).length === 0);
    // A replacement credential (issued in a later second than the revocation) follows again.
    await until('a second after the revocation\'s', () => Math.floor(Date.now() / 1000) > Math.floor(revokedAt / 1000));
    const fresh = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'gina' }));
    t.teardown(() => fresh.close());
    await fresh.ok({ t: 'follow', cache: CACHE, topic: 'after' });
    const browser = browserSubscription('http://127.0.0.1:9/push/gina');
    await fresh.ok({ t: 'pushRegister', subscription: browser.json });
    // A node starting now loads the revocation; anything it would remove for it is sent before its
    // own later writes, on the same Redis connection: once one of those is acknowledged, it is done.
    const b = await d.node();
    const other = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 'ivan' }));
    t.teardown(() => other.close());
    await other.ok({ t: 'follow', cache: CACHE, topic: 'marker' });
    t.same(await d.stored(), ['gina chat/after', 'ivan chat/marker'], 'the newer credential\'s follow is still stored');
    await until('a hears whatever b did', () => copyOf(a, ['marker']).length === 1);
    t.same(copyOf(a, ['after']), ['gina chat/after'], 'and followed on the other node');
    t.same(a.engine.notify!.subscriptions.of('gina').map((s) => s.endpoint), [browser.json.endpoint], 'the newer credential\'s push subscription is kept');
  });

  t.test('a tokenId with a lone surrogate is refused when minted (INVALID_ARGUMENT_ERROR)', async (t) => {
    const d = await deployment(t);
    const a = await d.node();
    for (const tokenId of ['user-\ud800', '\udc00', 'a\udc00\ud800b']) {
      await t.rejects(tokenFor(a, scope, { tokenId }), { code: 'INVALID_ARGUMENT_ERROR', message: /well-formed Unicode/ }, JSON.stringify(tokenId));
    }
    t.ok(await tokenFor(a, scope, { tokenId: 'user-\ud83d\ude00' }), 'a surrogate pair (an emoji) is fine');
  });

  t.test('a node\'s own follow, answered after a later unfollow was heard, does not undo the unfollow', async (t) => {
    const d = await deployment(t);
    const proxy = await startTcpProxy(Number(new URL(d.redisUrl).port));
    t.teardown(() => proxy.close());
    const a = await d.node({ redis: { commandTimeoutMs: 10_000 } }, `redis://127.0.0.1:${proxy.port}`);
    const b = await d.node();
    const ginaA = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'gina' }));
    const ginaB = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 'gina' }));
    t.teardown(() => { ginaA.close(); ginaB.close(); });
    // a's first Redis connection carries its commands: their answers come late, while its
    // subscriber link hears every announcement at once.
    proxy.hold(0);
    const following = ginaA.request({ t: 'follow', cache: CACHE, topic: 'room' });
    await until('a hears its own follow', () => copyOf(a, ['room']).length === 1);
    await ginaB.ok({ t: 'unfollow', cache: CACHE, topic: 'room' });
    await until('a hears the unfollow made after it', () => copyOf(a, ['room']).length === 0);
    proxy.release(0);
    t.equal((await following)['t'], 'ok', 'the follow is acknowledged');
    t.same(await d.stored(), [], 'Redis holds no follow: the unfollow came last');
    t.same(copyOf(a, ['room']), [], 'nor does a\'s copy');
  });
});
