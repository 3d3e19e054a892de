/** Three Tidings nodes on one Redis behave as one broker for topics: cross-node delivery in one
 * order with the same (page, seq) everywhere, resume on another node than the one a client left,
 * pubAppend history read anywhere, and a Redis that lost a topic (or restarted empty) shows as a
 * new page with a `disc`, never a silent gap. Real servers on different ports, real redis-server. */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { startServer, type TestServerOptions } from '../helpers/server.js';
import { deletePrefix, monitorOf, proxiedRedis, requireRedis, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { ManualClock, PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';
import { sdkFor, itemCollector, statusReached } from '../helpers/sdk.js';
import type { WebSocketLike } from '../../src/client/index.js';

const scope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat'));

/** `n` nodes sharing one Redis and key prefix (one deployment). */
async function cluster(t: Test, n: number, redisUrl?: string, config: TestServerOptions['config'] = {}): Promise<{ nodes: TidingsServer[]; url: string; prefix: string }> {
  const url = redisUrl ?? await sharedRedisUrl();
  const prefix = uniquePrefix('nodes');
  t.teardown(() => deletePrefix(url, prefix));
  const nodes: TidingsServer[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config }));
  t.ok(new Set(nodes.map((s) => s.port)).size === n, `${n} nodes on ports ${nodes.map((s) => s.port).join(', ')}`);
  return { nodes, url, prefix };
}

async function client(t: Test, server: TidingsServer, tokenId = 'alice'): Promise<RawClient> {
  // Every node signs with its own key in these tests; a token for node X is minted by node X.
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId }));
  t.teardown(() => c.close());
  return c;
}

const pos = (f: Frame) => `${f['page']}:${f['seq']}`;

/** TCP segments the local socket bound to `port` has received (`ss`, iproute2), data and acks. */
function segmentsReceived(port: number): number {
  const out = execFileSync('ss', ['-tinH', `sport = :${port}`], { encoding: 'utf8' });
  const found = /segs_in:(\d+)/.exec(out);
  if (!found) throw new Error(`ss shows no socket on local port ${port}: ${out}`);
  return Number(found[1]);
}

t.test('cross-node delivery: exactly once, one order, the same (page, seq) on every node', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes } = await cluster(t, 3);
  const subs = await Promise.all(nodes.map((n) => client(t, n)));
  for (const s of subs) await s.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  const pubs = [await client(t, nodes[0]!, 'pub-a'), await client(t, nodes[1]!, 'pub-b')];
  const N = 60;
  await Promise.all(pubs.map((p, k) => Promise.all(Array.from({ length: N }, (_, i) => p.ok({ t: 'pub', cache: 'chat', topic: 'room', value: `${k}-${i}` })))));
  const received = await Promise.all(subs.map((s) => s.items(2 * N)));
  t.same(received[0]!.map((f) => f['seq']), Array.from({ length: 2 * N }, (_, i) => i + 1), 'seq 1..120, contiguous');
  for (let i = 1; i < 3; i++) {
    t.same(received[i]!.map((f) => `${pos(f)} ${f['value']} ${f['tokenId']}`), received[0]!.map((f) => `${pos(f)} ${f['value']} ${f['tokenId']}`), `node ${i} saw the same items, order and positions as node 0`);
  }
  for (let k = 0; k < 2; k++) {
    t.same(received[2]!.filter((f) => f['tokenId'] === `pub-${'ab'[k]}`).map((f) => f['value']), Array.from({ length: N }, (_, i) => `${k}-${i}`), `publisher ${k}'s items in its order`);
  }
  t.same(await subs[0]!.drain('item', 100), [], 'nothing twice');
});

/** Items per channel message of a topic, as Redis publishes them (scripts.ts: a batch is `*` then
 * `length SP message` per item). */
function itemsPerMessage(raw: Buffer): number {
  if (raw[0] !== 0x2a) return 1;
  let count = 0;
  for (let i = 1; i < raw.length; count++) {
    const space = raw.indexOf(0x20, i);
    i = space + 1 + Number(raw.subarray(i, space).toString());
  }
  return count;
}

