/** Redis coming back with an older state of a topic (an RDB snapshot, appendfsync everysec after a
 * host crash, a failover to a lagging replica): once a node has reloaded the topic it goes on under
 * a new page, so no later (page, seq) names an item subscribers saw, and they get the new items or
 * a disc, never nothing. The first publish may race that reload and be acknowledged at a reused
 * position (docs/operations.md says so): only b2, after node b said topic_resumed, is checked. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { loadsDuring, requireRedis, startRedis, uniquePrefix, type RedisProcess } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { Redis } from 'ioredis';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { TopicKeys } from '../../src/engine/redis/keys.js';
import { TOPIC_SCRIPTS } from '../../src/engine/redis/scripts.js';
import type { RedisTopicEngine } from '../../src/engine/redis/topic-engine.js';
import { createHash } from 'node:crypto';
import { PermissionScopes } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('a Redis that rolled a topic back: no reused (page, seq), no silent loss', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('rb');
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix });
  const b = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix });
  const pub = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'p' }));
  const sub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 's' }));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'rb' });
  for (let i = 1; i <= 3; i++) await pub.ok({ t: 'pub', cache: 'chat', topic: 'rb', value: `a${i}` });
  const admin = new Redis(redis.url);
  await admin.save(); // the snapshot Redis will come back with
  admin.disconnect();
  for (let i = 4; i <= 6; i++) await pub.ok({ t: 'pub', cache: 'chat', topic: 'rb', value: `a${i}` });
  const seen = await sub.items(6);
  t.same(seen.map((f) => f['seq']), [1, 2, 3, 4, 5, 6]);
  await redis.kill();
  await redis.start(); // loads dump.rdb: the topic at seq 3

  let reply: Frame | undefined;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    reply = await pub.request({ t: 'pub', cache: 'chat', topic: 'rb', value: 'b1' });
    if (reply['t'] === 'ok') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Node b resubscribed and reloaded: it says so to its subscriber.
  await sub.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000);
  const r2 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'rb', value: 'b2' });
  const r1 = reply!['r'] as Frame;
  const old = new Set(seen.map((f) => `${f['page']}:${f['seq']}`));
  t.notOk(old.has(`${r2['page']}:${r2['seq']}`), `b2 acknowledged at ${r2['page']}:${r2['seq']}, a position subscribers already saw (b1 at ${r1['page']}:${r1['seq']})`);
  // The subscriber must get b2, or at least a disc: never nothing.
  const got = await sub.next((f) => (f['t'] === 'item' && f['value'] === 'b2') || f['t'] === 'disc', 3000).catch(() => undefined);
  t.ok(got, `the subscriber got b2 or a disc (got ${JSON.stringify(got)})`);
});

/** The race the case above leaves out: more publishes reach the rolled-back Redis than it lost
 * before the subscribers' node reloads, so Redis's seq is past the one that node holds and a seq
 * comparison alone sees nothing wrong. The node's link goes through a proxy that relays nothing
 * until both publishes are acknowledged; its reload compares the item it holds at its position with
 * Redis's, finds another one there, and goes on under a new page with a `disc` (b1 took a position
 * the subscriber saw as a4, so without the comparison b1 was dropped as a repeat: silently). */
t.test('a rolled-back topic whose publishes overtook the node\'s seq before it reloaded: a disc, not a silent loss', (t) => overtaken(t, {}));

/** The same with node b's window emptied by topics.windowTotalBytes (a quiet topic's items are the
 * oldest on a busy node): the node still compares the item it applied last (it kept it apart from
 * the window), where it compared nothing before and dropped b1 silently again. */
t.test('the same when the node\'s window lost its newest item to topics.windowTotalBytes', (t) => overtaken(t, { windowTotalBytes: 1 }));

async function overtaken(t: Test, topics: { windowTotalBytes?: number }): Promise<void> {
  if (!requireRedis(t)) return;
  const quick = { redis: { commandTimeoutMs: 300, connectTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } };
  const { redis, proxy, pub, sub } = await proxiedPair(t, 'rbo', { ...quick, topics }, quick);
  const seen = await savedAtThree(t, redis, pub, sub, 'rbo');
  proxy.blackhole(); // node b reconnects only once healed
  await redis.kill();
  await redis.start();
  const acked: Frame[] = [];
  const deadline = Date.now() + 10_000;
  while (acked.length < 2 && Date.now() < deadline) {
    const reply = await pub.request({ t: 'pub', cache: 'chat', topic: 'rbo', value: `b${acked.length + 1}` });
    if (reply['t'] === 'ok') acked.push(reply['r'] as Frame);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(acked.length, 2, 'both publishes acknowledged by the rolled-back Redis');
  t.same(acked.map((r) => r['seq']), [4, 5], 'b1 took seq 4 again, b2 went past the seq node b holds (the race this case is about)');
  proxy.heal();
  await sub.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000);
  await b1BeforeB2(t, sub, seen[3]!, 5000);
}

