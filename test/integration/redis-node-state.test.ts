/** Node state kept in the shared Redis: a widened revocation, the group of a member whose node died,
 * a dead node's presence entries, a node's claims after a long cut. One file (one process) for what
 * were four: each case has its own servers under its own key prefix and closes them when it ends,
 * so the cases do not disturb each other. */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { DEFAULTS } from '../../src/core/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { RedisConnection } from '../../src/core/redis-connection.js';
import { RedisPresence } from '../../src/presence/redis-presence.js';
import { createLogger } from '../../src/core/logger.js';
import { deletePrefix, proxiedRedis, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { spawnNode } from '../helpers/child-node.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** A revocation widened on one node (revoked again with a longer `until`, or forever) is widened on
 * every node's copy of the list, not forgotten there at the first `until`; one revoked again with a
 * shorter `until` keeps the longer life, in Redis too (revocations.ts REVOKE: a node started later
 * loads it from there). */
t.test('a widened revocation is widened on every node, and never narrowed again', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { auth: { signingKeys: [generateSigningKey()] } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const token = await tokenFor(a, PermissionScopes.allDataReadWrite(), { tokenId: 'u', expiresInSec: 300 });
  const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())['jti'] as string;
  t.ok(jti, 'the token has a jti');
  // A tokenId with spaces: the channel message carries it last, whole (revocations.ts onMessage).
  const other = await tokenFor(a, PermissionScopes.allDataReadWrite(), { tokenId: 'v w x', expiresInSec: 300 });

  await a.revoke({ jti, until: Date.now() + 1000 });
  await a.revoke({ jti, until: null }); // widened: forever
  await a.revoke({ jti, until: Date.now() + 1000 }); // narrower: changes nothing
  await a.revoke({ tokenId: 'v w x', until: Date.now() + 300_000 });
  await a.revoke({ tokenId: 'v w x', until: Date.now() + 1000 }); // narrower: changes nothing
  // A fixed time on purpose: the clock must pass the first `until`, and nothing may be forgotten then.
  await new Promise((r) => setTimeout(r, 1500)); // past the first until
  const c = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });

  const opens = (node: TidingsServer, credential: string) => RawClient.open(node, credential).then((conn) => { conn.close(); return 'accepted'; }, () => 'refused');
  for (const [name, node] of [['A', a], ['B', b], ['C (started later)', c]] as const) {
    t.equal(await opens(node, token), 'refused', `node ${name} refuses the jti revoked forever`);
    t.equal(await opens(node, other), 'refused', `node ${name} refuses tokenId "v w x" until the longer until`);
  }
});

/** A group whose only member was on a node that died is forgotten after nodeTimeoutMs and
 * groupIdleMs, although no live node has members of it (the sweep of every group reaps it), so it
 * does not hold a moderation.maxGroups slot for ever. */
t.test('a group whose only member died with its node is forgotten after nodeTimeoutMs + groupIdleMs', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = {
    auth: { signingKeys: [signingKey] },
    moderation: { nodeTimeoutMs: 500, groupIdleMs: 1000, maxGroups: 1 },
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const child = await spawnNode(t, { ...config, logLevel: 'silent', engine: 'redis', redis: { url, keyPrefix: prefix }, server: { port: 0, host: '127.0.0.1' } });
  const token = await tokenFor(a, PermissionScopes.moderator(CACHE), { tokenId: 'doomed' });
  const doomed = await RawModerator.join(child, { token, group: 'g1' });
  t.ok(doomed, 'the only member of g1 joined on the child node');
  await child.kill();

  // maxGroups is 1: a new group is refused while g1 holds the slot, and fits once g1 is forgotten
  // (after nodeTimeoutMs + groupIdleMs and a sweep). A refused gsub changes nothing, so ask again.
  const c = await RawClient.open(a, await tokenFor(a, PermissionScopes.moderator(CACHE)));
  t.teardown(() => c.close());
  let reply: Record<string, unknown> = {};
  await waitFor('a new group to fit', async () => {
    reply = await c.request({ t: 'gsub', cache: CACHE, group: 'g2', pattern: { nameSuffix: 'x-input' } });
    return reply['t'] === 'ok';
  }, 15_000).catch(() => {});
  t.match(reply, { t: 'ok' }, `a new group fits once g1 is idle: ${JSON.stringify(reply)}`);
});

/** A dead node that counted many (topic, user) entries is buried completely: HSCAN from cursor 0
 * may answer an empty page while entries remain, which bury() took for "done". */