t.test('publishes arriving together reach Redis as one batch (at most redis.publishBatchMaxItems), in order', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b], url, prefix } = await cluster(t, 2, undefined, { redis: { publishBatchMaxItems: 16 } });
  const watcher = new Redis(url);
  t.teardown(() => watcher.disconnect());
  const perMessage: number[] = [];
  watcher.on('messageBuffer', (_channel: Buffer, raw: Buffer) => perMessage.push(itemsPerMessage(raw)));
  await watcher.subscribe(`${prefix}t:chat\u0000burst`);
  const sub = await client(t, b!);
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'burst' });
  const pub = await client(t, a!);
  // One TCP write, so the node reads every frame in one event-loop iteration.
  const socket = (pub.ws as unknown as { _socket: { cork(): void; uncork(): void; localPort: number } })._socket;
  const segmentsBefore = segmentsReceived(socket.localPort);
  socket.cork();
  const acks = Array.from({ length: 40 }, (_, i) => pub.ok({ t: 'pub', cache: 'chat', topic: 'burst', value: `v${i}` }));
  const appended = pub.ok({ t: 'pubAppend', cache: 'chat', topic: 'burst', list: 'burst-history', value: 'last' });
  socket.uncork();
  const replies = await Promise.all(acks);
  t.same(replies.map((r) => r['seq']), Array.from({ length: 40 }, (_, i) => i + 1), 'acks carry seq 1..40 in the order sent');
  t.equal((await appended)['seq'], 41, 'a pubAppend sent after them on the same connection is numbered after them');
  // Sent outside uWS callbacks (from Redis replies), the 41 acks leave corked (server/ws-outbox.ts):
  // a few TCP segments, not one each.
  const segments = segmentsReceived(socket.localPort) - segmentsBefore;
  t.ok(segments <= 8, `the 41 acks came in ${segments} TCP segments`);
  const items = await sub.items(41);
  t.same(items.map((f) => `${f['seq']} ${f['value']}`), [...Array.from({ length: 40 }, (_, i) => `${i + 1} v${i}`), '41 last'], 'the other node delivers all 41 in that order');
  t.same(await sub.drain('disc', 50), [], 'no discontinuity');
  t.equal(perMessage.reduce((x, y) => x + y, 0), 41, 'Redis published every item once');
  t.ok(perMessage.length < 41 && Math.max(...perMessage) > 1, `fewer channel messages than items (${perMessage.join(', ')} items per message)`);
  t.ok(Math.max(...perMessage) <= 16, 'no batch over redis.publishBatchMaxItems');

  const resumer = await client(t, a!);
  await resumer.ok({ t: 'sub', cache: 'chat', topic: 'burst', after: { page: items[0]!['page'], seq: 0 } });
  t.same((await resumer.items(41)).map((f) => f['seq']), items.map((f) => f['seq']), 'a batch is kept item by item for replay');
});

t.test('anything else PUBLISHed on a topic\'s channel is ignored: the node neither hangs nor crashes', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b], url, prefix } = await cluster(t, 2);
  const sub = await client(t, b!);
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'junk' });
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  // The last two claim a later seq and a later page than the topic has: each makes the node reload.
  const junks = ['*', '*12', '*5 1 1 x', '*999 1 1 abc', '*x y z', 'not a message', '', '7 1 x', '1 99999999999999 x'];
  for (const junk of junks) await redis.publish(`${prefix}t:chat\u0000junk`, junk);
  const pub = await client(t, a!);
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'junk', value: 'real' });
  t.match(await sub.items(1), [{ value: 'real', seq: 1 }], 'the next real item is delivered');
  t.same(await sub.drain('item', 50), [], 'and nothing made of the junk');
  // Only this deployment's scripts count: other test files share the Redis server.
  const monitor = await monitorOf(redis);
  let scriptCalls = 0;
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (/^evalsha$/i.test(args[0] ?? '') && args.some((a) => a.startsWith(prefix))) scriptCalls++;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  monitor.disconnect();
  t.ok(scriptCalls <= 2, `no reload loop: the nodes are quiet afterwards (${scriptCalls} script calls in 300 ms)`);
});

