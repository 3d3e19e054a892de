/** Conformance, engine redis: the official Momento SDKs subscribed on a node whose own link to Redis
 * goes down while another node goes on publishing, more than the window keeps. Once the link is
 * back the node reloads the topic and finds the items it missed partly gone from Redis: the
 * Subscribe stream stays open and gets a `_Discontinuity` whose new_topic_sequence is the last
 * item before the resume point (docs/momento-compat.md), then the items Redis still held. */
import t from 'tap';
import type { TopicDiscontinuity, TopicItem, TopicSubscribe } from '@gomomento/sdk';
import { collector } from '../helpers/sdk.js';
import { apiKeyFor, startMomentoServer } from '../helpers/momento.js';
import { SDKS } from '../helpers/momento-sdks.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const WINDOW_ITEMS = 3;

for (const sdk of SDKS) {
  t.test(`${sdk.name} - items a node missed while its Redis link was down, past the window: a discontinuity, then what Redis kept`, async (t) => {
    if (!requireRedis(t)) return;
    const url = await sharedRedisUrl();
    const prefix = uniquePrefix('momento-gap');
    t.teardown(() => deletePrefix(url, prefix));
    const proxy = await startTcpProxy(Number(new URL(url).port));
    t.teardown(() => proxy.close());
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
