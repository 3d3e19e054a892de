/** Presence sync after a reconnect (engine redis): a join and a leave decided on another node
 * while a node's presence subscriber link was down (its re-sent SUBSCRIBE held by the proxy, so the
 * events are published before the node hears the channel again) still reach that node's watchers
 * once the subscription is back: the node reads the members of the topics its clients watch again
 * and tells them the differences; users already known are not announced twice. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { Redis } from 'ioredis';
import { deletePrefix, monitorOf, requireRedis, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { resetHoldingSubscribe, startTcpProxy } from '../helpers/tcp-proxy.js';
import { eventually } from '../helpers/wait.js';
import { generateSigningKey, type DeepPartial, type Scope, type TidingsConfig } from '../../src/index.js';

const CACHE = 'chat';
const scope: Scope = { permissions: [{ role: 'publishsubscribe', cache: CACHE, topic: '*', presence: true }] };

/** Two nodes on the Redis at `url`: A through a TCP proxy (so a test can cut and hold its links),
 * B directly; `open` connects a raw client with presence rights to either. */
async function twoNodes(t: Test, url: string, prefix: string) {
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const config: DeepPartial<TidingsConfig> = {
    auth: { signingKeys: [generateSigningKey()] },
    // commandTimeoutMs: the held SUBSCRIBE is answered late, not timed out.
    redis: { connectTimeoutMs: 300, reconnectMaxMs: 200, commandTimeoutMs: 20_000 },
    // A leave is decided this long after the last connection went.
    presence: { leaveGraceMs: 100 },
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const open = async (node: typeof a, tokenId: string) => {
    const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId }));
    t.teardown(() => c.close());
    return c;
  };
  return { a, b, proxy, open };
}

t.test('a join made while a node\'s presence subscription is down reaches its watcher after the reconnect', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('psync');
  t.teardown(() => deletePrefix(url, prefix));
  const { a, b, proxy, open } = await twoNodes(t, url, prefix);
  const watcher = await open(a, 'wanda');
  await watcher.ok({ t: 'sub', cache: CACHE, topic: 'room', presence: true });
  const early = await open(b, 'early');
  await early.ok({ t: 'sub', cache: CACHE, topic: 'room' });
  const events = (kind: string) => watcher.frames.filter((f) => f['t'] === kind).map((f) => String(f['tokenId'])).sort();
  const joins = () => events('join');
  t.ok(await eventually(() => joins().includes('early') && joins().includes('wanda'), 5000), 'the watcher hears joins while connected');

  // A's links drop; its presence subscriber's new connection keeps its SUBSCRIBE from Redis until released.
  const channel = Buffer.from(`${prefix}p:\u0000events`);
  const link = await resetHoldingSubscribe(proxy, channel);
  if (link === undefined) { t.fail('A\'s presence subscriber did not send its SUBSCRIBE again'); return; }

  // Decided on B while A cannot hear the events channel.
  const late = await open(b, 'late');
  await late.ok({ t: 'sub', cache: CACHE, topic: 'room' });
  early.close();
  const probe = await open(b, 'probe');
  const listed = async () => ((await probe.ok({ t: 'presence', cache: CACHE, topic: 'room' }))['members'] as Array<{ tokenId: string }>).map((m) => m.tokenId);
  t.ok(await eventually(async () => { const m = await listed(); return m.includes('late') && !m.includes('early'); }, 5000),
    'Redis counts the late member and no longer the early one');
  t.same(events('leave'), [], 'the watcher has heard no leave yet');
  proxy.releaseRequests(link);

  t.ok(await eventually(() => joins().includes('late'), 8000), 'the watcher on A hears the join it missed');
  t.ok(await eventually(() => events('leave').includes('early'), 8000), 'and the leave it missed');
  t.same(joins(), ['early', 'late', 'wanda'], 'no one joins twice');
  t.same(events('leave'), ['early'], 'no other leave');
});

/** The sync's read of the members fails (here: the topic's members key briefly holds another type,
 * so Redis answers WRONGTYPE) while the link itself is fine: the node reads again, at the
 * reconnect backoff, instead of waiting for a next reconnect that may never come. */