t.test('a batch refused for an out-of-date group directory is published again, in order, nothing twice', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b], url, prefix } = await cluster(t, 2);
  const sub = await client(t, b!);
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'stale' });
  const pub = await client(t, a!);
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'stale', value: 'v0' });
  // What a group created or dropped on another node does to this node's copy of the directory.
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  await redis.hincrby(`${prefix}m:chat`, '\u0000v', 1);
  const socket = (pub.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  socket.cork();
  const acks = Array.from({ length: 20 }, (_, i) => pub.ok({ t: 'pub', cache: 'chat', topic: 'stale', value: `v${i + 1}` }));
  socket.uncork();
  const later = await Promise.all(Array.from({ length: 5 }, (_, i) => pub.ok({ t: 'pub', cache: 'chat', topic: 'stale', value: `w${i}` })));
  t.same((await Promise.all(acks)).map((r) => r['seq']), Array.from({ length: 20 }, (_, i) => i + 2), 'the refused batch got seq 2..21, in the order sent');
  t.same(later.map((r) => r['seq']), [22, 23, 24, 25, 26], 'and publishes after it come after it');
  const items = await sub.items(26);
  t.same(items.map((f) => f['value']), ['v0', ...Array.from({ length: 20 }, (_, i) => `v${i + 1}`), 'w0', 'w1', 'w2', 'w3', 'w4'], 'delivered once each, in that order');
  t.same(await sub.drain('item', 50), [], 'nothing twice');
});

t.test('resume on another node than the one the client left, and pubAppend history read anywhere', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b, c] } = await cluster(t, 3);
  const writer = await client(t, b!);
  const first = await client(t, a!);
  await first.ok({ t: 'sub', cache: 'chat', topic: 'news' });
  for (let i = 1; i <= 5; i++) await writer.ok({ t: 'pubAppend', cache: 'chat', topic: 'news', list: 'news-history', value: `n${i}`, truncateFrontToSize: 3 });
  const seen = await first.items(5);
  first.close();
  for (let i = 6; i <= 9; i++) await writer.ok({ t: 'pubAppend', cache: 'chat', topic: 'news', list: 'news-history', value: `n${i}`, truncateFrontToSize: 3 });

  const again = await client(t, c!);
  const last = seen.at(-1)!;
  await again.ok({ t: 'sub', cache: 'chat', topic: 'news', after: { page: last['page'], seq: last['seq'] } });
  const replay = await again.items(4);
  t.same(replay.map((f) => f['value']), ['n6', 'n7', 'n8', 'n9'], 'node c replays exactly what the client missed, from Redis');
  t.same(await again.drain('disc', 50), [], 'no discontinuity');

  const history = await (await client(t, a!)).ok({ t: 'listFetch', cache: 'chat', list: 'news-history', withMeta: true });
  t.same(history['items'].map((e: Frame) => `${e['value']} ${pos(e)}`), replay.slice(1).map((f) => `${f['value']} ${pos(f)}`), 'the capped history on node a holds the last 3 items with their (page, seq)');
  await writer.ok({ t: 'pubAppend', cache: 'chat', topic: 'news', list: 'news-history', value: 'n10', truncateFrontToSize: 3 });
  const [live] = await again.items(1);
  t.match(live, { value: 'n10', seq: 10 }, 'and live items keep coming on node c');
});