t.test('every entry of a dead node with 10,000 entries is removed', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('bury');
  const raw = new Redis(url);
  const clock = new ManualClock();
  const p = `${prefix}p:`;
  const N = 10_000;
  // A node 'ghost' that died long ago, counting one connection of user u<i> on topic t<i>.
  await raw.zadd(`${p}\u0000nodes`, clock.now() - 60_000, 'ghost');
  for (let i = 0; i < N; i += 1000) {
    const c: string[] = [];
    const pipe = raw.pipeline();
    for (let j = i; j < i + 1000; j++) {
      c.push(`c\u0000t${j}\u0000u${j}`, '1:0');
      pipe.hset(`${p}c\u0000t${j}`, `u${j}`, 1);
    }
    pipe.hset(`${p}\u0000n:ghost`, ...c);
    await pipe.exec();
  }
  const connection = new RedisConnection({ ...DEFAULTS.redis, url, keyPrefix: prefix }, createLogger({ level: 'silent' }));
  await connection.connect();
  const presence = new RedisPresence({ ...DEFAULTS.presence, leaveGraceMs: 0, nodeTimeoutMs: 3000 }, clock, connection, connection.client.duplicate({ lazyConnect: true }), prefix, createLogger({ level: 'silent' }));
  presence.start(() => {});
  await presence.connect();
  t.teardown(async () => { await presence.close(); await connection.close(); raw.disconnect(); await deletePrefix(url, prefix); });
  // Heartbeats and sweeps (200 entries each: 50 are needed) until the node is forgotten, or the
  // deadline: the loop waits on Redis, not on a fixed number of turns, so a loaded machine only slows it.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && await raw.sismember(`${p}\u0000dead`, 'ghost') + await raw.hlen(`${p}\u0000n:ghost`) > 0) {
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 30));
  }
  t.equal(await raw.hlen(`${p}\u0000n:ghost`), 0, 'the dead node counts nothing any more');
  let left = 0;
  for (let j = 0; j < N; j++) if (await raw.hexists(`${p}c\u0000t${j}`, `u${j}`)) left++;
  t.equal(left, 0, 'no ghost members');
  t.equal(await raw.sismember(`${p}\u0000dead`, 'ghost'), 0, 'and the node is forgotten');
});

/** Nodes m and n of one deployment on the shared Redis (moderation.nodeTimeoutMs 1000 on m, ack
 * timeouts out of the way), n's link to Redis through a proxy the test can cut (with `n`'s own
 * nodeTimeoutMs and commandTimeoutMs, quick reconnects). */
async function cuttablePair(t: Test, nOptions: { nodeTimeoutMs: number; commandTimeoutMs: number }) {
  const { url, prefix, proxy } = await proxiedRedis(t, 'rev');
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000 } };
  const m = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const n = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { ...base, moderation: { ...base.moderation, nodeTimeoutMs: nOptions.nodeTimeoutMs }, redis: { commandTimeoutMs: nOptions.commandTimeoutMs, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  return { url, prefix, proxy, m, n };
}

/** A node cut off from Redis for longer than nodeTimeoutMs claims nothing once its link is back
 * until it has renewed its heartbeat: another node's reap would still take it for gone and hand
 * what it claimed to a member elsewhere (two members holding one item). Each step waits for the
 * state it needs, read from the group's keys in Redis (engine/redis/moderation-scripts.ts) and from
 * the members' deliveries, never for a fixed time. */
t.test('an item claimed by a node coming back is not also given to a member elsewhere', async (t) => {
  if (!requireRedis(t)) return;
  // n ticks (heartbeat) every nodeTimeoutMs / 4 = 1 s: after the reconnect its resubscribe's claim
  // almost always goes before the next heartbeat, so the window this test is about is there.
  const { url, prefix, proxy, m, n } = await cuttablePair(t, { nodeTimeoutMs: 4000, commandTimeoutMs: 300 });
  const a = await RawModerator.join(n, { tokenId: 'a', maxInFlight: 1 });
  const b = await RawModerator.join(m, { tokenId: 'b', maxInFlight: 1 });
  t.teardown(() => { a.client.close(); b.client.close(); });
  const alice = await participant(m, 'alice');
  t.teardown(() => alice.close());
  // The group's keys (moderation-scripts.ts): members -> node, in-flight items -> node, the queue.
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  const group = `${prefix}m:${CACHE}\u0000mods`;
  const members = async () => redis.hgetall(`${group}\u0000m`);
  const heldBy = async () => redis.hgetall(`${group}\u0000f`);
  // Fill both members: one item each (roomy deadlines: two nodes starting on a loaded machine).
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p0' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p1' });
  await a.received(1, 20_000); await b.received(1, 20_000);
  const nodes = new Set(Object.values(await members()));
  t.equal(nodes.size, 2, 'the two members are on two nodes');
  // Node n is cut off (a's accept fails); X waits in the queue while m takes n for gone. Its open
  // links go silent and new ones get nowhere either (it drops the silent ones: redis.linkTimeoutMs).
  proxy.blackhole();
  proxy.freeze();
  await a.client.ok({ t: 'accept', delivery: a.deliveries[0]!['delivery'] }).catch(() => {}); // fails: Redis unreachable for n
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'X' });
  // n taken for gone by m's reap: its member left the group and the item it held is queued again.
  let nNode = '';
  await waitFor('node n taken for gone', async () => {
    const left = Object.values(await members());
    const held = Object.values(await heldBy());
    if (left.length !== 1) return false;
    nNode = [...nodes].find((node) => node !== left[0])!;
    return !held.includes(nNode) && await redis.llen(`${group}\u0000q`) === 2;
  }, 20_000);
  proxy.heal(); // the link comes back
  // Until n has renewed its heartbeat, no item may be in flight on n: one snapshot of both (one
  // script, so atomic) every few ms. A claim made before the renewal, the bug this guards, is seen
  // here even when m's reap does not hit it before the renewal (the assertion below needs that).
  // Whether n's first claim after the reconnect (its resubscribe) goes before its next tick's
  // heartbeat depends on the tick's phase, hence n's slow tick (above). With the claim's heartbeat
  // check removed (moderation-scripts.ts tidingsGroupClaim) this test failed 6 runs of 6 when it was
  // written, but passed 3 of 3 in a later audit: the claim and the heartbeat now leave back to back
  // on one connection, so the window is rarely open. It guards the order, not that check alone.
  const heartbeat = `${prefix}m:\u0000node:${nNode}`;
  const snapshot = `local n = 0 local f = redis.call('HGETALL', KEYS[2]) for i = 2, #f, 2 do if f[i] == ARGV[1] then n = n + 1 end end return {redis.call('EXISTS', KEYS[1]), n}`;
  let claimedWhileGone = 0;
  await waitFor('node n back: heartbeat renewed, member registered again', async () => {
    const [alive, heldOnN] = await redis.eval(snapshot, 2, heartbeat, `${group}\u0000f`, nNode) as [number, number];
    if (alive === 0) { claimedWhileGone = Math.max(claimedWhileGone, heldOnN); return false; }
    return Object.values(await members()).includes(nNode);
  }, 20_000);
  t.equal(claimedWhileGone, 0, 'the returning node claimed nothing before its heartbeat was renewed');
  // n renewed its heartbeat and registered its member again, and a got what n claimed since. From
  // the renewal on, m's reap takes n for alive: what n holds now it keeps (a claim made before the
  // renewal, the bug this guards, may have been reaped back to the queue in between, ahead of X).
  await a.received(2, 20_000);
  // b has room again once it settles its item, and gets the next queued one.
  await b.client.ok({ t: 'accept', delivery: b.deliveries[0]!['delivery'] });
  await b.received(2, 20_000);
  t.comment(`a: ${JSON.stringify(a.deliveries.map((d) => `${d['value']}#${d['attempt']}`))} b: ${JSON.stringify(b.deliveries.map((d) => `${d['value']}#${d['attempt']}`))}`);
  // a settles nothing after its failed accept: what it got since then it still holds.
  const heldByA = new Set(a.deliveries.slice(1).map((d) => d['value']));
  const alsoToB = b.deliveries.slice(1).filter((d) => heldByA.has(d['value'])).map((d) => d['value']);
  t.same(alsoToB, [], 'no item a member of the returning node holds was given to b as well');
});

