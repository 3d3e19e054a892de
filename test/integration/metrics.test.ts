/** /metrics exports what the server does (publishes, deliveries, window evictions, store figures,
 * moderator groups, limit events, cut-off connections) under one prefix, each metric documented in
 * docs/operations.md; on either engine (TIDINGS_TEST_ENGINE) except where a test pins one. Also
 * /readyz, the other thing an operator's tooling polls (it shares this file's Redis-proxy setup). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes, generateSigningKey } from '../../src/index.js';
import { deletePrefix, proxiedRedis, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { apiKeyFor, errorCode, momentoClients, startMomentoServer } from '../helpers/momento.js';

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();
/** The value of one sample line, e.g. metric('tidings_topics') or metric('x{reason="idle"}'). */
const metric = (text: string, sample: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
};

t.test('metrics - process metrics carry one prefix', async (t) => {
  const server = await startServer(t, { config: { server: { metricsAccess: 'open' } } });
  const text = await scrape(server.httpUrl);
  t.notMatch(text, /tidings_process_process_|tidings_process_nodejs_/, 'no doubled prefix');
  t.match(text, /^tidings_process_cpu_user_seconds_total /m);
  t.match(text, /^tidings_nodejs_heap_size_used_bytes /m);
});

t.test('metrics - deliveries, window evictions and bytes against their limits, the cache store', async (t) => {
  const server = await startServer(t, { config: { server: { metricsAccess: 'open' }, topics: { windowItems: 3, windowTotalBytes: 64 * 1024 * 1024 } } });
  const token = await tokenFor(server, PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat')));
  const [a, b] = [await RawClient.open(server, token), await RawClient.open(server, token)];
  await a.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  await b.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  for (let i = 0; i < 5; i++) await a.ok({ t: 'pub', cache: 'chat', topic: 'room', value: `m${i}` });
  await a.ok({ t: 'listPushBack', cache: 'chat', list: 'history', value: 'hello' });
  const text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_published_items_total'), 5);
  t.equal(metric(text, 'tidings_delivered_items_total'), 10, 'five items to two subscribers');
  t.equal(metric(text, 'tidings_window_evictions_total{reason="per_topic"}'), 2, 'a 3-item window dropped the 2 oldest of 5');
  t.equal(metric(text, 'tidings_window_evictions_total{reason="total"}'), 0);
  t.ok(metric(text, 'tidings_window_bytes')! > 0);
  t.equal(metric(text, 'tidings_window_limit_bytes'), 64 * 1024 * 1024);
  t.ok(metric(text, 'tidings_store_bytes')! > 5, 'the list is counted in the store');
  t.equal(metric(text, 'tidings_connections_limit'), 100_000);
});

// Pinned to the memory engine: there the store figures are this node's own, against store.maxBytes;
// with engine redis they are Redis's (DBSIZE of the shared database, used_memory, maxmemory:
// docs/operations.md), so neither the exact count nor the limit is the test's to know.
t.test('metrics - the memory store counts its items against store.maxBytes', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { server: { metricsAccess: 'open' }, store: { maxBytes: 32 * 1024 * 1024 } } });
  const token = await tokenFor(server, PermissionScopes.cacheReadWrite('chat'));
  const a = await RawClient.open(server, token);
  await a.ok({ t: 'listPushBack', cache: 'chat', list: 'history', value: 'hello' });
  const text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_store_limit_bytes'), 32 * 1024 * 1024);
  t.equal(metric(text, 'tidings_store_items'), 1, 'one list');
});