t.test('the recent list is trimmed and its TTL refreshed in steps, yet a node loads exactly the newest windowItems and the topic outlives idleTopicMs', async (t) => {
  if (!requireRedis(t)) return;
  const keep = 16;
  const idleTopicMs = 60_000;
  const { nodes: [a, b], url, prefix } = await cluster(t, 2, undefined, { topics: { windowItems: keep, idleTopicMs } });
  const writer = await client(t, a!);
  const redis = new Redis(url);
  t.teardown(() => redis.quit());
  const [T, S] = [`${prefix}t:chat\u0000steps`, `${prefix}t:chat\u0000steps\u0000s`];
  const lengths = new Set<number>();
  let first: Frame | undefined;
  for (let i = 1; i <= 3 * keep + 5; i++) {
    const ack = await writer.ok({ t: 'pub', cache: 'chat', topic: 'steps', value: `v${i}` });
    first ??= ack;
    lengths.add(await redis.llen(S));
    for (const key of [T, S]) {
      const ttl = await redis.pttl(key);
      if (ttl < idleTopicMs - 5_000 || ttl > idleTopicMs * 1.125) t.fail(`${key === T ? 'T' : 'S'} expires in ${ttl} ms after publish ${i}`);
    }
  }
  t.ok(Math.max(...lengths) <= keep + 1 && Math.min(...[...lengths].filter((n) => n >= keep)) === keep, `the list stays within windowItems + windowItems/16 (lengths seen: ${[...lengths].sort((x, y) => x - y).join(', ')})`);
  t.ok(await redis.llen(S) > keep, 'the list holds more than windowItems as node b loads it');
  const reader = await client(t, b!);
  await reader.ok({ t: 'sub', cache: 'chat', topic: 'steps', after: { page: first!['page'], seq: 0 } });
  t.same(await reader.next((f) => f['t'] === 'disc'), { t: 'disc', cache: 'chat', topic: 'steps', lastSeq: 0, newSeq: 3 * keep + 5 - keep + 1, page: first!['page'] }, 'node b, loading from Redis, holds the newest windowItems');
  t.same((await reader.items(keep)).map((f) => f['seq']), Array.from({ length: keep }, (_, i) => 2 * keep + 6 + i), 'and replays exactly them, in order');
});

t.test('a topic Redis lost comes back under a new page: live subscribers and resumers get a disc', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b], url, prefix } = await cluster(t, 2);
  const pub = await client(t, a!);
  const live = await client(t, b!);
  await live.ok({ t: 'sub', cache: 'chat', topic: 'lost' });
  const before = await pub.ok({ t: 'pub', cache: 'chat', topic: 'lost', value: 'old' });
  await live.items(1);

  // What a Redis restart without persistence, or an eviction, does to one topic.
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  await redis.del(`${prefix}t:chat\u0000lost`, `${prefix}t:chat\u0000lost\u0000s`);
  const after = await pub.ok({ t: 'pub', cache: 'chat', topic: 'lost', value: 'new' });
  t.equal(after['seq'], 1, 'numbering restarts');
  t.ok(after['page'] > before['page'], 'under a larger page');
  const disc = await live.next((f) => f['t'] === 'disc');
  t.same(disc, { t: 'disc', cache: 'chat', topic: 'lost', lastSeq: 1, newSeq: 1, page: after['page'] }, 'the live subscriber is told before the new page\'s items');
  t.match(await live.items(1), [{ value: 'new', seq: 1, page: after['page'] }]);

  const resumer = await client(t, a!);
  await resumer.ok({ t: 'sub', cache: 'chat', topic: 'lost', after: { page: before['page'], seq: before['seq'] } });
  t.match(await resumer.next((f) => f['t'] === 'disc'), { lastSeq: 1, newSeq: 1, page: after['page'] }, 'a resume from the old page gets a disc too');
  t.match(await resumer.items(1), [{ value: 'new' }]);
});

/** A topic Redis lost, made again by the reload after a reconnect, starts a page above the one the
 * node holds, even when the node's clock has not passed that page (a page made by a node whose clock
 * is ahead, or within the same millisecond; here a clock that does not move) and the deployment's
 * last-page key went too (scripts.ts tidingsTopicLoad): at the same page its new seqs would repeat
 * positions already delivered, and the node's window would drop those items as seen. */