t.test('a sync whose read fails is tried again until it succeeds', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('psync');
  const { a, b, proxy, open } = await twoNodes(t, redis.url, prefix);
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const watcher = await open(a, 'wanda');
  await watcher.ok({ t: 'sub', cache: CACHE, topic: 'room', presence: true });
  const joins = () => watcher.frames.filter((f) => f['t'] === 'join').map((f) => String(f['tokenId'])).sort();
  t.ok(await eventually(() => joins().includes('wanda'), 5000), 'the watcher hears its own join');

  const link = await resetHoldingSubscribe(proxy, Buffer.from(`${prefix}p:\u0000events`));
  if (link === undefined) { t.fail('A\'s presence subscriber did not send its SUBSCRIBE again'); return; }
  const late = await open(b, 'late');
  await late.ok({ t: 'sub', cache: CACHE, topic: 'room' });
  const members = `${prefix}p:${CACHE}\u0000room`;
  t.ok(await eventually(async () => (await admin.hexists(members, 'late')) === 1, 5000), 'Redis counts the late member');

  // The members hash set aside, a string in its place: A's read after the reconnect fails.
  const failedReads = async () => Number(/^errorstat_WRONGTYPE:count=(\d+)/m.exec(await admin.info('errorstats'))?.[1] ?? 0);
  await admin.rename(members, `${members}:aside`);
  await admin.set(members, 'not a hash');
  proxy.releaseRequests(link);
  t.ok(await eventually(async () => (await failedReads()) > 0, 8000), 'the sync read failed');
  await admin.rename(`${members}:aside`, members); // in one step: a read never finds the key absent

  t.ok(await eventually(() => joins().includes('late'), 8000), 'read again: the watcher on A hears the join it missed');
  t.same(joins(), ['late', 'wanda'], 'no one joins twice');
});

/** A newly watched topic's first read of the members fails (WRONGTYPE, as above) while the link is
 * fine: the node reads again at the reconnect backoff. Without that it knew only what events told
 * it since, so a member listed before the watch who left while the link was down was never told. */
t.test('a first read of a newly watched topic that fails is tried again, so a later sync tells its leaves', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('psync');
  const { a, b, proxy, open } = await twoNodes(t, redis.url, prefix);
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const members = `${prefix}p:${CACHE}\u0000room`;
  const monitor = await monitorOf(admin);
  t.teardown(() => monitor.disconnect());
  // MONITOR writes U+0000 as \x00.
  const shown = members.replaceAll('\u0000', '\\x00');
  let reads = 0;
  monitor.on('monitor', (_time: string, args: string[]) => { if (args[0]?.toLowerCase() === 'hgetall' && args[1] === shown) reads++; });

  const early = await open(b, 'early');
  await early.ok({ t: 'sub', cache: CACHE, topic: 'room' });
  // Events reach a node in order: once a probe on A hears a later join (on another topic), A has
  // heard early's too, before anyone on A watches the room.
  const probe = await open(a, 'probe');
  await probe.ok({ t: 'sub', cache: CACHE, topic: 'hall', presence: true });
  await open(b, 'sentinel').then((c) => c.ok({ t: 'sub', cache: CACHE, topic: 'hall' }));
  await probe.next((f) => f['t'] === 'join' && f['tokenId'] === 'sentinel');

  // The members hash set aside while the watch starts: A's first read fails. The watcher is
  // anonymous, so its own subscription writes nothing there.
  const failedReads = async () => Number(/^errorstat_WRONGTYPE:count=(\d+)/m.exec(await admin.info('errorstats'))?.[1] ?? 0);
  await admin.rename(members, `${members}:aside`);
  await admin.set(members, 'not a hash');
  const watcher = await RawClient.open(a, (await a.auth.mintDisposableToken({ scope, expiresInSec: 300 })).token);
  t.teardown(() => watcher.close());
  await watcher.ok({ t: 'sub', cache: CACHE, topic: 'room', presence: true });
  t.ok(await eventually(async () => (await failedReads()) > 0, 8000), 'the first read failed');
  const readsBefore = reads;
  await admin.rename(`${members}:aside`, members);
  t.ok(await eventually(() => reads > readsBefore, 8000), 'A reads the members again while its link stays up');

  // Early leaves while A cannot hear the events channel: only the sync after the reconnect tells it.
  const link = await resetHoldingSubscribe(proxy, Buffer.from(`${prefix}p:\u0000events`));
  if (link === undefined) { t.fail('A\'s presence subscriber did not send its SUBSCRIBE again'); return; }
  early.close();
  t.ok(await eventually(async () => (await admin.hexists(members, 'early')) === 0, 5000), 'Redis no longer counts the early member');
  proxy.releaseRequests(link);
  const leaves = () => watcher.frames.filter((f) => f['t'] === 'leave').map((f) => String(f['tokenId']));
  t.ok(await eventually(() => leaves().includes('early'), 8000), 'the watcher on A hears the leave it missed');
  t.same(leaves(), ['early'], 'no other leave');
});
