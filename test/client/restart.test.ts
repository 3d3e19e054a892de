/** A server restart: the SDK learns each topic's final position from the shutdown `bye` and, when
 * it resumes on a new page (a restarted memory engine; engine redis when Redis lost the topic too),
 * reports how many items of the old page it missed, then carries on live. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor, itemCollector, statusReached } from '../helpers/sdk.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { generateSigningKey, type MemoryEngine } from '../../src/index.js';

/** The resume's discontinuity: from seq `held` onto a new page, `missed` items of the old page
 * missed; then a publish arrives live. */
async function resumedOnNewPage(t: Test, sdk: Awaited<ReturnType<typeof sdkFor>>, got: ReturnType<typeof itemCollector>, expected: { held: number; missed: number | undefined; why: string }) {
  const [gap] = await got.gaps.until(1, 10_000);
  t.equal(gap!.missedFromPreviousPage(), expected.missed, expected.why);
  t.equal(gap!.lastSequenceNumber(), expected.held, `it held seq ${expected.held}`);
  t.ok(gap!.newSequencePage() > got.items.events[0]!.sequencePage(), 'the topic is on a new page');
  const before = got.items.events.length;
  await sdk.topics.publish('chat', 'restart', 'after');
  await got.items.until(before + 1);
  t.equal(got.values().at(-1), 'after', 'live again');
}

t.test('restart - after a graceful restart the discontinuity says how many items of the old page were missed', async (t) => {
  const signingKeys = [generateSigningKey()];
  // Memory engine on purpose: the fault injection replaces its fan-out, and its restart starts a new page.
  const first = await startServer(t, { engine: 'memory', config: { auth: { signingKeys } } });
  const sdk = await sdkFor(t, first);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'restart', got.callbacks);
  for (const v of ['1', '2']) await sdk.topics.publish('chat', 'restart', v);
  await got.items.until(2);
  // Fault injection: items 3–5 are recorded but never reach the socket (as if they were still
  // queued when the old server went away), so the client holds seq 2 of a page that ended at 5.
  const engine = first.broker['deps'].engine as MemoryEngine;
  const fanout = engine.topics['fanout'];
  engine.topics['fanout'] = { publish: () => {}, sendTo: () => {} };
  for (const v of ['3', '4', '5']) engine.topics.publish('chat', 'restart', v, 'sdk-user');
  engine.topics['fanout'] = fanout;

  const reconnecting = statusReached(sdk.connection, 'reconnecting', () => true, 10_000);
  await first.close();
  await reconnecting;
  const second = await startServer(t, { engine: 'memory', config: { server: { port: first.port }, auth: { signingKeys } } });
  await resumedOnNewPage(t, sdk, got, { held: 2, missed: 3, why: 'items 3, 4 and 5 of the old page were missed, and the client is told' });
  t.equal(second.port, first.port, "the same address");
});

/** Engine redis keeps a topic's page across a node's restart; only a Redis that lost its state
 * starts a new one. A node restart that finds Redis emptied: the discontinuity counts from the
 * node's bye. Every item the node's window held had reached the client before its bye (the bye
 * waits for them), so the count is 0: known, not undefined. */
t.test('restart [redis] - a node restarted on an emptied Redis: the discontinuity counts the missed items from the bye', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 } };
  const options = { engine: 'redis' as const, redisUrl: redis.url, redisKeyPrefix: uniquePrefix('restart') };
  const first = await startServer(t, { ...options, config });
  const sdk = await sdkFor(t, first);
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'restart', got.callbacks);
  for (const v of ['1', '2', '3']) await sdk.topics.publish('chat', 'restart', v);
  await got.items.until(3);
  const reconnecting = statusReached(sdk.connection, 'reconnecting', () => true, 10_000);
  await first.close();
  await reconnecting;
  await redis.stop();
  await redis.start(); // no persistence: empty
  await startServer(t, { ...options, config: { ...config, server: { port: first.port } } });
  await resumedOnNewPage(t, sdk, got, { held: 3, missed: 0, why: 'the bye named seq 3, which the client held' });
});

/** Engine redis keeps a topic's page when a node shuts down: the client resumes on another node on
 * the same page, so that node's bye named no page end. Items published later while the client is
 * away and lost with Redis are counted by nothing: the SDK said 0 missed (from the old bye) where
 * it cannot know. */
t.test('restart [redis] - after a resume on the same page, a later page change is not counted from an old bye', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const options = { engine: 'redis' as const, redisUrl: redis.url, redisKeyPrefix: uniquePrefix('restart'),
    config: { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 } } };
  const a = await startServer(t, options);
  const b = await startServer(t, options);
  // Through a relay (the load balancer): to node a, then b; and to keep the client away.
  const proxy = await startTcpProxy(a.port);
  t.teardown(() => proxy.close());
  const sdk = await sdkFor(t, a, { url: `http://127.0.0.1:${proxy.port}`, connectTimeoutMs: 300 });
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'restart', got.callbacks);
  for (const v of ['1', '2']) await sdk.topics.publish('chat', 'restart', v);
  await got.items.until(2);
  proxy.retarget(b.port);
  await a.close(); // bye: the topic at seq 2
  const publisher = await sdkFor(t, b, { tokenId: 'publisher' }); // straight to node b
  await publisher.topics.publish('chat', 'restart', '3');
  await got.items.until(3);
  t.same(got.gaps.events, [], 'resumed on node b on the same page: Redis kept it');

  proxy.blackhole();
  proxy.reset();
  await statusReached(sdk.connection, 'reconnecting');
  for (const v of ['4', '5']) await publisher.topics.publish('chat', 'restart', v);
  await redis.stop();
  await redis.start(); // items 4 and 5 are gone, and no node delivered them to the client
  proxy.heal();
  await resumedOnNewPage(t, sdk, got, { held: 3, missed: undefined, why: 'how many it missed is unknown: no bye since seq 3' });
  t.same(got.values(), ['1', '2', '3', 'after'], 'nothing else arrived');
});