t.test('a topic Redis lost with its last page, made again by a reload, gets a larger page even when the clock has not moved', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'nodes');
  const node = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, clock: new ManualClock(Date.now()),
    config: { redis: { commandTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const live = await client(t, node);
  await live.ok({ t: 'sub', cache: 'chat', topic: 'lost' });
  const before = await live.ok({ t: 'pub', cache: 'chat', topic: 'lost', value: 'old' });
  await live.items(1);

  // What a Redis restart without persistence does to the topic and the deployment's last page; the
  // node's links drop with it and it reloads the topic once they are back.
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  await redis.del(`${prefix}t:chat\u0000lost`, `${prefix}t:chat\u0000lost\u0000s`, `${prefix}t:\u0000lastpage`);
  proxy.reset();
  await live.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000);
  const after = await live.ok({ t: 'pub', cache: 'chat', topic: 'lost', value: 'new' });
  t.ok(after['page'] > before['page'], `under a larger page (${pos(before)} then ${pos(after)})`);
  t.match(await live.items(1, () => true, 10_000), [{ value: 'new', page: after['page'], seq: after['seq'] }], 'the live subscriber gets the new item');
});

t.test('Redis restarts under live subscriptions: publishes in the outage are refused, subscriptions recover by themselves', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { aof: true });
  const { nodes: [a, b] } = await cluster(t, 2, redis.url);
  const pub = await client(t, a!);
  const sub = await client(t, b!);
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'r' });
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'r', value: 'before' });
  await sub.items(1);

  await redis.kill();
  const refused = await pub.request({ t: 'pub', cache: 'chat', topic: 'r', value: 'during' });
  t.match(refused, { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'a publish while Redis is down: retryable error, not acknowledged');
  await redis.start();

  let reply: Frame | undefined;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    reply = await pub.request({ t: 'pub', cache: 'chat', topic: 'r', value: 'after' });
    if (reply['t'] === 'ok') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.match(reply, { t: 'ok', r: { seq: 2 } }, 'with AOF the topic keeps its page and seq across the restart');
  const items = await sub.items(1, () => true, 10_000);
  t.match(items, [{ value: 'after', seq: 2 }], 'the subscriber on the other node gets the next item: its node resubscribed by itself');
  t.same(await sub.drain('disc', 50), [], 'nothing was lost, so no disc');
});

t.test('a node dies under load: its SDK clients reconnect through the balancer to another node and resume, nothing lost', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('failover');
  t.teardown(() => deletePrefix(url, prefix));
  // One deployment: the same signing key on every node, so a token minted by one works on all.
  const config = { auth: { signingKeys: [generateSigningKey()] } };
  const nodes: TidingsServer[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config }));
  const [a, b] = nodes as [TidingsServer, TidingsServer, TidingsServer];

  // A stand-in for the load balancer: new connections go round-robin to the nodes still up.
  const up = new Set(nodes);
  let turn = 0;
  const landed: TidingsServer[] = [];
  const balancer = (_url: string, protocols: string[]) => {
    const live = [...up];
    const node = live[turn++ % live.length]!;
    landed.push(node);
    return new WebSocket(node.wsUrl, protocols) as unknown as WebSocketLike;
  };
  const subscriber = await sdkFor(t, b, { webSocket: undefined, webSocketFactory: balancer });
  const { items, gaps, callbacks } = itemCollector();
  await subscriber.topics.subscribe('chat', 'busy', callbacks);
  const publisher = await client(t, b);

  const N = 300;
  const publishing = (async () => {
    for (let i = 1; i <= N; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => publisher.ok({ t: 'pub', cache: 'chat', topic: 'busy', value: `m${i + k}` })));
    }
  })();
  await items.until(50, 10_000);
  up.delete(a);
  await a.close(); // its clients are told and reconnect through the balancer
  await publishing;
  await items.until(N, 10_000);
  t.same(items.events.map((i) => i.valueString()), Array.from({ length: N }, (_, i) => `m${i + 1}`), `all ${N} items, in order, exactly once, across the failover`);
  t.same(gaps.events, [], 'no discontinuity: the new node replayed the missed items from Redis');
  await statusReached(subscriber.connection, 'open');
  t.ok(landed[0] === a && landed.length >= 2 && landed.at(-1) !== a, `the subscriber started on node a and ended on another (${landed.map((n) => n.port).join(' -> ')})`);
});