// Pinned to the memory engine: its group figures are the deployment's. With engine redis each node
// reports its own view (buffered as last seen by its claims, counters of what it handed out:
// engine/redis/moderation.ts stats()), which the exact numbers below do not describe.
t.test('metrics - moderator groups, limit events and cut-off connections', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { server: { metricsAccess: 'open' }, moderation: { bufferItems: 2 } } });
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'mod' }));
  await moderator.ok({ t: 'gsub', cache: 'chat', group: 'mods', pattern: { nameSuffix: '-input' }, maxInFlight: 1 });
  const user = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*')));
  // One goes to the member (in flight), two wait in the buffer, the fourth is refused.
  for (let i = 0; i < 3; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'room-input', value: `q${i}` });
  const refused = await user.request({ t: 'pub', cache: 'chat', topic: 'room-input', value: 'one too many' });
  t.match(refused, { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'group_buffer_limit_exceeded' } });
  const big = await user.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'v'.repeat(70 * 1024) });
  t.match(big, { t: 'err', e: { cause: 'value_size_limit_exceeded' } });

  let text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_moderation_groups'), 1);
  t.equal(metric(text, 'tidings_moderation_group_members{cache="chat",group="mods"}'), 1);
  t.equal(metric(text, 'tidings_moderation_group_buffered_items{cache="chat",group="mods"}'), 2);
  t.equal(metric(text, 'tidings_moderation_group_in_flight_items{cache="chat",group="mods"}'), 1);
  t.equal(metric(text, 'tidings_moderation_group_items_total{cache="chat",group="mods",outcome="offered"}'), 3);
  t.equal(metric(text, 'tidings_moderation_group_items_total{cache="chat",group="mods",outcome="refused"}'), 1);
  t.equal(metric(text, 'tidings_limit_exceeded_total{cause="group_buffer_limit_exceeded"}'), 1);
  t.equal(metric(text, 'tidings_limit_exceeded_total{cause="value_size_limit_exceeded"}'), 1);

  t.equal(metric(text, 'tidings_connections_cut_off_total'), 0);
  (user.ws as unknown as { terminate(): void }).terminate();
  // Waits for the server to see the dropped link (a fixed 200 ms was too short for a loaded machine).
  await waitFor('the server to see the link dropped', async () => metric(await scrape(server.httpUrl), 'tidings_connections_cut_off_total') !== 0).catch(() => {});
  text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_connections_cut_off_total'), 1, 'a link dropped without a close frame counts');
});

t.test('metrics - every metric the server exports is documented in docs/operations.md', async (t) => {
  const server = await startServer(t, { config: { server: { metricsAccess: 'open' } } });
  const names = new Set([...(await scrape(server.httpUrl)).matchAll(/^# TYPE (tidings_\w+)/gm)].map((m) => m[1]!));
  const doc = readFileSync('docs/operations.md', 'utf8');
  const own = [...names].filter((n) => !/^tidings_(process|nodejs)_/.test(n));
  t.ok(own.length >= 20, `${own.length} metrics of our own`);
  for (const name of own) t.ok(doc.includes(`\`${name}`), `${name} is documented`);
});

// Every transport's refusals reach the same counters, each once: the WebSocket counts where it
// replies, HTTP and gRPC where the broker verifies their credential or runs their operation.
t.test('metrics - errors by code and limits by cause on every transport, and server-side closes by reason', async (t) => {
  // The hello deadline runs on a manual clock the test moves for the silent connection: on the real
  // one a loaded machine could let the first connection's hello miss 300 ms too (two hello_timeouts).
  const clock = new ManualClock(Date.now());
  const server = await startMomentoServer(t, { clock, config: { server: { metricsAccess: 'open', helloTimeoutMs: 300 } } });
  const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
  const ws = await RawClient.open(server, await tokenFor(server, scope));
  t.match(await ws.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'v'.repeat(70 * 1024) }), { e: { cause: 'value_size_limit_exceeded' } });
  t.match(await ws.request({ t: 'pub', cache: 'other', topic: 'x', value: 'v' }), { e: { code: 'PERMISSION_ERROR' } });
  t.match(await ws.request({ t: 'no-such-op-7c1e', cache: 'chat' }), { e: { code: 'BAD_REQUEST_ERROR' } }, 'an operation the server does not serve');

  const key = await apiKeyFor(server, scope);
  const post = (cache: string, bearer: string, body: string) => fetch(`${server.httpUrl}/v1/topics/${cache}/x`, { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'text/plain' }, body });
  t.equal((await post('other', key, 'v')).status, 403, 'HTTP: a cache outside the scope');
  t.equal((await post('chat', 'not-a-token', 'v')).status, 401, 'HTTP: a credential that is none');
  t.equal((await post('chat', key, 'v'.repeat(70 * 1024))).status, 413, 'HTTP: a value too large');

  const { topics } = await momentoClients(t, server, key);
  t.equal(errorCode(await topics.publish('other', 'x', 'v')), 'PERMISSION_ERROR', 'gRPC: a cache outside the scope');

  const silent = await RawClient.connect(server.wsUrl);
  clock.advance(300);
  t.equal((await silent.waitClosed()).code, 4001, 'no hello in time: closed by the server');

  const text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_request_errors_total{op="pub",code="PERMISSION_ERROR"}'), 3, 'publishes refused over WebSocket, HTTP and gRPC');
  t.equal(metric(text, 'tidings_request_errors_total{op="credential",code="AUTHENTICATION_ERROR"}'), 1, 'the HTTP call\'s credential');
  t.equal(metric(text, 'tidings_request_errors_total{op="pub",code="LIMIT_EXCEEDED_ERROR"}'), 2);
  t.equal(metric(text, 'tidings_request_errors_total{op="unknown",code="BAD_REQUEST_ERROR"}'), 1, 'an operation not served is counted as unknown');
  t.notMatch(text, /no-such-op-7c1e/, 'never as a label of its own');
  t.equal(metric(text, 'tidings_limit_exceeded_total{cause="value_size_limit_exceeded"}'), 2, 'WebSocket and HTTP');
  t.equal(metric(text, 'tidings_connections_closed_total{reason="hello_timeout"}'), 1);
});

