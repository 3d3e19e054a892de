/** Conformance, engine redis: the official Momento SDKs on a node whose own link to Redis fails.
 * Subscribed while another node goes on publishing, more than the window keeps: once the link is
 * back the node reloads the topic and finds the items it missed partly gone from Redis: the
 * Subscribe stream stays open and gets a `_Discontinuity` whose new_topic_sequence is the last
 * item before the resume point (docs/momento-compat.md), then the items Redis still held. Writes
 * and publishes whose Redis reply was lost, or that could not be sent: answered "maybe applied"
 * or failed, never applied twice by the SDK's own retries, and no acknowledged item missing.
 * Subscribes refused meanwhile: a first one answers an Error with both SDKs; a web SDK resubscribe
 * ends `OK` after a pause, never in a tight loop. */
import t from 'tap';
import type { TopicDiscontinuity, TopicItem, TopicSubscribe } from '@gomomento/sdk';
import { collector } from '../helpers/sdk.js';
import { apiKeyFor, errorCode, startMomentoServer } from '../helpers/momento.js';
import { SDKS, kind, nodeSdk, webSdk } from '../helpers/momento-sdks.js';
import { freePort, proxiedRedis, requireRedis } from '../helpers/redis.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { ManualClock } from '../../src/index.js';
import { REFUSED_RESUBSCRIBE_PAUSE_MS } from '../../src/server/grpc/web.js';

const WINDOW_ITEMS = 3;

for (const sdk of SDKS) {
  t.test(`${sdk.name} - items a node missed while its Redis link was down, past the window: a discontinuity, then what Redis kept`, async (t) => {
    if (!requireRedis(t)) return;
    const { url, prefix, proxy } = await proxiedRedis(t, 'momento-gap');
    const topics = { windowItems: WINDOW_ITEMS };
    // a serves the SDK through the proxy; b, straight to Redis, publishes while a is cut off.
    const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
      config: { topics, redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
    const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { topics } });
    const publish = (value: string) => b.engine.topics.publish('chat', 'r', value, 'backend');

    const { topics: client } = await sdk.clients(t, a, await apiKeyFor(a));
    const items = collector<TopicItem>();
    const gaps = collector<TopicDiscontinuity>();
    const errors = collector<TopicSubscribe.Error>();
    const sub = await client.subscribe('chat', 'r', { onItem: items.push, onDiscontinuity: gaps.push, onError: (e) => errors.push(e) }) as TopicSubscribe.Subscription;
    await gaps.until(1); // the new subscription's position
    await publish('one');
    await items.until(1);

    proxy.blackhole();
    proxy.reset();
    await waitFor('node a cut off from Redis', () => a.engine.topics.liveInterrupted?.('chat', 'r') === true);
    for (const value of ['two', 'three', 'four', 'five', 'six']) await publish(value);
    proxy.heal();

    await items.until(1 + WINDOW_ITEMS, 15_000);
    const [, gap] = await gaps.until(2);
    t.same(items.events.map((i) => [i.valueString(), i.sequenceNumber()]), [['one', 1], ['four', 4], ['five', 5], ['six', 6]],
      'the items Redis kept, in order, after the one delivered before the cut');
    t.equal(gap!.lastSequenceNumber(), 1, 'the last item the subscriber held');
    t.equal(gap!.newSequenceNumber(), 3, 'items resume after 3: Redis kept 4, 5, 6');
    t.equal(gap!.newSequencePage(), gaps.events[0]!.newSequencePage(), 'on the page the subscription started on');
    t.equal(gaps.events.length, 2, 'one discontinuity for the gap');
    t.same(errors.events, [], 'the subscription was not ended');
    sub.unsubscribe();
  });
}

/** A write whose Redis reply was lost with node a's link (Redis ran it; the proxy kept the answer,
 * then the link dropped): node a answers SERVER_UNAVAILABLE, gRPC `UNAVAILABLE`, which the Node
 * SDK retries at once, but only for the calls it deems idempotent (its DefaultEligibilityStrategy).
 * The non-idempotent ones come back as the error and are applied once, not twice; `set`, which it
 * does retry, shows that the retry happens in this very scenario. The web SDK retries no unary call. */