/** The rollback again, but the node's re-sent SUBSCRIBE is answered after redis.commandTimeoutMs
 * (Redis slow just after its restart), on a link that stays up: the node's resubscription failed,
 * so its window was not reloaded, yet the subscription is in place and live messages flow. Those
 * must not be applied to a window never checked against the rolled-back Redis: b1 (seq 4 again)
 * was dropped as a repeat of a4 and b2 (seq 5) taken as its successor, so the subscriber got b2
 * alone, and the reload that came later found b2 where the node held it and saw nothing wrong.
 * The proxy holds the SUBSCRIBE past the timeout and releases it in the retry's backoff. */
t.test('a rolled-back topic whose re-sent SUBSCRIBE timed out but took: live messages wait for a reload', async (t) => {
  if (!requireRedis(t)) return;
  const commandTimeoutMs = 300;
  // b retries its SUBSCRIBE only after reconnectMinMs: the held one is released well before.
  const { redis, proxy, prefix, pub, sub } = await proxiedPair(t, 'rbs',
    { redis: { commandTimeoutMs, linkTimeoutMs: 10_000, reconnectMinMs: 3000, reconnectMaxMs: 3000 } },
    { redis: { commandTimeoutMs, connectTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } });
  const seen = await savedAtThree(t, redis, pub, sub, 'rbs');

  const channel = new TopicKeys(prefix, 'chat', 'rbs').channel;
  const held = proxy.holdRequests((chunk) => /\r\nsubscribe\r\n/i.test(chunk.toString('latin1')) && chunk.includes(channel));
  await redis.kill();
  await redis.start();
  const link = await held;
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  // The held SUBSCRIBE times out on node b (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * commandTimeoutMs));
  proxy.releaseRequests(link);
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await waitFor('node b subscribed again', async () => {
    const [, count] = await side.pubsub('NUMSUB', channel) as [string, number];
    return count > 0;
  });
  const b1 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbs', value: 'b1' });
  const b2 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbs', value: 'b2' });
  t.same([b1['seq'], b2['seq']], [4, 5], 'b1 took seq 4 again, b2 went past the seq node b holds');
  await b1BeforeB2(t, sub, seen[3]!, 10_000);
});

/** A reload in flight when the subscription drops again (only the subscriber link: Redis kills
 * it) was answered by Redis before it went back; that answer came after the second resubscription
 * and cleared the window's `unchecked`, so live messages were applied unchecked until the newer
 * reload's answer: b1 (seq 4 again) was dropped as a repeat of a4 and b2 taken as its successor.
 * The proxy keeps the older reload's answer, and the newer reload's request, on node b's command
 * connection until b1 and b2 have reached node b. */
t.test('a reload answered before Redis went back does not clear a later resubscription\'s check', async (t) => {
  if (!requireRedis(t)) return;
  // Answers held for a moment must not time out, nor make the link look dead.
  const { redis, proxy, prefix, b, pub, sub } = await proxiedPair(t, 'rbg',
    { redis: { commandTimeoutMs: 5000, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } });
  for (let i = 1; i <= 4; i++) await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbg', value: `a${i}` });
  const seen = await sub.items(4);
  t.same(seen.map((f) => f['seq']), [1, 2, 3, 4]);

  // The first reload after the reset (the first resubscription's) has its answer kept; the next
  // one (the second resubscription's) is kept from Redis, with what follows it.
  const loadSha = createHash('sha1').update(TOPIC_SCRIPTS.tidingsTopicLoad.lua).digest('hex');
  let loads = 0;
  let command = -1;
  const newerReload = proxy.holdRequests((chunk, index) => {
    if (!chunk.includes(loadSha)) return false;
    if (++loads > 1) return true;
    command = index;
    proxy.hold(index);
    return false;
  });
  proxy.reset();
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  await waitFor('the older reload answered (a4 there)', () => command >= 0 && proxy.held(command).includes('a4'));
  // Redis goes back to seq 3, then drops node b's subscriber link (and node a's).
  const keys = new TopicKeys(prefix, 'chat', 'rbg');
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  await admin.hset(keys.topic, 'seq', 3);
  await admin.rpop(keys.recent);
  await admin.client('KILL', 'TYPE', 'pubsub');
  t.equal(await newerReload, command, 'the second resubscription\'s reload, on the same command connection');
  const b1 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbg', value: 'b1' });
  const b2 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbg', value: 'b2' });
  t.same([b1['seq'], b2['seq']], [4, 5], 'b1 took seq 4 again, b2 went past the seq node b holds');
  const channel = (b.engine.topics as RedisTopicEngine)['channels'].get(keys.channel)!;
  await waitFor('b1 and b2 reached node b', () => channel.pending?.length === 2);
  proxy.release(command); // the older reload's answer first
  proxy.releaseRequests(command);
  await b1BeforeB2(t, sub, seen[3]!, 10_000);
});

