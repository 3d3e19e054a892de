/** A hand-back (nack) whose script Redis applied late (the node saw a timeout and queued a retry)
 * does nothing when retried after the item was claimed again: a claim, hand-back or settle names
 * its claim, so no second member gets an item a member holds. */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { generateSigningKey } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

t.test('a timed-out nack retried later does not hand back an item held again', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('rev');
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { commandTimeoutMs: 100 },
    moderation: { nodeTimeoutMs: 4000, ackTimeoutMs: 60_000 },
  };
  const node = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix, config });
  const mods: RawModerator[] = [];
  for (const id of ['m1', 'm2', 'm3']) {
    const m = await RawModerator.join(node, { tokenId: id, maxInFlight: 1 });
    t.teardown(() => m.client.close());
    mods.push(m);
  }
  const alice = await participant(node, 'alice');
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'X' });
  await waitFor('X delivered', () => mods.some((m) => m.deliveries.length === 1));
  const first = mods.find((m) => m.deliveries.length === 1)!;
  t.ok(first, 'one member got X');

  // Redis stalls for 600 ms: the nack's hand-back script waits in Redis, the node times it out
  // (commandTimeoutMs 200) and queues a retry; Redis then runs it.
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await side.call('CLIENT', 'PAUSE', '300', 'ALL');
  const nack = await first.client.request({ t: 'nack', delivery: first.deliveries[0]!['delivery'] }, 5000);
  t.equal(nack['t'], 'ok', 'the nack is answered ok');
  // A fixed time on purpose: the queued retry runs on a later tick (every nodeTimeoutMs / 4) and
  // must change nothing, which no state shows; this covers the pause, the redelivery and two ticks.
  await new Promise((r) => setTimeout(r, 2500)); // the pause ends; X is redelivered; ticks run the retry

  const holders = mods.map((m) => m.deliveries.map((d) => `${d['value']}#${d['attempt']}`));
  t.comment(`deliveries: ${JSON.stringify(holders)}`);
  const total = mods.reduce((n, m) => n + m.deliveries.length, 0);
  t.equal(total, 2, 'X delivered once more after the nack (not to two members at once)');
  // The member holding X now accepts: it must succeed.
  const holder = mods.find((m) => m !== first && m.deliveries.length > 0)!;
  const last = holder.deliveries[holder.deliveries.length - 1]!;
  const accepted = await holder.client.request({ t: 'accept', delivery: last['delivery'] });
  t.equal(accepted['t'], 'ok', `the holder's accept succeeds: ${JSON.stringify(accepted)}`);
});