for (const sdk of SDKS) {
  t.test(`${sdk.name} - writes whose Redis reply was lost: the non-idempotent ones are not retried, so applied once`, async (t) => {
    if (!requireRedis(t)) return;
    const { url, prefix, proxy } = await proxiedRedis(t, 'momento-lost');
    const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
      config: { redis: { commandTimeoutMs: 10_000, linkTimeoutMs: 20_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
    const b = await startMomentoServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
    const { cache: onA } = await sdk.clients(t, a, await apiKeyFor(a));
    const { cache: onB } = await nodeSdk.clients(t, b, await apiKeyFor(b));

    const cases: { name: string; write: () => Promise<object>; read: () => Promise<string>; once: string; retried?: boolean }[] = [
      { name: 'increment', write: () => onA.increment('app', 'n', 1), read: async () => String((await onB.get('app', 'n')).value()), once: '1' },
      { name: 'listPushBack', write: () => onA.listPushBack('app', 'l', 'x'), read: async () => String((await onB.listFetch('app', 'l')).value()), once: 'x' },
      { name: 'listConcatenateBack', write: () => onA.listConcatenateBack('app', 'lc', ['x']), read: async () => String((await onB.listFetch('app', 'lc')).value()), once: 'x' },
      { name: 'dictionaryIncrement', write: () => onA.dictionaryIncrement('app', 'd', 'f', 1), read: async () => String((await onB.dictionaryGetField('app', 'd', 'f')).value()), once: '1' },
      { name: 'sortedSetIncrementScore', write: () => onA.sortedSetIncrementScore('app', 'z', 'm', 1), read: async () => String((await onB.sortedSetGetScore('app', 'z', 'm')).score()), once: '1' },
      { name: 'set', write: () => onA.set('app', 's', 'v'), read: async () => String((await onB.get('app', 's')).value()), once: 'v', retried: sdk === nodeSdk },
    ];
    for (const c of cases) {
      t.equal(kind(await onA.set('app', 'warm', 'up')), 'Success', 'node a is linked to Redis');
      // Every answer Redis sends node a is kept: its command connection is a new one after each reset.
      for (let index = 0; index < proxy.accepted; index++) proxy.hold(index);
      const response = c.write();
      await waitFor(`${c.name} applied in Redis`, async () => await c.read() === c.once);
      proxy.reset();
      const answer = await response;
      if (c.retried) t.equal(kind(answer), 'Success', `${c.name}: the SDK retried it after UNAVAILABLE`);
      else t.equal(errorCode(answer), 'SERVER_UNAVAILABLE', `${c.name}: answered "maybe applied", not retried`);
      t.equal(await c.read(), c.once, `${c.name}: applied once`);
    }
  });
}

/** Publishes through node a while its link to Redis fails, subscribers on node a and on node b:
 * one whose reply was lost answers SERVER_UNAVAILABLE (the SDKs never retry a publish) and was
 * delivered once; one sent while node a cannot reach Redis fails SERVER_UNAVAILABLE and takes no
 * number; one node b acknowledged meanwhile reaches node a's subscriber once the link is back.
 * Both subscriptions get the acknowledged items once, numbered without a hole, with no further
 * discontinuity and no error. */
t.test('node-sdk - publishes through a node losing its Redis link: a failed one surfaces and leaves no hole, acknowledged ones all arrive', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'momento-pub');
  const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 10_000, linkTimeoutMs: 20_000, queueTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startMomentoServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const { topics: onA } = await nodeSdk.clients(t, a, await apiKeyFor(a));
  const { topics: onB } = await nodeSdk.clients(t, b, await apiKeyFor(b));
  const subscribe = async (client: typeof onA) => {
    const items = collector<TopicItem>();
    const gaps = collector<TopicDiscontinuity>();
    const errors = collector<TopicSubscribe.Error>();
    t.equal(kind(await client.subscribe('app', 'news', { onItem: items.push, onDiscontinuity: gaps.push, onError: (e) => errors.push(e) })), 'Subscription', 'subscribed');
    await gaps.until(1); // the new subscription's position
    return { items, gaps, errors };
  };
  const subscribers = { a: await subscribe(onA), b: await subscribe(onB) };

  for (let index = 0; index < proxy.accepted; index++) proxy.hold(index);
  const lost = onA.publish('app', 'news', 'one');
  await subscribers.b.items.until(1);
  proxy.reset();
  t.equal(errorCode(await lost), 'SERVER_UNAVAILABLE', 'a publish whose reply was lost: "maybe applied", not retried');

  proxy.blackhole();
  proxy.reset();
  await waitFor('node a cut off from Redis', () => a.engine.topics.liveInterrupted?.('app', 'news') === true);
  t.equal(errorCode(await onA.publish('app', 'news', 'lost')), 'SERVER_UNAVAILABLE', 'a publish node a cannot send fails');
  t.equal(kind(await onB.publish('app', 'news', 'two')), 'Success', 'node b publishes meanwhile');
  proxy.heal();
  await waitFor('node a linked again', () => a.engine.topics.liveInterrupted?.('app', 'news') === false);
  t.equal(kind(await onA.publish('app', 'news', 'three')), 'Success', 'node a publishes again');

  for (const [node, s] of Object.entries(subscribers)) {
    await s.items.until(3, 10_000);
    t.same(s.items.events.map((i) => [i.valueString(), i.sequenceNumber()]), [['one', 1], ['two', 2], ['three', 3]], `node ${node}: each acknowledged item once, no hole`);
    t.equal(s.gaps.events.length, 1, `node ${node}: no discontinuity`);
    t.same(s.errors.events, [], `node ${node}: not ended`);
  }
});

