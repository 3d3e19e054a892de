/** Several Redis servers as shards (redis.shards; docs/operations.md, "Several Redis servers"):
 * two real redis-servers, two real nodes listing both. Each cache lives on one shard, whole: its
 * keys are on that server only, and nodes still behave as one broker for it. A moderator's groups
 * in caches on both shards settle their deliveries; the per-connection group bound counts both
 * (and not a join a shard refused). The node's own topic bound is split among the shards.
 * One shard down: its caches get the retryable error, the other shard's keep working, and it
 * recovers by itself; the first one (which holds the revocation list) down: new connections still
 * open, and back empty its caches start over under a new page, announced, their groups registered
 * again. One node's link to a shard silent, then back; a shard's reply lost; a node killed holding
 * deliveries and subscribers on both: each time the other shard is served throughout and nothing
 * acknowledged is lost or applied twice. A node whose shards do not all answer does not start, nor
 * one a shard refuses SUBSCRIBE, and either leaves no connection open; nor one listing a server
 * twice under two names. */
import tap, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { freePort, requireRedis, startRedis, type RedisProcess } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { spawnNode } from '../helpers/child-node.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { PermissionScopes, createServer, generateSigningKey, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';
import { shardOf } from '../../src/engine/shards/rendezvous.js';

// One cache on each shard (rendezvous.ts; checked below, so a change of hash fails loudly here).
const ON_FIRST = 'beta';
const ON_SECOND = 'chat';
const PREFIX = 'tidings-test:shards:';

let redises: Promise<[RedisProcess, RedisProcess]> | undefined;
type RedisSettings = DeepPartial<TidingsConfig>['redis'];
const signingKey = generateSigningKey();

/** Two redis-servers shared by this file's tests (stopped when the file ends), and a way to start
 * a node on them for one test (`redis` and `server` add to its settings: the shards through a proxy). */
async function shared(t: Test, config: DeepPartial<TidingsConfig> = {}): Promise<{ shards: [RedisProcess, RedisProcess]; node: (redis?: RedisSettings, server?: DeepPartial<TidingsConfig>['server']) => Promise<TidingsServer>; nodeConfig: DeepPartial<TidingsConfig> }> {
  const root = tap as unknown as Test;
  redises ??= Promise.all([startRedis(root), startRedis(root)]);
  const shards = await redises;
  const nodeConfig = {
    ...config,
    auth: { signingKeys: [signingKey] },
    redis: { shards: shards.map((s) => s.url), reconnectMinMs: 20, reconnectMaxMs: 100, ...config.redis },
    moderation: { maxGroupsPerConnection: 2, ...config.moderation },
  };
  const node = (redis: RedisSettings = {}, server: DeepPartial<TidingsConfig>['server'] = {}) => startServer(t, { engine: 'redis', redisUrl: shards[0].url, redisKeyPrefix: PREFIX,
    config: { ...nodeConfig, server, redis: { ...nodeConfig.redis, ...redis } } });
  return { shards, node, nodeConfig };
}

const everything = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.moderator(ON_FIRST), PermissionScopes.moderator(ON_SECOND));
const withPresence = PermissionScopes.combine(everything, { permissions: [{ role: 'publishsubscribe', cache: '*', topic: '*', presence: true }] });

async function open(t: Test, server: TidingsServer, tokenId: string): Promise<RawClient> {
  const c = await RawClient.open(server, await tokenFor(server, everything, { tokenId }));
  t.teardown(() => c.close());
  return c;
}

/** Keys of `cache` (its lists, items, topics, groups) on one redis-server. */
async function keysOf(shard: RedisProcess, cache: string): Promise<string[]> {
  const redis = new Redis(shard.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    return (await redis.keys(`${PREFIX}*`)).filter((k) => k.includes(cache));
  } finally {
    redis.disconnect();
  }
}

tap.test('the two caches hash to different shards', async (t) => {
  t.equal(shardOf(ON_FIRST, 2), 0);
  t.equal(shardOf(ON_SECOND, 2), 1);
});

