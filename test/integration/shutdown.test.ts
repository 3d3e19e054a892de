/** Graceful shutdown loses nothing acknowledged: a lagging subscriber still gets every queued item,
 * then `bye` 4000 with its topics' final positions, then close 4000 (one still catching up from
 * the window gets the rest of it first); new requests during the drain
 * are refused with a retryable code. On both engines: with engine redis the bye waits for items
 * acknowledged before the stop that are still on their way from Redis, so it names the last one
 * and nothing follows it; a request waiting for Redis's answer is answered before the bye. */
import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { requireRedis, sharedRedisUrl, startRedis } from '../helpers/redis.js';
import { resetHoldingSubscribe, startTcpProxy } from '../helpers/tcp-proxy.js';
import { PermissionScopes } from '../../src/index.js';

type Paused = { _socket: { pause(): void; resume(): void } };
const pausable = (c: RawClient) => (c.ws as unknown as Paused)._socket;

testEachEngine('shutdown - a lagging subscriber gets every acknowledged item, then bye 4000 with its final positions', async (t, engine) => {
  const server = await startServer(t, { engine, config: { server: { shutdownGraceMs: 15_000, maxBackpressureBytes: 8 * 1024 * 1024, sendBufferHardLimitBytes: 16 * 1024 * 1024 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const lagging = await RawClient.open(server, token);
  const sub = await lagging.ok({ t: 'sub', cache: 'chat', topic: 'news' });
  pausable(lagging).pause();
  const pub = await RawClient.open(server, token);
  const total = 7000;
  const payload = 'n'.repeat(1024);
  const acked: number[] = [];
  // In rounds of 200, each answered before the next: with engine redis a publish is answered only
  // after Redis's reply, and more than server.maxPendingRequests (256) unanswered on one
  // connection would be refused (in memory each is answered at once).
  for (let from = 1; from <= total; from += 200) {
    const round: Array<Promise<unknown>> = [];
    for (let i = from; i < Math.min(from + 200, total + 1); i++) {
      round.push(pub.request({ t: 'pub', cache: 'chat', topic: 'news', value: `${i}:${payload}` }, 30_000).then((r) => { if (r['t'] === 'ok') acked.push(r['r'].seq as number); }));
    }
    await Promise.all(round);
  }
  t.equal(acked.length, total, 'every publish was acknowledged');

  const closing = server.close();
  await new Promise((r) => setTimeout(r, 300));
  // The lagging connection is still open (draining): a request on it is refused, retryably.
  const refusedId = lagging.send({ t: 'pub', cache: 'chat', topic: 'news', value: 'too late' });
  const pingId = lagging.send({ t: 'ping' });
  await new Promise((r) => setTimeout(r, 100));
  pausable(lagging).resume();
  const closed = await lagging.waitClosed(20_000);
  await closing;
  const items = lagging.frames.filter((f) => f['t'] === 'item');
  t.same(items.map((f) => f['seq']), Array.from({ length: total }, (_, i) => i + 1), `all ${total} acknowledged items arrived, in order`);
  const bye = lagging.frames.find((f) => f['t'] === 'bye');
  t.match(bye, { code: 4000, reconnect: true, ends: [{ cache: 'chat', topic: 'news', page: sub['page'], seq: total }] }, 'bye 4000 names the final position');
  t.notOk(lagging.frames.slice(lagging.frames.indexOf(bye!)).some((f) => f['t'] === 'item'), 'no item after the bye');
  t.match(lagging.frames.find((f) => f['id'] === refusedId), { t: 'err', e: { code: 'SERVER_UNAVAILABLE', cause: 'server_shutting_down' } }, 'a request during the drain got a retryable refusal');
  t.match(lagging.frames.find((f) => f['id'] === pingId), { t: 'ok', r: {} }, 'a ping during the drain is answered: it applies nothing, and the link is alive');
  t.equal(closed.code, 4000, 'then close 4000, not 1006');
});

testEachEngine('shutdown - a subscriber still catching up from the window gets every item before its bye', async (t) => {
  // 16 MiB of window, more than the loopback socket buffers and the catch-up bound (half of
  // maxBackpressureBytes) hold: the paused reader's catch-up is still under way when the stop begins.
  const count = 1600;
  const server = await startServer(t, { config: { server: { shutdownGraceMs: 15_000, maxBackpressureBytes: 64 * 1024 }, topics: { windowItems: count, windowBytes: 32 * 1024 * 1024 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const pub = await RawClient.open(server, token);
  const payload = 'w'.repeat(10 * 1024);
  let first: Record<string, number> = {};
  for (let from = 1; from <= count; from += 200) {
    const round = Array.from({ length: Math.min(200, count + 1 - from) }, (_, i) => pub.ok({ t: 'pub', cache: 'chat', topic: 'backlog', value: `${from + i}:${payload}` }));
    const replies = await Promise.all(round);
    if (from === 1) first = replies[0] as Record<string, number>;
  }
  const reader = await RawClient.open(server, token);
  pausable(reader).pause();
  reader.send({ t: 'sub', cache: 'chat', topic: 'backlog', after: { page: first['page'], seq: 0 } });
  await new Promise((r) => setTimeout(r, 300));
  const closing = server.close();
  await new Promise((r) => setTimeout(r, 100));
  pausable(reader).resume();
  const closed = await reader.waitClosed(20_000);
  await closing;
  const items = reader.frames.filter((f) => f['t'] === 'item');
  t.same(items.map((f) => f['seq']), Array.from({ length: count }, (_, i) => i + 1), `all ${count} items of the window arrived, in order`);
  const bye = reader.frames.find((f) => f['t'] === 'bye');
  t.match(bye, { code: 4000, ends: [{ cache: 'chat', topic: 'backlog', seq: count }] }, 'then bye 4000 with the final position');
  t.notOk(reader.frames.slice(reader.frames.indexOf(bye!)).some((f) => f['t'] === 'item'), 'no item after the bye');
  t.equal(closed.code, 4000);
}, ['memory']);

testEachEngine('shutdown - a request still waiting for Redis is answered before the bye', async (t) => {
  const redis = await startRedis(t);
  const server = await startServer(t, { engine: 'redis', redisUrl: redis.url, config: { server: { shutdownGraceMs: 15_000 }, redis: { commandTimeoutMs: 15_000 } } });
  const client = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheReadWrite('c')));
  redis.pause();
  const id = client.send({ t: 'set', cache: 'c', key: 'k', value: 'kept' });
  await new Promise((r) => setTimeout(r, 100));
  const closing = server.close();
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(client.frames.some((f) => f['t'] === 'bye'), 'no bye while the set is unanswered');
  redis.resume();
  const closed = await client.waitClosed(20_000);
  await closing;
  const reply = client.frames.findIndex((f) => f['id'] === id);
  const bye = client.frames.findIndex((f) => f['t'] === 'bye');
  t.match(client.frames[reply], { t: 'ok' }, 'the set Redis took is acknowledged');
  t.ok(reply >= 0 && reply < bye, 'before the bye');
  t.match(client.frames[bye], { code: 4000, reconnect: true });
  t.equal(closed.code, 4000, 'then close 4000');
}, ['redis']);

/** Engine redis: the stop waits for items on their way from Redis (a PING on the subscriber link:
 * once answered, every message before it was applied), and those items are held a moment to be
 * coalesced (server/native-batching.ts). The node's subscriber link is held by a proxy while 20
 * items are published and acknowledged and the stop sends its PING; released, the items and the
 * PING's answer arrive in one read, and the bye must still come after every item. */
t.test('shutdown [redis] - items that arrive with the settle\'s answer go out before the bye', async (t) => {
  if (!requireRedis(t)) return;
  const proxy = await startTcpProxy(Number(new URL(await sharedRedisUrl()).port));
  t.teardown(() => proxy.close());
  const server = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}` });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const sub = await RawClient.open(server, token);
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'settle-race' });
  // Which relay is the topic's subscriber link: the one that sends its SUBSCRIBE again after a reset.
  const link = await resetHoldingSubscribe(proxy, Buffer.from('settle-race'));
  t.not(link, undefined, 'the subscriber link subscribed again');
  proxy.releaseRequests(link!);
  await sub.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000);
  proxy.hold(link!);
  const pub = await RawClient.open(server, token);
  const total = 20;
  for (let i = 1; i <= total; i++) await pub.ok({ t: 'pub', cache: 'chat', topic: 'settle-race', value: `v${i}` });
  const closing = server.close();
  await new Promise((r) => setTimeout(r, 200)); // the stop's PING is sent on the held link
  proxy.release(link!);
  await sub.waitClosed(10_000);
  await closing;
  const items = sub.frames.filter((f) => f['t'] === 'item');
  t.same(items.map((f) => f['value']), Array.from({ length: total }, (_, i) => `v${i + 1}`), 'every acknowledged item arrived');
  const bye = sub.frames.findIndex((f) => f['t'] === 'bye');
  t.ok(bye >= 0, 'a bye');
  t.notOk(sub.frames.slice(bye).some((f) => f['t'] === 'item'), 'no item after the bye');
});
