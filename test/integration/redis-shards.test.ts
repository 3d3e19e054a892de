/** Several Redis servers as shards (redis.shards; docs/operations.md, "Several Redis servers"):
 * two real redis-servers, two real nodes listing both. Each cache lives on one shard, whole: its
 * keys are on that server only, and nodes still behave as one broker for it. A moderator's groups
 * in caches on both shards settle their deliveries; the per-connection group bound counts both
 * (and not a join a shard refused). The node's own topic bound is split among the shards.
 * One shard down: its caches get the retryable error, the other shard's keep working, and it
 * recovers by itself. A node whose shards do not all answer does not start. */
import tap, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { freePort, requireRedis, startRedis, type RedisProcess } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { PermissionScopes, createServer, generateSigningKey, type TidingsServer } from '../../src/index.js';
import { shardOf } from '../../src/engine/shards/rendezvous.js';

// One cache on each shard (rendezvous.ts; checked below, so a change of hash fails loudly here).
const ON_FIRST = 'beta';
const ON_SECOND = 'chat';
const PREFIX = 'tidings-test:shards:';

let redises: Promise<[RedisProcess, RedisProcess]> | undefined;
const signingKey = generateSigningKey();

/** Two redis-servers shared by this file's tests (stopped when the file ends), and a way to start
 * a node on them for one test. */
async function shared(t: Test, topics: { maxTopics?: number } = {}): Promise<{ shards: [RedisProcess, RedisProcess]; node: () => Promise<TidingsServer> }> {
  const root = tap as unknown as Test;
  redises ??= Promise.all([startRedis(root), startRedis(root)]);
  const shards = await redises;
  const config = {
    auth: { signingKeys: [signingKey] },
    redis: { shards: shards.map((s) => s.url), reconnectMinMs: 20, reconnectMaxMs: 100 },
    moderation: { maxGroupsPerConnection: 2 },
    topics,
  };
  return { shards, node: () => startServer(t, { engine: 'redis', redisUrl: shards[0].url, redisKeyPrefix: PREFIX, config }) };
}

const everything = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.moderator(ON_FIRST), PermissionScopes.moderator(ON_SECOND));

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
  const { node } = await shared(t, { maxTopics: 2 });
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

  await second.start();
  t.match(await sub.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000), { cache: ON_SECOND, topic: 'outage' }, 'the subscription on the shard that came back resumes');
  let reply: Frame | undefined;
  for (let i = 0; i < 100 && reply?.['t'] !== 'ok'; i++) {
    reply = await pub.request({ t: 'pub', cache: ON_SECOND, topic: 'outage', value: 'back' });
    if (reply['t'] !== 'ok') await new Promise((r) => setTimeout(r, 50));
  }
  t.match(await sub.items(1, (f) => f['cache'] === ON_SECOND), [{ value: 'back' }], 'and publishes to it flow again, on the same connection');
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