tap.test('each cache lives on its own shard, whole, and two nodes are one broker for both', async (t) => {
  if (!requireRedis(t)) return;
  const { shards, node } = await shared(t);
  const [a, b] = [await node(), await node()];
  const writer = await open(t, a, 'alice');
  const reader = await open(t, b, 'bob');
  for (const cache of [ON_FIRST, ON_SECOND]) {
    await reader.ok({ t: 'sub', cache, topic: 'room' });
    const appended = await writer.ok({ t: 'pubAppend', cache, topic: 'room', list: 'history', value: `hello ${cache}` });
    await writer.ok({ t: 'set', cache, key: 'greeting', value: `hi ${cache}` });
    t.match(await reader.items(1), [{ cache, topic: 'room', value: `hello ${cache}`, page: appended['page'], seq: appended['seq'] }], `${cache}: published on node a, delivered on node b`);
    t.match(await reader.ok({ t: 'listFetch', cache, list: 'history', withMeta: true }), { hit: true, items: [{ value: `hello ${cache}`, seq: appended['seq'] }] }, `${cache}: its history, read on node b`);
    t.match(await reader.ok({ t: 'get', cache, key: 'greeting' }), { hit: true, value: `hi ${cache}` }, `${cache}: its item, read on node b`);
  }
  const [first, second] = shards;
  t.not((await keysOf(first, ON_FIRST)).length, 0, `${ON_FIRST} has keys on the first shard`);
  t.same(await keysOf(second, ON_FIRST), [], `and none on the second`);
  t.not((await keysOf(second, ON_SECOND)).length, 0, `${ON_SECOND} has keys on the second shard`);
  t.same(await keysOf(first, ON_SECOND), [], `and none on the first`);

  await a.revoke({ tokenId: 'mallory' });
  const mallory = await RawClient.connect(b.wsUrl);
  t.teardown(() => mallory.close());
  t.match(await mallory.request({ t: 'hello', versions: [1], token: await tokenFor(a, everything, { tokenId: 'mallory' }) }),
    { t: 'err', e: { code: 'AUTHENTICATION_ERROR' } }, 'a revocation on node a is refused on node b (the first shard holds the list)');
});

tap.test('a moderator in groups on both shards settles every delivery; the group bound counts both shards', async (t) => {
  if (!requireRedis(t)) return;
  const { node } = await shared(t);
  const [a, b] = [await node(), await node()];
  const mod = await open(t, b, 'mod');
  const pattern = { nameSuffix: '-input' };
  await mod.ok({ t: 'gsub', cache: ON_FIRST, group: 'mods', pattern });
  t.match(await mod.request({ t: 'gsub', cache: ON_FIRST, group: 'mods', pattern }),
    { t: 'err', e: { code: 'ALREADY_EXISTS_ERROR' } }, 'a second join of the same group is refused by its shard');
  await mod.ok({ t: 'gsub', cache: ON_SECOND, group: 'mods', pattern });
  t.pass('and counted nothing: the second group fits');
  t.match(await mod.request({ t: 'gsub', cache: ON_FIRST, group: 'more', pattern: { nameSuffix: '-other' } }),
    { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR' } }, 'a third group is refused: moderation.maxGroupsPerConnection is per connection, over every shard');

  const user = await open(t, a, 'alice');
  const watcher = await open(t, a, 'watcher');
  for (const cache of [ON_FIRST, ON_SECOND]) {
    await watcher.ok({ t: 'sub', cache, topic: 'room' });
    await user.ok({ t: 'pub', cache, topic: 'room-input', value: `to ${cache}` });
  }
  const deliveries: Frame[] = [await mod.next((f) => f['t'] === 'delivery'), await mod.next((f) => f['t'] === 'delivery')];
  t.same(deliveries.map((d) => d['cache']).sort(), [ON_FIRST, ON_SECOND].sort(), 'one delivery from each shard');
  t.not(deliveries[0]!['delivery'], deliveries[1]!['delivery'], 'under distinct delivery ids');
  for (const d of deliveries) await mod.ok({ t: 'accept', delivery: d['delivery'], value: `moderated ${String(d['cache'])}` });
  const items = await watcher.items(2);
  t.same(items.map((i) => i['value']).sort(), [`moderated ${ON_FIRST}`, `moderated ${ON_SECOND}`].sort(), 'both accepts published to their output topics');
  t.match(await mod.request({ t: 'accept', delivery: deliveries[0]!['delivery'] }), { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } }, 'a settled delivery is settled');

  await mod.ok({ t: 'gunsub', cache: ON_SECOND, group: 'mods' });
  await mod.ok({ t: 'gsub', cache: ON_FIRST, group: 'more', pattern: { nameSuffix: '-other' } });
  t.pass('after leaving one, another join fits');
});

tap.test('the node\'s topics.maxTopics is split among the shards: the node holds no more in all', async (t) => {
  if (!requireRedis(t)) return;
  // 2 over two shards: one window each. A node table refuses a `sub` when full (redis engine).
  const { node } = await shared(t, { topics: { maxTopics: 2 } });
  const client = await open(t, await node(), 'alice');
  for (const cache of [ON_FIRST, ON_SECOND]) await client.ok({ t: 'sub', cache, topic: 'first' });
  for (const cache of [ON_FIRST, ON_SECOND]) {
    t.match(await client.request({ t: 'sub', cache, topic: 'second' }), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'topics_limit_exceeded', message: /maximum of 1 live topics \(for this cache's Redis shard: topics\.maxTopics is split among the node's 2 shards\)/ } },
      `a third topic, on ${cache}'s shard, is refused, saying the limit is the shard's share`);
  }
});