// The node's own link (through a proxy that makes it fail): a reconnect counted once per return,
// and a PING's round trip while the link answers, no sample while it does not.
t.test('metrics - engine redis: the link\'s reconnects and PING round trip', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const server = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, config: {
    server: { metricsAccess: 'open' }, redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 },
  } });
  let text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_redis_reconnects_total{shard="0"}'), 0);
  t.ok(metric(text, 'tidings_redis_ping_seconds{shard="0"}')! > 0, 'a PING round trip while the link answers');

  proxy.reset();
  await waitFor('the link to come back', async () => metric(await scrape(server.httpUrl), 'tidings_redis_reconnects_total{shard="0"}') === 1);
  await waitFor('the link to be ready', async () => metric(await scrape(server.httpUrl), 'tidings_redis_connected{shard="0"}') === 1);
  proxy.freeze();
  text = await scrape(server.httpUrl);
  t.equal(metric(text, 'tidings_redis_ping_seconds{shard="0"}'), undefined, 'no PING sample while the link does not answer');
  proxy.heal();
  await waitFor('the link to come back again', async () => metric(await scrape(server.httpUrl), 'tidings_redis_connected{shard="0"}') === 1
    && metric(await scrape(server.httpUrl), 'tidings_redis_ping_seconds{shard="0"}') !== undefined);
  t.equal(metric(await scrape(server.httpUrl), 'tidings_redis_reconnects_total{shard="0"}'), 2, 'each return counted once');
});

// A scrape waits for each shard's PING: a scraper that goes away meanwhile (its own timeout) must
// not be answered. The proxy holds the PING of the reconnected link until the scraper is gone; the
// heartbeat (every commandTimeoutMs) stays out of the way, so the held PING is the scrape's.
t.test('metrics - engine redis: a scraper gone before the PING came back is not answered, and the server carries on', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const server = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, config: {
    server: { metricsAccess: 'open' }, redis: { commandTimeoutMs: 30_000, linkTimeoutMs: 60_000, reconnectMinMs: 10, reconnectMaxMs: 50 },
  } });
  const ping = proxy.holdRequests((chunk) => /\r\nping\r\n/i.test(chunk.toString('latin1')));
  proxy.reset();
  await waitFor('the links to be back', async () => (await fetch(`${server.httpUrl}/readyz`)).status === 200);
  const scraper = new AbortController();
  const gone = fetch(`${server.httpUrl}/metrics`, { signal: scraper.signal }).catch((err: Error) => err.name);
  const link = await ping;
  scraper.abort();
  t.equal(await gone, 'AbortError');
  // A request after it: by its answer the server has seen the scraper's socket close.
  t.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200);
  proxy.releaseRequests(link);
  const text = await scrape(server.httpUrl);
  t.ok(metric(text, 'tidings_redis_ping_seconds{shard="0"}')! > 0, 'the next scrape is answered, with the PING that came back');
});

// docs/operations.md: on engine redis each node reports its own view. A publish through node a to
// subscribers on a and b: a counts the publish, each counts its own deliveries, both hold the topic.
t.test('metrics - engine redis: each node counts its own publishes and deliveries', async (t) => {
  if (!requireRedis(t)) return;
  const prefix = uniquePrefix('metricsnodes');
  const url = await sharedRedisUrl();
  t.teardown(() => deletePrefix(url, prefix));
  const config = { server: { metricsAccess: 'open' as const }, auth: { signingKeys: [generateSigningKey()] } };
  const a = await startServer(t, { engine: 'redis', redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisKeyPrefix: prefix, config });
  const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
  const [onA, onB, otherB] = [await RawClient.open(a, await tokenFor(a, scope)), await RawClient.open(b, await tokenFor(b, scope)), await RawClient.open(b, await tokenFor(b, scope))];
  for (const c of [onA, onB, otherB]) await c.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'hi' });
  await onB.items(1);
  await otherB.items(1);
  await onA.items(1);
  const [ta, tb] = [await scrape(a.httpUrl), await scrape(b.httpUrl)];
  t.equal(metric(ta, 'tidings_published_items_total'), 1, 'node a: the publish made through it');
  t.equal(metric(tb, 'tidings_published_items_total'), 0, 'node b: none made through it');
  t.equal(metric(ta, 'tidings_delivered_items_total'), 1, 'node a: its one subscriber');
  t.equal(metric(tb, 'tidings_delivered_items_total'), 2, 'node b: its two subscribers');
  t.equal(metric(ta, 'tidings_topics'), 1, 'both nodes hold the topic');
  t.equal(metric(tb, 'tidings_topics'), 1);
});

