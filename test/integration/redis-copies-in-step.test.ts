/** Redis-engine nodes keep their copies of what Redis holds in step with it: a topic's window
 * (resuming on a node that lags, a topic Redis lost under a smaller page, a quiet topic kept alive),
 * the group directory (an input topic's pubAppend refused, a batched publish acknowledged only once
 * the group took it), the shared sets after a re-subscription. One file (one process) for what were
 * seven: each case has its own servers (and proxy) under its own key prefix on the shared Redis and
 * closes them when it ends, so the cases do not disturb each other. */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import type { RedisEngine } from '../../src/engine/redis-engine.js';
import { CACHE, RawModerator } from '../helpers/moderator.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type PublishResult, type TidingsConfig, type TidingsServer } from '../../src/index.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { deletePrefix, proxiedRedis, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { eventually } from '../helpers/wait.js';
import { resetHoldingSubscribe, startTcpProxy } from '../helpers/tcp-proxy.js';
import { startServer } from '../helpers/server.js';

const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

/** A subscribed but quiet topic stays in Redis whatever topics.idleTopicMs is: the node's touch
 * runs at least three times per TTL (a lost topic would show as a new page and a disc). */
t.test('a subscribed, quiet topic outlives idleTopicMs (small idleTopicMs)', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('idle');
  t.teardown(() => deletePrefix(url, prefix));
  // The touch runs on the real clock (and Redis expires on its own): with 500 ms, a loaded machine
  // that held the node's event loop for 2/3 of it (333 ms) lost the topic. 1.5 s needs a 1 s stall.
  const idleTopicMs = 1500;
  const config = { topics: { idleTopicMs } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const pub = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'p' }));
  const sub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 's' }));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'quiet' });
  const first = await pub.ok({ t: 'pub', cache: 'chat', topic: 'quiet', value: 'v1' });
  await sub.items(1);
  // A fixed time on purpose: what is proved is that nothing is lost while the topic stays quiet for
  // several idleTopicMs; there is no state to wait for.
  await new Promise((r) => setTimeout(r, 3 * idleTopicMs));
  const second = await pub.ok({ t: 'pub', cache: 'chat', topic: 'quiet', value: 'v2' });
  t.same([second['page'], second['seq']], [first['page'], 2], 'the next publish continues the page');
  t.same(await sub.drain('disc', 300), [], 'no disc');
});

/** Two nodes on a fresh prefix of the shared Redis whose lastPage key (P) is far ahead of the
 * clock (pages handed out faster than it), and a connection to that Redis. */
async function pagesAheadOfTheClock(t: Test, label: string) {
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix(label);
  t.teardown(() => deletePrefix(url, prefix));
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  const P = `${prefix}t:\u0000lastpage`;
  await redis.set(P, String(Date.now() + 1_000_000_000));
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  return { redis, prefix, P, a, b };
}

/** A topic Redis lost together with the lastPage key (FLUSHDB, eviction), when lastPage had run
 * ahead of the publishing node's clock (topics created faster than the clock, or a node whose clock
 * is behind), is made again by a publish under a smaller page. Pages only grow (docs/protocol.md):
 * the subscribers' node goes on under a page above the one it held, with a disc (naming the
 * publish's loss), then the new items; before, the disc named the smaller page. */
t.test('a topic lost with the lastPage key: its subscribers get a disc onto a larger page and the new items', async (t) => {
  if (!requireRedis(t)) return;
  const { redis, prefix, P, a, b } = await pagesAheadOfTheClock(t, 'small');
  const pub = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'p' }));
  const sub = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 's' }));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'x' });
  const v1 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'v1' });
  await sub.items(1);
  await redis.del(`${prefix}t:chat\u0000x`, `${prefix}t:chat\u0000x\u0000s`, P); // what FLUSHDB does to these keys
  const v2 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'v2' });
  t.ok(v2['page'] < v1['page'], 'the publish made the topic again under a smaller page (the case this is about)');
  const disc = await sub.next((f) => f['t'] === 'disc' || f['t'] === 'item', 10_000).catch(() => undefined);
  t.match(disc, { t: 'disc', lastSeq: 1, newSeq: 1 }, `the subscriber is told first (got ${JSON.stringify(disc)})`);
  t.ok(disc && disc['page'] > v1['page'], `onto a page larger than ${v1['page']} (got ${disc?.['page']})`);
  const v3 = await pub.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'v3' });
  t.equal(v3['page'], disc?.['page'], 'publishes go on under that page');
  t.match(await sub.items(1, () => true, 10_000).catch(() => []), [{ value: 'v3', page: v3['page'], seq: 1 }], 'then gets the next item');
});