tap.test('one shard down: its caches get the retryable error, the other shard serves on, and it recovers', async (t) => {
  if (!requireRedis(t)) return;
  const { shards, node } = await shared(t);
  const [a, b] = [await node(), await node()];
  const pub = await open(t, a, 'alice');
  const sub = await open(t, b, 'bob');
  for (const cache of [ON_FIRST, ON_SECOND]) await sub.ok({ t: 'sub', cache, topic: 'outage' });
  const second = shards[1];

  await second.stop();
  t.teardown(() => second.start());
  t.match(await sub.next((f) => f['t'] === 'notice'), { t: 'notice', kind: 'topic_interrupted', cache: ON_SECOND, topic: 'outage' }, 'subscribers of the down shard\'s topic are told');
  t.match(await pub.request({ t: 'pub', cache: ON_SECOND, topic: 'outage', value: 'lost?' }), { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'a publish to its cache: retryable error');
  t.match(await pub.request({ t: 'listPushBack', cache: ON_SECOND, list: 'log', value: 'x' }), { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'a write to its cache too');
  const during = await pub.ok({ t: 'pub', cache: ON_FIRST, topic: 'outage', value: 'served' });
  t.match(await sub.items(1), [{ cache: ON_FIRST, value: 'served', seq: during['seq'] }], 'the other shard\'s cache is served meanwhile');
  t.same(await pub.ok({ t: 'listPushBack', cache: ON_FIRST, list: 'log', value: 'y' }), { length: 1 }, 'its writes too');
  // Down for every node alike: a probe failing them all would take the first shard's caches out too.
  const readyz = async (query = '') => { const r = await fetch(`${a.httpUrl}/readyz${query}`); return { status: r.status, body: await r.json() as unknown }; };
  await waitFor('the node sees the shard down', async () => JSON.stringify((await readyz()).body).includes('shard 1'), 10_000);
  t.same(await readyz(), { status: 200, body: { status: 'degraded', reasons: ['redis shard 1 is not connected'] } }, '/readyz: degraded, still ready, the shard named');
  t.same(await readyz('?strict'), { status: 503, body: { status: 'not_ready', reasons: ['redis shard 1 is not connected'] } }, '/readyz?strict: not ready');

  await second.start();
  t.match(await sub.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000), { cache: ON_SECOND, topic: 'outage' }, 'the subscription on the shard that came back resumes');
  let reply: Frame | undefined;
  for (let i = 0; i < 100 && reply?.['t'] !== 'ok'; i++) {
    reply = await pub.request({ t: 'pub', cache: ON_SECOND, topic: 'outage', value: 'back' });
    if (reply['t'] !== 'ok') await new Promise((r) => setTimeout(r, 50));
  }
  t.match(await sub.items(1, (f) => f['cache'] === ON_SECOND), [{ value: 'back' }], 'and publishes to it flow again, on the same connection');
  t.same(await readyz('?strict'), { status: 200, body: { status: 'ready' } }, '/readyz: ready again');
});

tap.test('the first shard (the revocation list\'s) down: new connections still open and the second shard serves them; back empty, its caches start over, told', async (t) => {
  if (!requireRedis(t)) return;
  const { shards, node } = await shared(t);
  const [a, b] = [await node(), await node()];
  const mod = await open(t, b, 'mod');
  const sub = await open(t, b, 'bob');
  const pub = await open(t, a, 'alice');
  await mod.ok({ t: 'gsub', cache: ON_FIRST, group: 'restart', pattern: { nameSuffix: '-restart' } });
  await sub.ok({ t: 'sub', cache: ON_FIRST, topic: 'restart' });
  const before = await pub.ok({ t: 'pub', cache: ON_FIRST, topic: 'restart', value: 'before' });
  await sub.items(1);
  const first = shards[0];

  await first.stop();
  t.teardown(() => first.start());
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted', cache: ON_FIRST, topic: 'restart' }, 'the first shard\'s subscriber is told');
  const token = await tokenFor(a, everything, { tokenId: 'dave' });
  const late = await RawClient.open(a, token);
  t.teardown(() => late.close());
  t.pass('a new connection opens: its hello is checked against the node\'s copy of the revocation list');
  await late.ok({ t: 'sub', cache: ON_SECOND, topic: 'restart' });
  const served = await late.ok({ t: 'pub', cache: ON_SECOND, topic: 'restart', value: 'over WebSocket' });
  const http = await fetch(`${a.httpUrl}/v1/topics/${ON_SECOND}/restart`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'over HTTP' });
  t.equal(http.status, 200, 'and over the HTTP API');
  t.match(await late.items(2), [{ value: 'over WebSocket', seq: served['seq'] }, { value: 'over HTTP', seq: served['seq'] + 1 }], 'the second shard\'s cache is served on it');
  await t.rejects(a.revoke({ tokenId: 'mallory' }), { code: 'SERVER_UNAVAILABLE' }, 'a revocation is refused, retryable, not acknowledged');

  await first.start(); // empty: no persistence
  const resumed = await sub.next((f) => f['t'] === 'notice', 10_000);
  t.match(resumed, { kind: 'topic_resumed', cache: ON_FIRST, topic: 'restart' }, 'the subscription resumes');
  const disc = sub.frames.find((f) => f['t'] === 'disc');
  t.match(disc, { cache: ON_FIRST, topic: 'restart', lastSeq: before['seq'] }, 'under a new page, announced (a disc): the shard lost the topic');
  t.not(disc?.['page'], before['page'], 'a page of its own');
  let reply: Frame | undefined;
  for (let i = 0; i < 100 && reply?.['t'] !== 'ok'; i++) {
    reply = await pub.request({ t: 'pub', cache: ON_FIRST, topic: 'restart-restart', value: 'to the group' });
    if (reply['t'] !== 'ok') await new Promise((r) => setTimeout(r, 50));
  }
  t.match(await mod.next((f) => f['t'] === 'delivery'), { cache: ON_FIRST, value: 'to the group' }, 'the group, registered again, takes its input: nothing acknowledged and read by no one');
});

