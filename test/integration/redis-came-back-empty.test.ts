/** Redis comes back empty (restarted without persistence) under running nodes. The cases share one
 * private redis-server (one process, started once), which each case stops and starts itself. That
 * is safe because they run one after another, every case's servers are closed (its subtest's
 * teardown) before the next case starts, and every case writes under its own key prefix: a restart
 * empties only what the running case wrote. */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix, type RedisProcess } from '../helpers/redis.js';
import { CACHE, liveGroup } from '../helpers/moderator.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { SseReader } from '../helpers/sse.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

// No persistence: a restart loses every group, count and revocation entry. Stopped when the file ends.
let started: Promise<RedisProcess> | undefined;
const privateRedis = () => (started ??= startRedis(t));

/** Redis comes back empty (restarted without persistence) under a node whose moderator is in a
 * group: a publish to the group's input topic after that is either refused (retryable) or reaches
 * the moderator, never acknowledged and then delivered to nobody. Before, the node's publish found
 * the group directory gone, took the topic for an ordinary one and published it there (no one
 * reads an input topic): the item was acknowledged and lost, until the node's next tick
 * (moderation.nodeTimeoutMs / 4) registered its members again. */
t.test('after Redis came back empty, a publish to a group\'s input reaches its moderator', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  // A tick far beyond the waits below: only what the publish itself does counts.
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url,
    config: { redis: { reconnectMinMs: 10, reconnectMaxMs: 50 }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 } } });
  const { mod, alice } = await liveGroup(t, a);

  await redis.stop();
  await redis.start();
  // Retried until Redis answers: each attempt is refused (retryable) or, once, acknowledged.
  const answers: Frame[] = [];
  await waitFor('a publish to the input answered ok', async () => {
    answers.push(await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' }));
    return answers.at(-1)!['t'] === 'ok';
  });
  t.same(answers.filter((r) => r['t'] === 'err' && !['SERVER_UNAVAILABLE', 'TIMEOUT_ERROR'].includes(r['e'].code)), [], 'refusals meanwhile are retryable');
  await mod.received(2, 5000);
  t.match(mod.deliveries[1], { value: 'after' }, 'the acknowledged item reached the moderator');
});

/** Redis comes back empty (restarted without persistence) under two nodes: the members of the
 * groups on node a are registered again as soon as a's link is back, not at its next tick
 * (moderation.nodeTimeoutMs / 4), so that a publish on node b to a group's input soon feeds the
 * group again (until then b takes the input for an ordinary topic: it cannot register a's members). */
t.test('after Redis came back empty, a node registers its members again as soon as its link is back', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const prefix = uniquePrefix('emptygroups');
  // A tick far beyond the waits below: only what the reconnect does counts.
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const { mod, alice } = await liveGroup(t, a, b);

  await redis.stop();
  await redis.start();
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await waitFor('node a\'s member listed in Redis again', async () => (await side.hlen(`${prefix}m:${CACHE}\u0000mods\u0000m`)) === 1, 10_000);
  await waitFor('a publish through node b is acknowledged', async () => (await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' }))['t'] === 'ok');
  await mod.received(2, 5000);
  t.match(mod.deliveries[1], { value: 'after' }, 'it reached the moderator on node a');
});

/** Redis comes back empty (restarted without persistence) under a node with present subscribers:
 * the node writes its counts again as soon as its link is back, and its watchers are not told that
 * everyone left. Before, the presence sync after the reconnect read the empty Redis first and told
 * every watcher that every member (the watcher too) left, then the next heartbeat
 * (presence.nodeTimeoutMs / 3) rewrote the counts and they all joined again. */
t.test('after Redis came back empty: members listed again at once, no one told they left', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  // A heartbeat far beyond the waits below: only what the reconnect does counts.
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url,
    config: { redis: { reconnectMinMs: 10, reconnectMaxMs: 50 }, presence: { nodeTimeoutMs: 120_000 } } });
  const scope = PermissionScopes.combine(PermissionScopes.topicPresence('app', '*'), PermissionScopes.topicPublishSubscribe('app', '*'));
  const watcher = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'watcher' }));
  const user = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'user' }));
  t.teardown(() => { watcher.close(); user.close(); });
  await watcher.ok({ t: 'sub', cache: 'app', topic: 'room', presence: true });
  await user.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await watcher.next((f) => f['t'] === 'join' && f['tokenId'] === 'user');

  await redis.stop();
  await redis.start();
  const listed = async () => {
    const reply = await watcher.request({ t: 'presence', cache: 'app', topic: 'room' });
    return reply['t'] === 'ok' ? (reply['r']['members'] as Array<{ tokenId: string }>).map((m) => m.tokenId).sort() : [];
  };
  await waitFor('both members listed again', async () => (await listed()).join() === 'user,watcher', 10_000);
  await watcher.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000);
  t.same(watcher.frames.filter((f) => f['t'] === 'leave'), [], 'no one was told a member left');
});