// Topic, cache and tokenId names, and operation names a client makes up, are never labels: a
// second round of the same activity under 100 new names adds no series.
t.test('metrics - client-chosen names never become series', async (t) => {
  const server = await startServer(t, { config: { server: { metricsAccess: 'open' } } });
  const series = (text: string) => text.split('\n').filter((l) => l.startsWith('tidings_') && !/^tidings_(process|nodejs)_/.test(l)).length;
  const round = async (tag: string, names: number) => {
    for (let i = 0; i < names; i++) {
      const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(`cache-${tag}-${i}`, '*'), { tokenId: `user-${tag}-${i}` }));
      await c.ok({ t: 'sub', cache: `cache-${tag}-${i}`, topic: `topic-${tag}-${i}` });
      await c.ok({ t: 'pub', cache: `cache-${tag}-${i}`, topic: `topic-${tag}-${i}`, value: 'v' });
      t.match(await c.request({ t: `op-${tag}-${i}` }), { e: { code: 'BAD_REQUEST_ERROR' } });
      t.match(await c.request({ t: 'pub', cache: `other-${tag}-${i}`, topic: 'x', value: 'v' }), { e: { code: 'PERMISSION_ERROR' } });
      c.close();
      await c.waitClosed();
    }
    return scrape(server.httpUrl);
  };
  const first = await round('a', 1);
  const second = await round('b', 100);
  t.equal(series(second), series(first), `${series(first)} series after one name of each kind, as many after 100 more`);
  t.notMatch(second, /-b-\d/, 'no name of the second round appears');
});

// Items node a missed while its link was down reach its subscriber when the link is back (the
// reload), each once: counted once as a delivery, not again when the late pub/sub message arrives.
t.test('metrics - engine redis: deliveries across a lost link are counted once', async (t) => {
  if (!requireRedis(t)) return;
  const { prefix, proxy } = await proxiedRedis(t, 'metricsrelink');
  const config = { server: { metricsAccess: 'open' as const }, auth: { signingKeys: [generateSigningKey()] }, redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisKeyPrefix: prefix, config });
  const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
  const sub = await RawClient.open(a, await tokenFor(a, scope));
  const pub = await RawClient.open(b, await tokenFor(b, scope));
  t.teardown(() => { sub.close(); pub.close(); });
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'before' });
  await sub.items(1);

  proxy.freeze();
  for (const value of ['gap-1', 'gap-2', 'gap-3']) await pub.ok({ t: 'pub', cache: 'chat', topic: 'room', value });
  proxy.heal();
  await waitFor('node a to be back', async () => metric(await scrape(a.httpUrl), 'tidings_redis_reconnects_total{shard="0"}')! >= 1);
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'after' });
  const items = await sub.items(4);
  t.same(items.map((f) => f['value']), ['gap-1', 'gap-2', 'gap-3', 'after'], 'every item once, in order');
  t.same(await sub.drain('item', 200), [], 'none twice');
  t.equal(metric(await scrape(a.httpUrl), 'tidings_delivered_items_total'), 5, 'five deliveries counted, each once');
});

// /readyz follows the node's link to Redis (a proxy drops it and keeps new connections unanswered),
// while /healthz, a liveness check, stays 200.
t.test('readyz - 503 with the reason while the node\'s link to Redis is down, 200 once it is back', async (t) => {
  const memory = await startServer(t, { engine: 'memory' });
  const ready = await fetch(`${memory.httpUrl}/readyz`);
  t.equal(ready.status, 200, 'engine memory: always ready');
  t.same(await ready.json(), { status: 'ready' });
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const server = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, config: {
    redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 },
  } });
  t.equal((await fetch(`${server.httpUrl}/readyz`)).status, 200);
  proxy.reset();
  proxy.blackhole();
  await waitFor('not ready', async () => (await fetch(`${server.httpUrl}/readyz`)).status === 503);
  const down = await fetch(`${server.httpUrl}/readyz`);
  t.equal(down.status, 503, 'the link is down: not ready');
  t.same(await down.json(), { status: 'not_ready', reasons: ['redis shard 0 is not connected'] });
  t.equal((await fetch(`${server.httpUrl}/healthz`)).status, 200, 'still alive');
  const head = await fetch(`${server.httpUrl}/readyz`, { method: 'HEAD' });
  t.equal(head.status, 503, 'HEAD answers as GET');
  t.equal(await head.text(), '');
  proxy.heal();
  await waitFor('ready again', async () => (await fetch(`${server.httpUrl}/readyz`)).status === 200);
  t.pass('ready once the link is back');
});
