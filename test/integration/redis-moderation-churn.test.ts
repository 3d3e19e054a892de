/** Moderator groups across nodes (engine redis) leave nothing behind per cache once forgotten: a
 * moderator that joins and leaves a group in a new cache each time, thousands of times, leaves
 * Redis holding the keys of at most moderation.maxGroups groups (each cache's group directory goes
 * with its last group), and every node's copies of the directories stay under the same bound
 * (tidings_moderation_directory_copies). A directory made again after it went never repeats a
 * version a node's stale copy holds, so that node's publish still reaches the new group. */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { ManualClock, generateSigningKey, type Scope } from '../../src/index.js';

const MAX_GROUPS = 4;
const GROUP_IDLE_MS = 1000;
const CACHES = 2000;

/** A moderator of every cache (cache names are the client's choice when store.caches is empty). */
const ANY_CACHE_MODERATOR: Scope = {
  permissions: [
    { role: 'subscribeonly', cache: '*', topic: { nameSuffix: '-input' } },
    { role: 'publishonly', cache: '*', topic: '*' },
    { role: 'readwrite', cache: '*', item: '*' },
  ],
};

async function keysUnder(url: string, prefix: string): Promise<string[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      keys.push(...page);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  } finally {
    redis.disconnect();
  }
}

async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

t.test('joining and leaving a group in a new cache each time leaves at most maxGroups groups of state', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('churn');
  t.teardown(() => deletePrefix(url, prefix));
  const clock = new ManualClock(Date.now());
  const config = { auth: { signingKeys: [generateSigningKey()] }, moderation: { groupIdleMs: GROUP_IDLE_MS, maxGroups: MAX_GROUPS }, server: { metricsAccess: 'open' as const } };
  const server = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config, clock });
  const mod = await RawClient.open(server, await tokenFor(server, ANY_CACHE_MODERATOR, { tokenId: 'churner', expiresInSec: 24 * 3600 }));
  t.teardown(() => mod.close());

  for (let i = 0; i < CACHES; i++) {
    const cache = `c${i}`;
    const joined = await mod.request({ t: 'gsub', cache, group: 'mods', pattern: { nameSuffix: '-input' } });
    if (joined['t'] !== 'ok') { t.fail(`join ${i}: ${JSON.stringify(joined)}`); return; }
    const left = await mod.request({ t: 'gunsub', cache, group: 'mods' });
    if (left['t'] !== 'ok') { t.fail(`leave ${i}: ${JSON.stringify(left)}`); return; }
    clock.advance(GROUP_IDLE_MS); // idle long enough to be forgotten by the next join at the bound
  }

  const directories = (await keysUnder(url, `${prefix}m:`)).filter((k) => /^m:c\d+$/.test(k.slice(prefix.length)));
  t.ok(directories.length <= MAX_GROUPS, `cache directories left in Redis: ${directories.length} (at most ${MAX_GROUPS} groups live)`);
  const all = await keysUnder(url, prefix);
  t.ok(all.length <= MAX_GROUPS * 10 + 10, `keys under the prefix after ${CACHES} caches: ${all.length}`);
  const copies = await metric(server.httpUrl, 'tidings_moderation_directory_copies');
  t.ok(copies <= MAX_GROUPS, `directory copies this node holds: ${copies} (at most moderation.maxGroups)`);
});

/** Node a's copy of the directory names g1; g1 is forgotten on node b, the directory goes with it,
 * and g2 makes it anew: node a's publish must be found stale and fed to g2. `before` puts state in
 * Redis before the nodes start. */
async function staleCopyReachesNewGroup(t: Test, before?: (redis: Redis, prefix: string) => Promise<unknown>): Promise<void> {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('churn-aba');
  t.teardown(() => deletePrefix(url, prefix));
  if (before) {
    const redis = new Redis(url);
    await before(redis, prefix).finally(() => redis.disconnect());
  }
  const clock = new ManualClock(Date.now());
  const config = { auth: { signingKeys: [generateSigningKey()] }, moderation: { groupIdleMs: GROUP_IDLE_MS, maxGroups: 1 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config, clock });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config, clock });
  const first = await RawClient.open(a, await tokenFor(a, ANY_CACHE_MODERATOR, { tokenId: 'first' }));
  t.teardown(() => first.close());
  // Node a loads the directory at the join: its copy names g1 (inputs *-input) under some version.
  await first.ok({ t: 'gsub', cache: 'chat', group: 'g1', pattern: { nameSuffix: '-input' } });
  await first.ok({ t: 'gunsub', cache: 'chat', group: 'g1' });
  clock.advance(GROUP_IDLE_MS);

  // On node b, at the bound: g1 is forgotten (the directory goes with it) and g2 makes it anew.
  const second = await RawClient.open(b, await tokenFor(b, ANY_CACHE_MODERATOR, { tokenId: 'second' }));
  t.teardown(() => second.close());
  await second.ok({ t: 'gsub', cache: 'chat', group: 'g2', pattern: { nameSuffix: '-x-input' } });

  // Node a's copy is stale (no g2): its publish must be found out and fed to g2, not published.
  const user = await RawClient.open(a, await tokenFor(a, { permissions: [{ role: 'publishsubscribe', cache: 'chat', topic: '*' }] }, { tokenId: 'user' }));
  t.teardown(() => user.close());
  await user.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'room-x-input', value: 'hello' });
  const delivery = await second.next((f) => f['t'] === 'delivery');
  t.match(delivery, { t: 'delivery', group: 'g2', topic: 'room-x-input', output: 'room', value: 'hello' }, 'node b\'s moderator got the item published on node a');
}

t.test('a directory made again after its last group went never repeats a version a node holds', (t) => staleCopyReachesNewGroup(t));

/** Earlier releases counted each directory's versions in the directory itself (HINCRBY), with no
 * deployment counter: the first version the counter hands out after such a directory goes must be
 * above the one it had (moderation-scripts.ts g_new_version), or a node holding that version takes
 * its copy for current. */
t.test('a directory an earlier release versioned, made again, never repeats the version a node holds', (t) =>
  staleCopyReachesNewGroup(t, (redis, prefix) => {
    const group = `${prefix}m:chat\u0000g1`;
    return redis.multi()
      .hset(`${prefix}m:chat`, 'g1', JSON.stringify({ nameSuffix: '-input' }), '\u0000v', '1')
      .sadd(`${prefix}m:\u0000groups`, group)
      .hset(group, 'pattern', JSON.stringify({ nameSuffix: '-input' }))
      .exec();
  }));
