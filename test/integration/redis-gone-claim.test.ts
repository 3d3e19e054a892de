/** A node cut off from Redis for longer than nodeTimeoutMs claims nothing once its link is back
 * until it has renewed its heartbeat: another node's reap would still take it for gone and hand
 * what it claimed to a member elsewhere (two members holding one item). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { generateSigningKey } from '../../src/index.js';

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
    config: { ...base, redis: { commandTimeoutMs: 300, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const a = await RawModerator.join(n, { tokenId: 'a', maxInFlight: 1 });
  const b = await RawModerator.join(m, { tokenId: 'b', maxInFlight: 1 });
  t.teardown(() => { a.client.close(); b.client.close(); });
  const alice = await participant(m, 'alice');
  t.teardown(() => alice.close());
  // Fill both members: one item each.
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p0' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p1' });
  await a.received(1); await b.received(1);
  // Node n is cut off (a's accept fails); X waits in the queue while m takes n for gone.
  proxy.freeze();
  await a.client.ok({ t: 'accept', delivery: a.deliveries[0]!['delivery'] }).catch(() => {}); // fails: Redis unreachable for n
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'X' });
  await new Promise((r) => setTimeout(r, 2500)); // n taken for gone by m's reap
  proxy.reset(); // the link comes back
  await new Promise((r) => setTimeout(r, 1500));
  // b has room again once it settles its item.
  await b.client.ok({ t: 'accept', delivery: b.deliveries[0]!['delivery'] });
  await new Promise((r) => setTimeout(r, 1000));
  t.comment(`a: ${JSON.stringify(a.deliveries.map((d) => `${d['value']}#${d['attempt']}`))} b: ${JSON.stringify(b.deliveries.map((d) => `${d['value']}#${d['attempt']}`))}`);
  // a settles nothing after its failed accept: what it got since then it still holds.
  const heldByA = new Set(a.deliveries.slice(1).map((d) => d['value']));
  const alsoToB = b.deliveries.slice(1).filter((d) => heldByA.has(d['value'])).map((d) => d['value']);
  t.same(alsoToB, [], 'no item a member of the returning node holds was given to b as well');
});
