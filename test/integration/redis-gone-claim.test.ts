/** A node cut off from Redis for longer than nodeTimeoutMs claims nothing once its link is back
 * until it has renewed its heartbeat: another node's reap would still take it for gone and hand
 * what it claimed to a member elsewhere (two members holding one item). Each step waits for the
 * state it needs, read from the group's keys in Redis (engine/redis/moderation-scripts.ts) and from
 * the members' deliveries, never for a fixed time. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { waitFor } from '../helpers/wait.js';
import { generateSigningKey } from '../../src/index.js';
import { Redis } from 'ioredis';

t.test('an item claimed by a node coming back is not also given to a member elsewhere', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000 } };
  const m = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const n = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    // n ticks (heartbeat) every nodeTimeoutMs / 4 = 1 s: after the reconnect its resubscribe's claim
    // almost always goes before the next heartbeat, so the window this test is about is there.
    config: { ...base, moderation: { ...base.moderation, nodeTimeoutMs: 4000 }, redis: { commandTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
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
  // heartbeat depends on the tick's phase, hence n's slow tick (above): with the claim's heartbeat
  // check removed (moderation-scripts.ts tidingsGroupClaim) this test failed 6 runs of 6.
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
