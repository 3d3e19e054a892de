/** A node's link to Redis goes silent without closing (a frozen host, a NAT or firewall that
 * dropped its entry, a failover to a new host behind the same address): no RST, no close event,
 * nothing answered; new connections work. The node must notice by itself, tell its subscribers
 * (topic_interrupted), reconnect, and recover (the items published meanwhile, topic_resumed),
 * without the link ever being closed for it. Before, it stayed on the dead connections for good:
 * every command timed out (and stayed in ioredis's queue of commands awaiting a reply, without
 * bound), and its subscribers heard nothing. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { proxiedRedis, requireRedis, startRedis } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes } from '../../src/index.js';

t.test('a silent link to Redis is dropped and reconnected: subscribers told, nothing missed, writes work again', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'silent');
  // a: through the proxy, short timeouts; b: straight to Redis, publishing while a is cut off.
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const scope = PermissionScopes.topicPublishSubscribe('app', '*');
  const sub = await RawClient.open(a, await tokenFor(a, scope));
  const pubA = await RawClient.open(a, await tokenFor(a, scope));
  const pubB = await RawClient.open(b, await tokenFor(b, scope));
  t.teardown(() => { sub.close(); pubA.close(); pubB.close(); });
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await pubB.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'before' });
  t.match(await sub.items(1), [{ value: 'before', seq: 1 }]);

  proxy.freeze(); // every open link goes silent; new connections relay
  t.same(await sub.next((f) => f['t'] === 'notice', 10_000), { t: 'notice', kind: 'topic_interrupted', cache: 'app', topic: 'room' },
    'the subscriber is told live items stopped, though no link was closed');
  await pubB.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'during' });

  // Node a's own writes work again on a new connection, by itself (nothing heals the old ones).
  let last: Record<string, unknown> = {};
  await waitFor('a publish on node a succeeds again', async () => {
    last = await pubA.request({ t: 'pub', cache: 'app', topic: 'room', value: 'from-a' });
    if (last['t'] === 'err') t.ok(['TIMEOUT_ERROR', 'SERVER_UNAVAILABLE'].includes((last['e'] as { code: string }).code), `retryable: ${JSON.stringify(last['e'])}`);
    return last['t'] === 'ok';
  }, 10_000);
  const items = await sub.items(2, () => true, 10_000);
  t.match(items, [{ value: 'during', seq: 2 }, { value: 'from-a', seq: 3 }], 'what was published meanwhile came, in order, then the new one');
  t.same(await sub.next((f) => f['t'] === 'notice', 10_000), { t: 'notice', kind: 'topic_resumed', cache: 'app', topic: 'room' });
  t.same(await sub.drain('disc', 50), [], 'nothing was lost: no disc');
});

t.test('a frozen Redis (SIGSTOP): every request answered typed, the commands awaiting a reply do not pile up, all recovers on SIGCONT', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url,
    config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, queueTimeoutMs: 300, maxQueuedCommands: 20, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('app'), PermissionScopes.topicPublishSubscribe('app', '*'));
  const sub = await RawClient.open(a, await tokenFor(a, scope));
  const writers = await Promise.all([1, 2, 3].map(async () => RawClient.open(a, await tokenFor(a, scope))));
  t.teardown(() => { sub.close(); for (const w of writers) w.close(); });
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  // ioredis's queue of commands sent and awaiting a reply (white-box: what a frozen link made grow).
  const awaiting = (): number => (a as unknown as { engine: { cache: { connection: { client: { commandQueue: { length: number } } } } } }).engine.cache.connection.client.commandQueue.length;

  redis.pause();
  const codes = new Set<string>();
  const writes = writers.flatMap((w, i) => Array.from({ length: 20 }, (_, j) =>
    w.request(j % 2 ? { t: 'pub', cache: 'app', topic: 'room', value: `${i}.${j}` } : { t: 'listPushBack', cache: 'app', list: 'l', value: `${i}.${j}` })
      .then((r) => codes.add(r['t'] === 'err' ? r['e'].code : 'ok'))));
  await Promise.all(writes);
  t.same([...codes].filter((c) => c !== 'SERVER_UNAVAILABLE' && c !== 'TIMEOUT_ERROR'), [], `every write answered with a retryable error (${[...codes]}), none acknowledged`);
  t.match(await sub.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_interrupted' }, 'the subscriber is told');
  await waitFor('the frozen link dropped, with the commands awaiting its replies', () => awaiting() === 0, 10_000);

  redis.resume();
  t.match(await sub.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' }, 'back by itself');
  const w = writers[0]!;
  await waitFor('a publish succeeds again', async () => (await w.request({ t: 'pub', cache: 'app', topic: 'room', value: 'after' }))['t'] === 'ok');
  t.match(await sub.next((f) => f['t'] === 'item' && f['value'] === 'after'), { value: 'after' }, 'live again');
});

t.test('a link that closed with replies awaited: the connection that replaces it is kept', async (t) => {
  if (!requireRedis(t)) return;
  const { prefix, proxy } = await proxiedRedis(t, 'relink');
  const LINK_TIMEOUT_MS = 600;
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 200, linkTimeoutMs: LINK_TIMEOUT_MS, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const c = await RawClient.open(a, await tokenFor(a, PermissionScopes.cacheReadWrite('app')));
  t.teardown(() => c.close());
  const links = proxy.accepted; // the command connection and the two subscriber connections
  proxy.hold(0);
  const [read, write] = await Promise.all([c.request({ t: 'get', cache: 'app', key: 'k' }), c.request({ t: 'set', cache: 'app', key: 'k', value: 'v' })]);
  t.match(read, { t: 'err', e: { code: 'TIMEOUT_ERROR', message: /the read changed nothing/ } }, 'a reply awaited on the command connection: a read says so');
  t.notMatch(read, { e: { message: /may have been applied/ } }, 'a read is not said to have written');
  t.match(write, { t: 'err', e: { code: 'TIMEOUT_ERROR', message: /the write may have been applied/ } }, 'a write may have been applied');
  proxy.reset(); // it closes (as when Redis restarts) before linkTimeoutMs ran out
  await waitFor('every link reconnected', () => proxy.accepted === 2 * links);
  // ioredis's socket timer of the closed link ran on and dropped the new, healthy connection when it
  // fired (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 2 * LINK_TIMEOUT_MS));
  t.equal(proxy.accepted, 2 * links, 'no connection dropped since');
  t.match(await c.request({ t: 'get', cache: 'app', key: 'k' }), { t: 'ok' });
});