/** The same loss, published to from a node that holds the topic (it has subscribers): the publish
 * starts the page above the one that node holds (scripts.ts topicPrelude), so the subscribers of
 * every node holding that page get a disc onto the new page and then every item published under
 * it. Before, the publish took the smaller page, and the reload it caused went on under a page
 * above it without the items published under it (lost, only announced by the disc). Once per
 * script that starts a page for a publish: a batch, a publish alone (an idempotency key: the
 * group-feeding script), a pubAppend. */
t.test('a topic lost with the lastPage key, published to from a node holding it: no acknowledged item is lost', async (t) => {
  if (!requireRedis(t)) return;
  const { redis, prefix, P, a, b } = await pagesAheadOfTheClock(t, 'held');
  const pub = await RawClient.open(a, await tokenFor(a, PermissionScopes.allDataReadWrite(), { tokenId: 'p' }));
  const subs = [await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'sa' })), await RawClient.open(b, await tokenFor(b, scope, { tokenId: 'sb' }))];
  t.teardown(() => { pub.close(); for (const sub of subs) sub.close(); });
  for (const sub of subs) await sub.ok({ t: 'sub', cache: 'chat', topic: 'x' });
  let held = await pub.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'v1' });
  for (const sub of subs) await sub.items(1);
  /** The next `count` disc and item frames of each subscriber (fewer when they do not come). */
  const received = (count: number) => Promise.all(subs.map(async (sub) => {
    const frames: Frame[] = [];
    for (let n = 0; n < count; n++) {
      const frame = await sub.next((f) => f['t'] === 'disc' || f['t'] === 'item', 10_000).catch(() => undefined);
      if (frame) frames.push(frame);
    }
    return frames;
  }));
  const x = { cache: 'chat', topic: 'x' };
  const ways: Frame[][] = [
    [{ t: 'pub', ...x, value: 'v2' }, { t: 'pub', ...x, value: 'v3' }],
    [{ t: 'pub', ...x, value: 'v4', idempotencyKey: 'k4' }],
    [{ t: 'pubAppend', ...x, list: 'l', value: 'v5' }],
  ];
  for (const requests of ways) {
    await redis.del(`${prefix}t:chat\u0000x`, `${prefix}t:chat\u0000x\u0000s`, P); // what FLUSHDB does to these keys
    const replies: Frame[] = [];
    for (const request of requests) replies.push(await pub.ok(request));
    const page = replies[0]!['page'];
    t.ok(page > held['page'], `${requests[0]!['t']}: started a page above ${held['page']} (got ${page})`);
    const expected = [{ t: 'disc', lastSeq: held['seq'], newSeq: 1, page }, ...requests.map((r, i) => ({ t: 'item', value: r['value'], page, seq: i + 1 }))];
    for (const [i, frames] of (await received(expected.length)).entries()) {
      t.match(frames, expected, `subscriber on node ${'ab'[i]}: a disc onto the new page, then every item (got ${JSON.stringify(frames)})`);
    }
    held = replies.at(-1)!;
  }
});

/** A pubAppend to a group's input topic is refused on every node, also on one whose copy of the
 * group directory predates the group (the script checks the copy's version). */