tap.test('one node cut off from one shard (link silent, then back): that node serves the other shard throughout, and catches up', async (t) => {
  if (!requireRedis(t)) return;
  const { shards, node } = await shared(t);
  const proxy = await startTcpProxy(shards[1].port);
  t.teardown(() => proxy.close());
  const a = await node();
  // Node b reaches the second shard through the proxy; short timeouts, so the cut is noticed at once.
  const b = await node({ shards: [shards[0].url, `redis://127.0.0.1:${proxy.port}`], commandTimeoutMs: 300, linkTimeoutMs: 700, connectTimeoutMs: 300, queueTimeoutMs: 200 });
  const pub = await open(t, a, 'alice');
  const writer = await open(t, b, 'bob');
  const sub = await open(t, b, 'carol');
  for (const cache of [ON_FIRST, ON_SECOND]) await sub.ok({ t: 'sub', cache, topic: 'cut' });

  proxy.blackhole();
  proxy.freeze();
  t.match(await writer.request({ t: 'pub', cache: ON_SECOND, topic: 'cut', value: 'never sent' }), { t: 'err', e: { code: /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/ } },
    'on node b, a publish to the cut shard\'s cache gets a retryable error');
  const meanwhile = await pub.ok({ t: 'pub', cache: ON_SECOND, topic: 'cut', value: 'meanwhile' });
  t.pass('node a, not cut off, publishes to it');
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted', cache: ON_SECOND, topic: 'cut' }, 'node b\'s subscriber of the cut shard\'s topic is told');
  t.match(await writer.request({ t: 'listPushBack', cache: ON_SECOND, list: 'cut', value: 'x' }), { t: 'err', e: { code: /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/ } },
    'a write to the cut shard\'s cache: retryable error');
  const served = await writer.ok({ t: 'pub', cache: ON_FIRST, topic: 'cut', value: 'served' });
  t.match(await sub.items(1), [{ cache: ON_FIRST, value: 'served', seq: served['seq'] }], 'the other shard\'s cache is served on node b meanwhile');
  t.same(await writer.ok({ t: 'listPushBack', cache: ON_FIRST, list: 'cut', value: 'y' }), { length: 1 }, 'its writes too');

  proxy.heal();
  t.match(await sub.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed', cache: ON_SECOND, topic: 'cut' }, 'the subscription resumes once the link is back');
  const back = await writer.ok({ t: 'pub', cache: ON_SECOND, topic: 'cut', value: 'back' });
  t.match(await sub.items(2), [{ cache: ON_SECOND, value: 'meanwhile', seq: meanwhile['seq'] }, { cache: ON_SECOND, value: 'back', seq: back['seq'] }],
    'what node a published meanwhile reached it, then node b\'s own publish: nothing lost, nothing twice (the publish never sent is not there)');
  t.equal(back['seq'], meanwhile['seq'] + 1, 'no seq between them');
  t.same(sub.frames.filter((f) => f['cache'] === ON_FIRST || f['t'] === 'disc'), [], 'the other shard\'s topic was never interrupted, and nothing was announced lost');
});