/** Redis comes back empty (restarted without persistence) under a running node: the revocations
 * that node holds are written back once its link is back, so a node started afterwards refuses
 * the revoked credential too. Before, they lived on only in the running nodes' copies: a node
 * started (or restarted) since accepted the revoked credential, a silent un-revoke
 * (docs/tokens.md: no entry is ever dropped while it covers a valid credential). */
t.test('revocations survive a Redis that came back empty while a node holds them', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const prefix = uniquePrefix('revempty');
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const token = await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'rita' });
  const opens = (node: TidingsServer) => RawClient.open(node, token).then((c) => { c.close(); return true; }, () => false);
  await a.revoke({ tokenId: 'rita' });
  t.notOk(await opens(a), 'node a refuses rita');

  await redis.stop();
  await redis.start();
  // Node a is back on the restarted Redis once it publishes again.
  const probe = await RawClient.open(a, await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'probe' }));
  t.teardown(() => probe.close());
  t.ok(await eventually(async () => (await probe.request({ t: 'pub', cache: 'app', topic: 'p', value: 'x' }))['t'] === 'ok'), 'node a reaches Redis again');
  t.notOk(await opens(a), 'node a still refuses rita');

  const c = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  t.ok(await eventually(async () => !(await opens(c))), 'a node started after the restart refuses rita too');
});

/** Redis comes back empty under two nodes while an SSE reader and a long-poller are away: each
 * resumes on the other node from a page Redis no longer has, and gets a `disc` onto the topic's new
 * page, then every item published since, once (docs/http-api.md: "or a topic reset"). */
t.test('after Redis came back empty, SSE and long-poll resumed on another node from the old page: a disc, then every new item once', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const prefix = uniquePrefix('emptyhttp');
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const token = await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'));
  const headers = { authorization: `Bearer ${token}` };
  const publish = (node: TidingsServer, value: string, topic = 'reset') => fetch(`${node.httpUrl}/v1/topics/app/${topic}`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: value });
  const reader = await SseReader.open(`${a.httpUrl}/v1/sse?cache=app&topic=reset`, headers);
  t.teardown(() => reader.close());
  await reader.until((r) => r.events.some((e) => e.event === 'ready'));
  for (const value of ['old1', 'old2']) t.equal((await publish(a, value)).status, 200);
  await reader.until((r) => r.items().length === 2);
  reader.close();
  const oldPage = reader.items()[0]!.json.page as number;
  const cursor = reader.lastEventId;

  await redis.stop();
  await redis.start();
  // On another topic: a publish refused as the link came back might have been applied.
  t.ok(await eventually(async () => (await publish(b, 'x', 'probe')).status === 200), 'node b publishes again');
  for (const value of ['new1', 'new2']) t.equal((await publish(b, value)).status, 200);
  const back = await SseReader.open(`${b.httpUrl}/v1/sse?cache=app&topic=reset`, { ...headers, 'last-event-id': cursor });
  t.teardown(() => back.close());
  await back.until((r) => r.items().some((e) => e.json.value === 'new2'), 10_000);
  const disc = back.events.find((e) => e.event === 'disc');
  t.match(disc?.json, { topic: 'reset', lastSeq: 2 }, 'the reset is named');
  t.ok(disc!.json.page > oldPage, 'onto a later page');
  t.same(back.items().map((e) => e.json.value), ['new1', 'new2'], 'then every item since, once');
  t.equal(back.events.indexOf(disc!), 1, 'right after ready');

  const polled = await (await fetch(`${a.httpUrl}/v1/poll?cache=app&topic=reset&cursor=${cursor}&waitMs=0`, { headers })).json();
  t.same(polled.events.map((e: { type: string; value?: string }) => e.value ?? e.type), ['disc', 'new1', 'new2'], 'a poll from the old page: the same');
  t.equal(polled.cursor, back.items().at(-1)!.id, 'its cursor is where the SSE reader stands');
});

/** Redis forgot its scripts under a running node (SCRIPT FLUSH, or a failover behind the same
 * address to a server that never loaded them) while the link stayed up, so nothing loads them
 * again: each EVALSHA is answered NOSCRIPT, and the node sends that script as EVAL instead
 * (RedisConnection.script). Its publishes, list writes and reads keep working. */
t.test('scripts Redis forgot (SCRIPT FLUSH) under a running node: its writes and reads still work', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: uniquePrefix('scriptflush') });
  const scope = PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('app', '*'), PermissionScopes.cacheReadWrite('app'));
  const c = await RawClient.open(a, await tokenFor(a, scope));
  t.teardown(() => c.close());
  await c.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await c.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'before' });
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  t.equal(await admin.script('FLUSH'), 'OK', 'Redis forgot every script');

  t.match(await c.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'after' }), { seq: 2 }, 'a publish after it');
  t.same((await c.items(2)).map((f) => f['value']), ['before', 'after'], 'both items delivered');
  t.same(await c.ok({ t: 'listPushBack', cache: 'app', list: 'log', value: 'x' }), { length: 1 }, 'a list write');
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'log' }), { hit: true, values: ['x'] }, 'and a read');
});