t.test('pubAppend to an input topic on another node is refused (or moderated), never published unmoderated', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = { auth: { signingKeys: [signingKey] }, moderation: { nodeTimeoutMs: 1000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const mod = await RawModerator.join(a, { tokenId: 'mod' });
  t.teardown(() => mod.client.close());

  const onA = await RawClient.open(a, await tokenFor(a, PermissionScopes.allDataReadWrite(), { tokenId: 'ua' }));
  const onB = await RawClient.open(b, await tokenFor(b, PermissionScopes.allDataReadWrite(), { tokenId: 'ub' }));
  t.teardown(() => { onA.close(); onB.close(); });
  await onA.ok({ t: 'sub', cache: CACHE, topic: 'room1-input' });

  const refusedOnA = await onA.request({ t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'l', value: 'x' });
  t.equal(refusedOnA['t'], 'err', `node A (has the directory) refuses: ${JSON.stringify(refusedOnA['e'])}`);

  const onBReply = await onB.request({ t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'l', value: 'unmoderated' });
  // Accepted, it must reach the moderator (10 s: a loaded machine may be slow); refused, it cannot.
  const delivered = onBReply['t'] === 'err' ? false : await mod.received(1, 10_000).then(() => true, () => false);
  t.ok(onBReply['t'] === 'err' || delivered,
    `node B: ${JSON.stringify(onBReply)}; delivered to the moderator: ${delivered}`);
  const raw = await onA.drain('item', 300);
  t.same(raw.map((f) => f['value']), [], 'nothing reached the input topic without going through the group');
});

/** A publish to a group's input topic is acknowledged only once the group took it, also when it
 * was gathered into a batch while the node's copy of the group directory said the topic feeds no
 * group and the copy was reloaded before the batch left (topic-engine.ts sendBatch). */
t.test('every publish acknowledged after a group exists is fed to it', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('feed');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = { auth: { signingKeys: [signingKey] }, moderation: { ackTimeoutMs: 60_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  // A group on node b: publishes to "<x>-input" feed it. Node a's copy of the directory is older.
  const mod = await RawModerator.join(b, { tokenId: 'mod', maxInFlight: 1000, policy: () => ({ t: 'accept' }) });
  t.teardown(() => mod.client.close());
  const engine = a.engine as unknown as RedisEngine;
  // Node a reloads its copy (as after a stale reply or its own join) while publishes keep coming,
  // one per event-loop iteration, as a busy node sees them.
  let reloaded = false;
  void engine.groups.reload(CACHE).then(() => { reloaded = true; });
  const acks: Array<Promise<PublishResult>> = [];
  await new Promise<void>((resolve) => {
    const step = () => {
      acks.push(engine.topics.publish(CACHE, 'room1-input', `v${acks.length}`, 'alice'));
      if (reloaded) resolve(); else setImmediate(step);
    };
    setImmediate(step);
  });
  const results = await Promise.all(acks);
  t.equal(results.length, acks.length, `${acks.length} publishes acknowledged`);
  await mod.received(acks.length, 5000).catch(() => {});
  // Both sides sorted the same way (as strings: v10 before v2), whatever the count.
  t.same(mod.deliveries.map((d) => d['value']).sort(), acks.map((_, i) => `v${i}`).sort(), 'each reached the moderator');
});

/** A client resuming on node B from a position node A delivered, while node B's subscription is
 * behind, gets exactly the items after it: node B brings its window up to the position first
 * instead of taking it for one from the future (a false disc, then items twice). */
t.test('resume on a node whose copy lags: no false disc, nothing twice', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('lag');
  t.teardown(() => deletePrefix(url, prefix));
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const open = async (server: typeof a, id: string) => {
    const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: id }));
    t.teardown(() => c.close());
    return c;
  };
  const onA = await open(a, 'x');
  const otherOnB = await open(b, 'y'); // node b already serves the topic
  await onA.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await otherOnB.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v1' });
  await otherOnB.items(1);
  // Node b's subscription link is slow for a moment (its socket is not read: data waits in TCP).
  const stream = ((b.engine as unknown as { topics: { subscriber: { stream: { pause(): void; resume(): void } } } }).topics.subscriber).stream;
  stream.pause();
  for (let i = 2; i <= 4; i++) await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: `v${i}` });
  const seen = await onA.items(4);
  const last = seen.at(-1)!;
  // The client moves to node b and resumes from what it saw.
  const moved = await open(b, 'x2');
  await moved.ok({ t: 'sub', cache: 'chat', topic: 'lag', after: { page: last['page'], seq: last['seq'] } });
  setTimeout(() => stream.resume(), 200);
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v5' }).catch(() => {});
  // Waits for v5 (a loaded machine may take long after the resume), then for anything behind it.
  const v5 = await moved.next((f) => f['t'] === 'item' && f['value'] === 'v5', 10_000).catch(() => undefined);
  const frames: Frame[] = [...(v5 ? [v5] : []), ...await moved.drain('item', 300), ...await moved.drain('disc', 10)];
  t.same(frames.filter((f) => f['t'] === 'disc'), [], 'no disc: nothing was lost');
  t.same(frames.filter((f) => f['t'] === 'item').map((f) => f['value']), ['v5'], 'only what the client had not seen');
});

/** A client resuming on a node whose copy of the topic lags behind its position while that node
 * cannot reach Redis (so it cannot catch up first): the `sub` is refused SERVER_UNAVAILABLE
 * (retryable), not served as a resume "from the future" (a false disc, then the window the client
 * already holds, then the same items again once the node catches up). Retried once Redis answers,
 * it gets exactly the items after its position. */