/** A node cut off past nodeTimeoutMs still has its members' deliveries in memory when its link
 * comes back, but other nodes took it for gone and handed those items to a member elsewhere. A
 * settle from it is refused by Redis (moderation-scripts.ts: the accept's and the reject's "this node
 * still holds this claim" check; the node itself cannot know): its accept would publish the item a
 * second time, its reject would take the item from the member that holds it now. */
t.test('a node taken for gone cannot settle what it held: its accept and reject are refused, the new holder settles', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy, m, n } = await cuttablePair(t, { nodeTimeoutMs: 1000, commandTimeoutMs: 400 });
  const a = await RawModerator.join(n, { tokenId: 'a', maxInFlight: 2 });
  t.teardown(() => a.client.close());
  const alice = await participant(m, 'alice');
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p0' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p1' });
  await a.received(2, 20_000);
  // b joins with both items in flight on n: it gets them only once n is taken for gone.
  const b = await RawModerator.join(m, { tokenId: 'b', maxInFlight: 2 });
  t.teardown(() => b.client.close());
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  const members = `${prefix}m:${CACHE}\u0000mods\u0000m`;

  proxy.blackhole();
  proxy.freeze();
  await b.received(2, 20_000); // m reaped n: what a held went back to the queue, and to b
  proxy.heal();
  // n renewed its heartbeat and registered a again: its commands reach Redis from here on.
  await waitFor('node n back, its member registered again', async () => await redis.hlen(members) === 2, 20_000);

  const [toAccept, toReject] = a.deliveries;
  const accepted = await a.client.request({ t: 'accept', delivery: toAccept!['delivery'] });
  t.match(accepted, { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } }, 'the accept of an item n no longer holds is refused');
  const rejected = await a.client.request({ t: 'reject', delivery: toReject!['delivery'], reason: 'late' });
  t.match(rejected, { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } }, 'so is the reject');
  for (const d of b.deliveries) {
    t.match(await b.client.request({ t: 'accept', delivery: d['delivery'] }), { t: 'ok' }, `b, which holds ${String(d['value'])} now, accepts it`);
  }
  const history = await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1' });
  t.same((history['values'] as unknown[]).map(String).sort(), ['p0', 'p1'], 'each item published once, by its holder');
});