tap.test('a write whose reply one shard lost, retried on another node with its idempotency key: applied once, on its shard', async (t) => {
  if (!requireRedis(t)) return;
  const { shards, node } = await shared(t);
  const proxy = await startTcpProxy(shards[1].port);
  t.teardown(() => proxy.close());
  const a = await node();
  const b = await node({ shards: [shards[0].url, `redis://127.0.0.1:${proxy.port}`], commandTimeoutMs: 300 });
  const onA = await open(t, a, 'writer');
  const onB = await open(t, b, 'writer');
  const sub = await open(t, a, 'reader');
  await sub.ok({ t: 'sub', cache: ON_SECOND, topic: 'lost-reply' });
  const write = { t: 'pubAppend', cache: ON_SECOND, topic: 'lost-reply', list: 'lost-reply', value: 'once', idempotencyKey: 'lost-reply-1' };

  proxy.hold(0); // node b's command link to the second shard: its writes arrive, their answers do not
  t.match(await onB.request(write), { t: 'err', e: { code: 'TIMEOUT_ERROR', message: /may have been applied/ } }, 'node b cannot tell whether it was applied');
  t.match(await onB.ok({ t: 'pub', cache: ON_FIRST, topic: 'lost-reply', value: 'other shard' }), { seq: 1 }, 'its writes to the other shard are answered meanwhile');
  proxy.release(0);
  const item = (await sub.items(1))[0]!;
  t.match(item, { cache: ON_SECOND, value: 'once' }, 'it was applied');
  t.same(await onA.ok(write), { length: 1, page: item['page'], seq: item['seq'], ts: item['ts'] }, 'the retry on node a hears the first result');
  t.same(await onA.ok({ t: 'listFetch', cache: ON_SECOND, list: 'lost-reply' }), { hit: true, values: ['once'] }, 'appended once');
  t.same(await sub.drain('item'), [], 'published once');
});

