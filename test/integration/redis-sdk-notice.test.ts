/** The SDK hands the server's Redis notices to the subscription (onNotice): a real server on engine
 * redis whose redis-server is stopped and started again under a live subscription. Order on the
 * subscription: topic_interrupted, then a discontinuity for what Redis lost (no persistence here),
 * then topic_resumed; the connection never drops meanwhile. */
import t from 'tap';
import { startServer, startServerOnProxiedRedis } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { requireRedis, startRedis } from '../helpers/redis.js';
import { collector, sdkFor } from '../helpers/sdk.js';
import { TopicPublish, TopicNotice, TopicSubscribe, type TopicDiscontinuity, type TopicItem } from '../../src/client/index.js';

t.test('onNotice: topic_interrupted while redis-server is down, topic_resumed once the topic caught up', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t); // no persistence: the restart loses the topic
  const prefix = `tidings-test:sdk-notice:${process.pid}:`;
  const config = { redis: { reconnectMinMs: 20, reconnectMaxMs: 100 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const publisher = await sdkFor(t, a, { tokenId: 'pub' });
  const subscriber = await sdkFor(t, b, { tokenId: 'sub' });

  const order: string[] = [];
  const notices = collector<TopicNotice>();
  const items = collector<TopicItem>();
  const gaps = collector<TopicDiscontinuity>();
  let lost = 0;
  const sub = await subscriber.topics.subscribe('chat', 'room', {
    onItem: (i) => { order.push(`item:${i.valueString()}`); items.push(i); },
    onDiscontinuity: (d) => { order.push('disc'); gaps.push(d); },
    onNotice: (n) => { order.push(n.kind); notices.push(n); },
    onConnectionLost: () => { lost++; },
  });
  t.notOk('errorCode' in sub, 'subscribed');
  t.notOk((await publisher.topics.publish('chat', 'room', 'before')) instanceof TopicPublish.Error, 'published before the outage');
  await items.until(1);

  await redis.stop();
  const [interrupted] = await notices.until(1, 10_000);
  t.ok(interrupted instanceof TopicNotice, 'a TopicNotice');
  t.match(interrupted, { type: 'Notice', kind: 'topic_interrupted', cacheName: 'chat', topicName: 'room' }, 'told live items stopped');
  t.equal(interrupted!.isInterrupted(), true);
  const during = await publisher.topics.publish('chat', 'room', 'during');
  t.ok(during instanceof TopicPublish.Error && during.errorCode() === 'SERVER_UNAVAILABLE', 'a publish meanwhile is refused, retryable');

  await redis.start();
  await notices.until(2, 15_000);
  t.match(notices.events[1], { kind: 'topic_resumed', cacheName: 'chat', topicName: 'room' }, 'told live items flow again');
  t.equal(notices.events[1]!.isInterrupted(), false);
  t.same(order, ['item:before', 'topic_interrupted', 'disc', 'topic_resumed'], 'interrupted, the disc for what Redis lost, then resumed');

  let published = false;
  for (let i = 0; i < 100 && !published; i++) {
    published = !((await publisher.topics.publish('chat', 'room', 'after')) instanceof TopicPublish.Error);
    if (!published) await new Promise((r) => setTimeout(r, 50));
  }
  await items.until(2, 10_000);
  t.equal(items.events[1]!.valueString(), 'after', 'the subscription goes on by itself');
  t.equal(items.events[1]!.sequencePage(), gaps.events[0]!.newSequencePage(), 'on the page the disc announced');
  t.equal(lost, 0, 'the SDK connection never dropped');
  t.equal(notices.events.length, 2, 'two notices, no more');
});

t.test('onNotice: the notices of an unsubscribed subscription, read before a new one to the topic is confirmed, are not the new one\'s', async (t) => {
  const proxied = await startServerOnProxiedRedis(t);
  if (!proxied) return;
  const { server, redis } = proxied;
  const link = await startTcpProxy(server.port);
  t.teardown(() => link.close());
  const client = await sdkFor(t, server, { tokenId: 'ivy', url: `ws://127.0.0.1:${link.port}/v1/ws` });
  let started = 0;
  server.broker['subscriptions'].observe({ started: () => started++ });
  const first = await client.topics.subscribe('chat', 'noticed', {});
  t.equal(first.type, 'Subscription');
  // Held from here: the server's Redis link drops and comes back; the first subscription is told both.
  link.hold(0);
  redis.reset();
  await waitFor('topic_resumed sent', () => link.held(0).includes('topic_resumed'));
  t.ok(link.held(0).includes('topic_interrupted'), 'after topic_interrupted');
  (first as TopicSubscribe.Subscription).unsubscribe();
  const notices: TopicNotice[] = [];
  const second = client.topics.subscribe('chat', 'noticed', { onNotice: (n) => notices.push(n) });
  await waitFor('the new subscription taken', () => started === 2);
  link.release(0);
  t.equal((await second).type, 'Subscription', 'subscribed again');
  t.same(notices.map((n) => n.kind), [], 'neither notice reached the new subscription');
});
