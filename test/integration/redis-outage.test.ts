/** Redis goes away under a running server and comes back: cache requests fail with a retryable
 * typed error while it is away (never hang, never queue without bound), nothing acknowledged is
 * lost, nothing refused is applied later, and the server recovers by itself. Real redis-server
 * (AOF, fsync always), killed with SIGKILL and restarted on the same port and directory. */
import t, { type Test } from 'tap';
import net from 'node:net';
import { startServer } from '../helpers/server.js';
import { freePort, requireRedis, startRedis } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, createServer, generateSigningKey, type TidingsServer } from '../../src/index.js';

const RETRYABLE = ['SERVER_UNAVAILABLE', 'TIMEOUT_ERROR'];

async function client(t: Test, server: TidingsServer): Promise<RawClient> {
  const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheReadWrite('app')));
  t.teardown(() => c.close());
  return c;
}

const push = (c: RawClient, value: string) => c.request({ t: 'listPushBack', cache: 'app', list: 'log', value });

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t.test('Redis killed mid-run: retryable errors, bounded queue, nothing acknowledged lost, recovery', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { aof: true });
  const server = await startServer(t, {
    engine: 'redis', redisUrl: redis.url,
    config: { redis: { maxQueuedCommands: 4, queueTimeoutMs: 300, reconnectMinMs: 20, reconnectMaxMs: 100 } },
  });
  const c = await client(t, server);
  const acked: string[] = [];
  const refused: Array<{ value: string; code: string; message: string }> = [];
  let n = 0;
  const write = async () => {
    const value = `v${n++}`;
    const reply = await push(c, value);
    if (reply['t'] === 'ok') acked.push(value);
    else refused.push({ value, code: reply['e'].code, message: reply['e'].message });
    return reply;
  };

  // Writes in flight (8 at a time) while Redis dies under them.
  let loading = true;
  const load = (async () => { while (loading) await Promise.all(Array.from({ length: 8 }, write)); })();
  await until('some writes acknowledged', async () => (acked.length >= 40 ? true : undefined));
  await redis.kill();
  await until('writes refused', async () => (refused.length >= 8 ? true : undefined));
  loading = false;
  await load;
  t.ok(refused.length > 0, `writes during the outage were refused (${refused.length} of ${n})`);
  t.same(refused.filter((r) => !RETRYABLE.includes(r.code)), [], 'every refusal carries a retryable code');

  // While Redis is away: a burst beyond redis.maxQueuedCommands is refused at once, the rest after
  // redis.queueTimeoutMs; reads fail the same way.
  const burst = await Promise.all(Array.from({ length: 10 }, write));
  const codes = burst.map((r) => r['t'] === 'err' ? r['e'].code : 'ok');
  t.same(codes, Array(10).fill('SERVER_UNAVAILABLE'), 'a burst while Redis is away: all SERVER_UNAVAILABLE');
  const burstMessages = refused.slice(-10).map((r) => r.message);
  t.equal(burstMessages.filter((m) => m.includes('redis.maxQueuedCommands')).length, 6, '6 of 10 over the bound of 4 were refused without waiting');
  t.equal(burstMessages.filter((m) => m.includes('redis.queueTimeoutMs')).length, 4, 'the 4 held ones gave up after queueTimeoutMs, unsent');
  t.match(await c.request({ t: 'get', cache: 'app', key: 'k' }), { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'reads too');

  await redis.start();
  const after = await until('a write succeeds once Redis is back', async () => {
    const reply = await write();
    return reply['t'] === 'ok' ? reply : undefined;
  });
  t.match(after, { t: 'ok' }, 'the same connection works again: no reconnect by the client, no restart of the server');

  const stored: string[] = (await c.ok({ t: 'listFetch', cache: 'app', list: 'log' }))['values'];
  const storedSet = new Set(stored);
  t.same(acked.filter((v) => !storedSet.has(v)), [], `all ${acked.length} acknowledged writes survived the kill (AOF, fsync always)`);
  const neverSent = refused.filter((r) => r.message.includes('was not sent') || r.message.includes('redis.maxQueuedCommands'));
  t.same(neverSent.filter((r) => storedSet.has(r.value)), [], `none of the ${neverSent.length} writes refused before sending was applied later`);
  const order = stored.map((v) => Number(v.slice(1)));
  t.same(order.filter((v, i) => i > 0 && v < order[i - 1]!), [], 'the list keeps the order the writes were sent in');
});