/** A grpc-web stream recycled (momento.webStreamMaxMs) while Redis does not answer node a: the web
 * SDK's resubscribe is refused TIMEOUT_ERROR, retryable like SERVER_UNAVAILABLE (the Node SDK
 * resubscribes on both). The web SDK treats any end but `OK` as final, so the refusal ends `OK`:
 * it resubscribes, and once Redis answers again it gets what was published meanwhile, with no
 * error and no discontinuity. */
t.test('web-sdk - a resubscribe refused while Redis answers node a too late: resumed, not ended', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'momento-webtimeout');
  // The link is never taken for dead (linkTimeoutMs): every command that waits on it times out.
  const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { momento: { webStreamMaxMs: 200 }, redis: { commandTimeoutMs: 300, linkTimeoutMs: 60_000 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const publish = (value: string) => b.engine.topics.publish('app', 'news', value, 'backend');
  const refusedTimeouts = () => a.broker.refusals.errors().some((e) => e.op === 'sub' && e.code === 'TIMEOUT_ERROR');

  const { topics } = await webSdk.clients(t, a, await apiKeyFor(a));
  const items = collector<TopicItem>();
  const gaps = collector<TopicDiscontinuity>();
  const errors = collector<TopicSubscribe.Error>();
  t.equal(kind(await topics.subscribe('app', 'news', { onItem: items.push, onDiscontinuity: gaps.push, onError: (e) => errors.push(e) })), 'Subscription', 'subscribed');
  await gaps.until(1);
  await publish('one');
  await items.until(1);

  const linked = proxy.accepted;
  for (let index = 0; index < linked; index++) proxy.hold(index);
  await waitFor('a resubscribe refused TIMEOUT_ERROR', refusedTimeouts);
  await publish('two');
  for (let index = 0; index < linked; index++) proxy.release(index);

  await waitFor('the item published meanwhile, or the end', () => items.events.length >= 2 || errors.events.length > 0);
  t.same(errors.events.map((e) => e.errorCode()), [], 'the subscription was not ended');
  t.same(items.events.map((i) => [i.valueString(), i.sequenceNumber()]), [['one', 1], ['two', 2]], 'what was published meanwhile, in order');
  t.equal(gaps.events.length, 1, 'no discontinuity');
});

/** A first subscribe() on a node cut off from Redis, refused at once (redis.maxQueuedCommands 0):
 * TopicSubscribe.Error with both SDKs. Over grpc-web the refusal used to end `OK` like a dropped
 * stream's, so the web SDK resubscribed again and again, its subscribe() pending until the node
 * reached Redis. */
for (const sdk of SDKS) {
  t.test(`${sdk.name} - a first subscribe() on a node cut off from Redis: an Error, not pending`, async (t) => {
    if (!requireRedis(t)) return;
    const { prefix, proxy } = await proxiedRedis(t, 'momento-firstsub');
    const nothing = await freePort();
    const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
      config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, maxQueuedCommands: 0, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
    const { cache, topics } = await sdk.clients(t, a, await apiKeyFor(a));
    // Node a's connections dropped and every new one refused: Redis is away, not slow.
    proxy.retarget(nothing);
    proxy.reset();
    await waitFor('node a cut off from Redis', async () => errorCode(await cache.get('app', 'k')) === 'SERVER_UNAVAILABLE');
    const pending = new Promise<string>((resolve) => { setTimeout(() => resolve('still pending'), 20_000).unref(); });
    const answer = await Promise.race([topics.subscribe('app', 'news', { onItem: () => {} }), pending]);
    t.equal(typeof answer === 'string' ? answer : errorCode(answer), 'SERVER_UNAVAILABLE', 'subscribe() answers the refusal');
  });
}