tap.test('a node killed holding deliveries and members on both shards: each shard gives its items and its leave to the live node', async (t) => {
  if (!requireRedis(t)) return;
  const { node, nodeConfig } = await shared(t, { moderation: { nodeTimeoutMs: 600 }, presence: { nodeTimeoutMs: 600, leaveGraceMs: 0 } });
  const a = await node();
  const child = await spawnNode(t, { ...nodeConfig, logLevel: 'silent', engine: 'redis', redis: { ...nodeConfig.redis, keyPrefix: PREFIX }, server: { port: 0, host: '127.0.0.1' } });
  const doomed = await RawClient.open(child as unknown as TidingsServer, await tokenFor(a, withPresence, { tokenId: 'doomed' }));
  t.teardown(() => doomed.close());
  const survivor = await open(t, a, 'survivor');
  const watcher = await RawClient.open(a, await tokenFor(a, withPresence, { tokenId: 'watcher' }));
  t.teardown(() => watcher.close());
  const pattern = { nameSuffix: '-input' };
  for (const cache of [ON_FIRST, ON_SECOND]) {
    await watcher.ok({ t: 'sub', cache, topic: 'crash', presence: true });
    await doomed.ok({ t: 'sub', cache, topic: 'crash', presence: true });
    await watcher.next((f) => f['t'] === 'join' && f['cache'] === cache && f['tokenId'] === 'doomed');
    await doomed.ok({ t: 'gsub', cache, group: 'crash', pattern, maxInFlight: 1 });
    await watcher.ok({ t: 'pub', cache, topic: 'crash-input', value: `held on ${cache}` });
    // Handed to the only member, on the node about to die.
    t.match(await doomed.next((f) => f['t'] === 'delivery'), { cache, value: `held on ${cache}`, attempt: 1 }, `the member on the child node holds ${cache}'s item`);
    await survivor.ok({ t: 'gsub', cache, group: 'crash', pattern });
  }

  await child.kill();
  const again = [await survivor.next((f) => f['t'] === 'delivery', 10_000), await survivor.next((f) => f['t'] === 'delivery', 10_000)];
  t.same(again.map((d) => `${String(d['cache'])}: ${String(d['value'])} (attempt ${String(d['attempt'])})`).sort(),
    [`${ON_FIRST}: held on ${ON_FIRST} (attempt 2)`, `${ON_SECOND}: held on ${ON_SECOND} (attempt 2)`], 'each shard handed its item to the live member');
  for (const d of again) await survivor.ok({ t: 'accept', delivery: d['delivery'] });
  t.same((await watcher.items(2)).map((i) => i['value']).sort(), [`held on ${ON_FIRST}`, `held on ${ON_SECOND}`].sort(), 'both accepted items are published');
  for (const cache of [ON_FIRST, ON_SECOND]) {
    t.match(await watcher.next((f) => f['t'] === 'leave' && f['cache'] === cache, 10_000), { tokenId: 'doomed' }, `the dead node's subscriber left ${cache}'s topic`);
  }
});

/** A stop waits for items on their way from Redis (topics.settle(): a PING on each shard's
 * subscriber link) before the byes name final positions (test/integration/shutdown.test.ts has
 * one Redis). With shards, one whose link drops during that wait must not cut short the others'. */
tap.test('a stop while one shard\'s link drops still waits for the other shard\'s items: each arrives before the bye', async (t) => {
  if (!requireRedis(t)) return;
  const { shards, node } = await shared(t);
  const proxies = [await startTcpProxy(shards[0].port), await startTcpProxy(shards[1].port)];
  t.teardown(() => Promise.all(proxies.map((p) => p.close())));
  // No subscriber heartbeat (a PING every commandTimeoutMs) during the case: the only PINGs are the
  // stop's. A grace far beyond the case: only the settle may hold the byes back.
  const server = await node({ shards: proxies.map((p) => `redis://127.0.0.1:${p.port}`), commandTimeoutMs: 30_000, linkTimeoutMs: 60_000 }, { shutdownGraceMs: 20_000 });
  const sub = await open(t, server, 'bob');
  const pub = await open(t, server, 'alice');
  for (const cache of [ON_FIRST, ON_SECOND]) await sub.ok({ t: 'sub', cache, topic: 'stop' });
  // Each proxy's second link is the node's topic subscriber there (the command link comes first).
  const SUBSCRIBER = 1;
  for (const p of proxies) p.hold(SUBSCRIBER);
  const total = 5;
  for (let i = 1; i <= total; i++) await pub.ok({ t: 'pub', cache: ON_FIRST, topic: 'stop', value: `v${i}` });
  const closing = server.close();
  await waitFor('the second shard to answer the stop\'s PING', () => proxies[1]!.held(SUBSCRIBER).length > 0);
  proxies[1]!.reset();
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted', cache: ON_SECOND }, 'the second shard\'s link dropped under the stop');
  proxies[0]!.release(SUBSCRIBER);
  await sub.waitClosed(10_000);
  await closing;
  const bye = sub.frames.findIndex((f) => f['t'] === 'bye');
  t.ok(bye >= 0, 'a bye');
  t.same(sub.frames.slice(0, bye).filter((f) => f['t'] === 'item').map((f) => f['value']), Array.from({ length: total }, (_, i) => `v${i + 1}`),
    'every item acknowledged on the first shard before the stop arrived before the bye');
  t.match(sub.frames[bye], { ends: [{ cache: ON_FIRST, topic: 'stop', seq: total }] }, 'and the bye names its final position');
});