t.test('resume on a lagging node that cannot reach Redis: refused for now, then exact', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('lagout');
  t.teardown(() => deletePrefix(url, prefix));
  const auth = { signingKeys: [generateSigningKey()] };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  // Node b reaches Redis through a relay the test can freeze (short timeouts: an outage is noticed fast).
  const relay = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => relay.close());
  const b = await startServer(t, {
    engine: 'redis', redisUrl: `redis://127.0.0.1:${relay.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } },
  });
  const open = async (server: typeof a, id: string) => {
    const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: id }));
    t.teardown(() => c.close());
    return c;
  };
  const onA = await open(a, 'x');
  const otherOnB = await open(b, 'y'); // node b serves the topic: it holds a copy
  await onA.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await otherOnB.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v1' });
  await otherOnB.items(1);
  // Node b loses Redis: it hears nothing more, and cannot ask.
  relay.freeze();
  for (let i = 2; i <= 4; i++) await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: `v${i}` });
  const last = (await onA.items(4)).at(-1)!;
  const after = { page: last['page'], seq: last['seq'] };
  // The client moves to node b and resumes from what it saw.
  const moved = await open(b, 'x2');
  const reply = await moved.request({ t: 'sub', cache: 'chat', topic: 'lag', after });
  t.match(reply, { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'refused for now: node b cannot know what follows the position');
  t.same(moved.frames.filter((f) => f['t'] === 'disc' || f['t'] === 'item'), [], 'no false disc, nothing replayed');
  // Redis comes back for node b; the client asks again (as the SDK does on SERVER_UNAVAILABLE).
  relay.heal();
  let ok: Frame | undefined;
  t.ok(await eventually(async () => {
    const r = await moved.request({ t: 'sub', cache: 'chat', topic: 'lag', after });
    if (r['t'] === 'ok') ok = r;
    return ok !== undefined;
  }), 'accepted once node b reaches Redis');
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v5' });
  const shown = () => moved.frames.filter((f) => f['t'] === 'disc' || f['t'] === 'item').map((f) => (f['t'] === 'disc' ? 'disc' : f['value']));
  t.ok(await eventually(() => shown().includes('v5')), 'the next item arrives');
  t.same(shown(), ['v5'], 'then exactly the items after the position');
});

/** After its Redis subscriber link comes back, a node reloads its copies of the shared sets
 * (revocations, follows) only once its subscription is active again on the new connection: a
 * change made on another node while the re-sent SUBSCRIBE has not reached Redis yet is in the
 * node's copy, not lost until the next reconnect (a revoked tokenId is refused there, a follow
 * notifies through it). The proxy holds the subscriber's SUBSCRIBE, so the window is made, not
 * hoped for. */

async function client(t: Test, node: TidingsServer, tokenId: string): Promise<RawClient> {
  const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId }));
  t.teardown(() => c.close());
  return c;
}

t.test('a change made while the re-sent SUBSCRIBE is held reaches the reconnected node', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'resub');
  const hooks = await HttpReceiver.start(t);
  const config: DeepPartial<TidingsConfig> = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { connectTimeoutMs: 300, reconnectMaxMs: 200 },
    webhooks: { endpoints: [{ name: 'backend', url: hooks.url, secret: 'a-secret-of-enough-length', cache: CACHE, topicPrefix: '', events: ['item.undelivered'] }] },
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });
  const undelivered = (tokenId: string, topic: string) =>
    hooks.events().filter((e) => e['type'] === 'item.undelivered' && e['tokenId'] === tokenId && e['topic'] === topic).length;
  const gina = await client(t, a, 'gina');
  const hank = await client(t, b, 'hank');
  const ritaToken = await tokenFor(a, scope, { tokenId: 'rita' });
  const opens = (node: TidingsServer, token: string) => RawClient.open(node, token).then((c) => { c.close(); return true; }, () => false);
  t.ok(await opens(b, ritaToken), 'B accepts rita before the revocation');

  // B's links drop; the subscriber's new connection keeps its SUBSCRIBE (of, among others, the
  // revocation channel) from Redis until released.
  const channel = Buffer.from(`${prefix}r:\u0000channel`);
  const subscriberLink = await resetHoldingSubscribe(proxy, channel);
  if (subscriberLink === undefined) { t.fail('B\'s subscriber did not send its SUBSCRIBE again'); return; }
  // B's command connection is back and has answered what B sent on it up to now (the reload, when
  // B does not wait for its subscription).
  t.ok(await eventually(async () => (await hank.request({ t: 'pub', cache: CACHE, topic: 'probe', value: 'p' }))['t'] === 'ok'), 'B publishes again');

  // Changes made on A while B's SUBSCRIBE has not reached Redis.
  await a.revoke({ tokenId: 'rita' });
  await gina.ok({ t: 'follow', cache: CACHE, topic: 'late' });
  proxy.releaseRequests(subscriberLink);

  t.ok(await eventually(async () => !(await opens(b, ritaToken))), 'B refuses the tokenId revoked on A during the window');
  let n = 0;
  t.ok(await eventually(async () => {
    await hank.request({ t: 'pub', cache: CACHE, topic: 'late', value: `try ${++n}` });
    await new Promise((r) => setTimeout(r, 100));
    return undelivered('gina', 'late') > 0;
  }), 'a publish through B notifies the follow made on A during the window');
});