/** A resubscribe refused at once (node a cut off from Redis, redis.maxQueuedCommands 0) ends `OK`
 * for the web SDK to resubscribe, but only REFUSED_RESUBSCRIBE_PAUSE_MS (node a's clock, held here)
 * after the refusal: the SDK resubscribes at once after an `OK` end, so it would otherwise loop as
 * fast as the round trip. Once the pause ends it resubscribes, and once node a reaches Redis again
 * the subscription resumes with what was published meanwhile. */
t.test('web-sdk - a resubscribe refused at once ends OK only after a pause, so the SDK does not loop', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'momento-webpause');
  const nothing = await freePort();
  const clock = new ManualClock(Date.now());
  const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, clock,
    config: { momento: { webStreamMaxMs: 200 }, redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, maxQueuedCommands: 0, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const publish = (value: string) => b.engine.topics.publish('app', 'news', value, 'backend');
  const refused = () => a.broker.refusals.errors().filter((e) => e.op === 'sub').reduce((sum, e) => sum + e.count, 0);

  const { cache, topics } = await webSdk.clients(t, a, await apiKeyFor(a));
  const items = collector<TopicItem>();
  const gaps = collector<TopicDiscontinuity>();
  const errors = collector<TopicSubscribe.Error>();
  t.equal(kind(await topics.subscribe('app', 'news', { onItem: items.push, onDiscontinuity: gaps.push, onError: (e) => errors.push(e) })), 'Subscription', 'subscribed');
  await gaps.until(1);
  await publish('one');
  await items.until(1);

  // Node a's connections dropped and every new one refused: its resubscribe is refused at once.
  proxy.retarget(nothing);
  proxy.reset();
  await waitFor('a resubscribe refused', () => refused() > 0);
  await publish('two');
  // Round trips through node a meanwhile: a resubscribe ended OK at once would be refused again in each.
  for (let i = 0; i < 10; i++) await cache.get('app', 'k');
  t.equal(refused(), 1, 'while node a\'s clock stands still, the refused resubscribe is held: no other');
  clock.advance(REFUSED_RESUBSCRIBE_PAUSE_MS);
  await waitFor('the SDK resubscribing after the pause', () => refused() > 1);

  proxy.retarget(Number(new URL(url).port));
  await waitFor('node a reaching Redis again', async () => kind(await cache.get('app', 'k')) === 'Miss');
  clock.advance(REFUSED_RESUBSCRIBE_PAUSE_MS);
  await waitFor('the item published meanwhile, or the end', () => items.events.length >= 2 || errors.events.length > 0);
  t.same(errors.events.map((e) => e.errorCode()), [], 'the subscription was not ended');
  t.same(items.events.map((i) => [i.valueString(), i.sequenceNumber()]), [['one', 1], ['two', 2]], 'what was published meanwhile, in order');
  t.equal(gaps.events.length, 1, 'no discontinuity');
});

/** Batches over grpc-web on a node cut off from Redis: the first item fails SERVER_UNAVAILABLE and
 * the stream ends `UNAVAILABLE`, which the web SDK reports. Ended `OK` (as a Subscribe is, for the
 * web SDK to resume), the SDK would read the answers so far as all of them: a setBatch that stored
 * nothing reported Success. */
t.test('web-sdk - batches on a node cut off from Redis: an error, not a short success', async (t) => {
  if (!requireRedis(t)) return;
  const { prefix, proxy } = await proxiedRedis(t, 'momento-webbatch');
  const a = await startMomentoServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, queueTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const { cache } = await webSdk.clients(t, a, await apiKeyFor(a));
  t.equal(kind(await cache.setBatch('app', { k1: 'v1' })), 'Success', 'node a stores a batch');

  proxy.blackhole();
  proxy.reset();
  t.equal(errorCode(await cache.setBatch('app', { k1: 'v2', k2: 'v2' })), 'SERVER_UNAVAILABLE', 'setBatch: the error');
  t.equal(errorCode(await cache.getBatch('app', ['k1', 'k2'])), 'SERVER_UNAVAILABLE', 'getBatch: the error');
});