t.test('commands held while Redis is briefly away are sent, in order, when it returns', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const server = await startServer(t, {
    engine: 'redis', redisUrl: redis.url,
    config: { redis: { maxQueuedCommands: 10, queueTimeoutMs: 10_000, reconnectMinMs: 20, reconnectMaxMs: 50 } },
  });
  const c = await client(t, server);
  t.same(await c.ok({ t: 'listPushBack', cache: 'app', list: 'log', value: 'before' }), { length: 1 });
  await redis.stop();
  // Without AOF the restarted Redis is empty: the held writes start a new list.
  const held: Array<Promise<Frame>> = ['a', 'b', 'c'].map((value) => push(c, value));
  // An HTTP API call held too, whose client goes away before Redis is back: its answer, due once
  // the write completes, must not be written to the aborted response (uWS throws if it is).
  const token = await tokenFor(server, PermissionScopes.cacheReadWrite('app'));
  const body = JSON.stringify({ list: 'http-log', value: 'gone' });
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write(`POST /v1/cache/app/listPushBack HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  await waitFor('the HTTP call to be held at its dispatch', () => server.broker.sessions.size === 2);
  socket.destroy();
  await waitFor('the server to see the call aborted', () => server.bodies.inFlight === 0);
  await redis.start();
  const replies = await Promise.all(held);
  t.same(replies.map((r) => r['r']), [{ length: 1 }, { length: 2 }, { length: 3 }], 'each held write applied once, in arrival order');
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'log' }), { hit: true, values: ['a', 'b', 'c'] });
  await waitFor('the aborted HTTP call to end', () => server.broker.sessions.size === 1);
  const after = await fetch(`${server.httpUrl}/v1/cache/app/listLength`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ list: 'http-log' }) });
  t.equal(after.status, 200, 'the server still serves HTTP calls');
  await after.arrayBuffer();
});

t.test('a server whose Redis does not answer refuses to start, and says where it looked', async (t) => {
  const port = await freePort(); // nothing listens there
  await t.rejects(createServer({ config: {
    logLevel: 'silent', engine: 'redis', server: { port: 0 }, auth: { signingKeys: [generateSigningKey()] },
    redis: { url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 },
  } }), { message: `Redis at 127.0.0.1:${port} did not answer within 300 ms (redis.connectTimeoutMs)` });
  // Nothing is left running: tap would time this file out if a reconnect loop kept the process alive.
});

t.test('subscribers are told while Redis is away: topic_interrupted, then a disc for what Redis lost, then topic_resumed', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t); // no persistence: a restart loses the topic
  const prefix = `tidings-test:notice:${process.pid}:`;
  const config = { redis: { reconnectMinMs: 20, reconnectMaxMs: 100 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const scope = PermissionScopes.topicPublishSubscribe('app', '*');
  const pub = await RawClient.open(a, await tokenFor(a, scope));
  const sub = await RawClient.open(b, await tokenFor(b, scope));
  t.teardown(() => { pub.close(); sub.close(); });
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  const before = await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'before' });
  await sub.items(1);

  await redis.stop();
  t.same(await sub.next((f) => f['t'] === 'notice'), { t: 'notice', kind: 'topic_interrupted', cache: 'app', topic: 'room' }, 'the subscriber on node b is told live items stopped');
  t.match(await pub.request({ t: 'pub', cache: 'app', topic: 'room', value: 'during' }), { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'a publish meanwhile is refused, retryable');
  await redis.start();

  const first = await sub.next((f) => f['t'] === 'disc' || f['t'] === 'notice', 10_000);
  t.match(first, { t: 'disc', cache: 'app', topic: 'room', lastSeq: 1 }, 'Redis came back empty: a disc first');
  t.ok(first['page'] > before['page'], 'under a new page');
  t.same(await sub.next((f) => f['t'] === 'notice', 10_000), { t: 'notice', kind: 'topic_resumed', cache: 'app', topic: 'room' }, 'then: live items flow again');
  let reply: Frame | undefined;
  for (let i = 0; i < 100 && reply?.['t'] !== 'ok'; i++) {
    reply = await pub.request({ t: 'pub', cache: 'app', topic: 'room', value: 'after' });
    if (reply['t'] !== 'ok') await new Promise((r) => setTimeout(r, 50));
  }
  t.match(await sub.items(1), [{ value: 'after', page: first['page'], seq: 1 }], 'the subscription recovered by itself, on the same connection');
  t.same(await sub.drain('disc', 50), [], 'one disc only');
});