tap.test('a node whose shards do not all answer refuses to start, and lets the others go', async (t) => {
  if (!requireRedis(t)) return;
  const { shards } = await shared(t);
  const port = await freePort(); // nothing listens there
  await t.rejects(createServer({ config: {
    logLevel: 'silent', engine: 'redis', server: { port: 0 }, auth: { signingKeys: [signingKey] },
    redis: { shards: [shards[0].url, `redis://127.0.0.1:${port}`], keyPrefix: PREFIX, connectTimeoutMs: 300 },
  } }), { message: `Redis at 127.0.0.1:${port} did not answer within 300 ms (redis.connectTimeoutMs)` });
  // The first shard's connections are closed: tap would time this file out if they kept it alive.
});

/** An app embedding createServer() goes on after a failed start: the shards that connected and
 * started, and the one that failed, keep no connection open. */
tap.test('a node whose second shard refuses its subscriptions does not start, and leaves no connection open on either shard', async (t) => {
  if (!requireRedis(t)) return;
  const { shards } = await shared(t);
  // Users of this test alone, so its connections can be told apart: the first shard allows all,
  // the second everything but SUBSCRIBE (Redis answers NOPERM to the node's first one there).
  const user = `shards-start-${process.pid}`;
  const admins = shards.map((s) => new Redis(s.url));
  t.teardown(async () => {
    for (const admin of admins) { await admin.call('ACL', 'DELUSER', user); admin.disconnect(); }
  });
  await admins[0]!.call('ACL', 'SETUSER', user, 'on', '>pw-first', '~*', '&*', '+@all');
  await admins[1]!.call('ACL', 'SETUSER', user, 'on', '>pw-second', '~*', '&*', '+@all', '-subscribe');
  await t.rejects(createServer({ config: {
    logLevel: 'silent', engine: 'redis', server: { port: 0 }, auth: { signingKeys: [signingKey] },
    redis: { shards: [`redis://${user}:pw-first@127.0.0.1:${shards[0].port}`, `redis://${user}:pw-second@127.0.0.1:${shards[1].port}`], keyPrefix: PREFIX },
  } }), { message: /NOPERM.*subscribe/ });
  const connectionsOf = async (admin: Redis) => String(await admin.call('CLIENT', 'LIST')).split('\n').filter((line) => line.includes(` user=${user} `));
  for (const [i, admin] of admins.entries()) {
    t.ok(await eventually(async () => (await connectionsOf(admin)).length === 0), `shard ${i}: no connection of the node left`);
  }
});

tap.test('one redis-server listed twice under two names (127.0.0.1, localhost) refuses to start, naming both entries', async (t) => {
  if (!requireRedis(t)) return;
  const { shards } = await shared(t);
  const port = shards[1].port;
  await t.rejects(createServer({ config: {
    logLevel: 'silent', engine: 'redis', server: { port: 0 }, auth: { signingKeys: [signingKey] },
    redis: { shards: [shards[0].url, `redis://127.0.0.1:${port}`, `redis://localhost:${port}`], keyPrefix: PREFIX },
  } }), {
    name: 'ConfigError',
    message: `config redis.shards: lists one Redis server twice: redis.shards[1] (127.0.0.1:${port}) and redis.shards[2] (localhost:${port}) are answered by the same server (its INFO run_id); list each server once (databases of one server share its channels)`,
  });
});
