/** Redis comes back empty (restarted without persistence) under two nodes: the members of the
 * groups on node a are registered again as soon as a's link is back, not at its next tick
 * (moderation.nodeTimeoutMs / 4), so that a publish on node b to a group's input soon feeds the
 * group again (until then b takes the input for an ordinary topic: it cannot register a's members). */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { waitFor } from '../helpers/wait.js';
import { generateSigningKey } from '../../src/index.js';

t.test('after Redis came back empty, a node registers its members again as soon as its link is back', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t); // no persistence: a restart loses every group
  const prefix = uniquePrefix('emptygroups');
  // A tick far beyond the waits below: only what the reconnect does counts.
  const config = { auth: { signingKeys: [generateSigningKey()] }, redis: { reconnectMinMs: 10, reconnectMaxMs: 50 }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const mod = await RawModerator.join(a);
  const alice = await participant(b, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'before' });
  await mod.received(1);
  await mod.client.ok({ t: 'accept', delivery: mod.deliveries[0]!['delivery'] });

  await redis.stop();
  await redis.start();
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await waitFor('node a\'s member listed in Redis again', async () => (await side.hlen(`${prefix}m:${CACHE}\u0000mods\u0000m`)) === 1, 10_000);
  await waitFor('a publish through node b is acknowledged', async () => (await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' }))['t'] === 'ok');
  await mod.received(2, 5000);
  t.match(mod.deliveries[1], { value: 'after' }, 'it reached the moderator on node a');
});