/** A resubscription while an older reload is in flight (the subscriber link dropped again: Redis
 * kills it) reloads the window once after it. The older reload's answer, taken after the newer
 * reload began, applied the messages that arrived for the newer one, to a window not yet checked
 * (`unchecked`), so the first of them began a third reload. Same holds as the case above: the older
 * reload's answer and the newer reload's request wait on node b's command connection until b1
 * has reached node b. */
t.test('a resubscription during an older reload: one reload after it, not two', async (t) => {
  if (!requireRedis(t)) return;
  const { redis, proxy, prefix, b, pub, sub } = await proxiedPair(t, 'rbr',
    { redis: { commandTimeoutMs: 5000, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } });
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbr', value: 'a1' });
  await sub.items(1);
  const keys = new TopicKeys(prefix, 'chat', 'rbr');
  const channel = (b.engine.topics as RedisTopicEngine)['channels'].get(keys.channel)!;
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const loadSha = createHash('sha1').update(TOPIC_SCRIPTS.tidingsTopicLoad.lua).digest('hex');
  const loads = await loadsDuring(redis.url, keys.topic, async () => {
    let seen = 0;
    let command = -1;
    const newerReload = proxy.holdRequests((chunk, index) => {
      if (!chunk.includes(loadSha)) return false;
      if (++seen > 1) return true;
      command = index;
      proxy.hold(index);
      return false;
    });
    proxy.reset();
    t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
    await waitFor('the older reload answered (a1 there)', () => command >= 0 && proxy.held(command).includes('a1'));
    await admin.client('KILL', 'TYPE', 'pubsub');
    t.equal(await newerReload, command, 'the second resubscription\'s reload, on the same command connection');
    await pub.ok({ t: 'pub', cache: 'chat', topic: 'rbr', value: 'b1' });
    await waitFor('b1 reached node b', () => channel.pending?.length === 1);
    proxy.release(command); // the older reload's answer first
    proxy.releaseRequests(command);
    t.match(await sub.items(1, () => true, 10_000), [{ value: 'b1', seq: 2 }], 'b1 reaches the subscriber');
    await waitFor('no reload in flight on node b', () => channel.reloading === undefined);
  });
  t.equal(loads, 2, 'two reloads: the older one and the resubscription\'s');
  t.same(await sub.drain('disc', 50), [], 'nothing lost');
});

/** A private redis-server, node a straight to it, node b through a proxy (configs `aConfig`,
 * `bConfig`), a publisher on node a and a subscriber of topic `topic` (also the key prefix's label)
 * on node b. */
async function proxiedPair(t: Test, topic: string, bConfig: object, aConfig: object = {}) {
  const redis = await startRedis(t);
  const proxy = await startTcpProxy(redis.port);
  t.teardown(() => proxy.close());
  const prefix = uniquePrefix(topic);
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config: aConfig });
  const b = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config: bConfig });
  const pub = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'p' }));
  const sub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 's' }));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic });
  return { redis, proxy, prefix, b, pub, sub };
}

/** b1 (or a disc naming its loss, under a page other than a4's) reaches the subscriber before b2:
 * never b2 alone. */
async function b1BeforeB2(t: Test, sub: RawClient, a4: Frame, timeoutMs: number): Promise<void> {
  const first = await sub.next((f) => f['t'] === 'disc' || (f['t'] === 'item' && (f['value'] === 'b1' || f['value'] === 'b2')), timeoutMs);
  t.not(first['value'], 'b2', `b2 arrived with neither b1 nor a disc before it: ${JSON.stringify(first)}`);
  if (first['t'] === 'disc') t.not(first['page'], a4['page'], 'the topic went on under a new page');
}

/** a1..a3 published and saved by Redis (what it comes back with: the topic at seq 3), then a4: the
 * four items the subscriber got. */
async function savedAtThree(t: Test, redis: RedisProcess, pub: RawClient, sub: RawClient, topic: string): Promise<Frame[]> {
  for (let i = 1; i <= 3; i++) await pub.ok({ t: 'pub', cache: 'chat', topic, value: `a${i}` });
  const admin = new Redis(redis.url);
  await admin.save();
  admin.disconnect();
  await pub.ok({ t: 'pub', cache: 'chat', topic, value: 'a4' });
  const seen = await sub.items(4);
  t.same(seen.map((f) => f['seq']), [1, 2, 3, 4]);
  return seen;
}
