/** Moderation scripts that Redis ran late (a CLIENT PAUSE past redis.commandTimeoutMs: the node
 * timed them out and queued a retry for a later tick): the retry must not undo what happened since.
 * The pause would stall every other test on the shared Redis, so these use a private redis-server,
 * one for both cases: they run one after another, each under its own key prefix, and a pause
 * (1200 ms) is over long before its case ends. The command timeout (400 ms) applies to every
 * command, so it is far above what a loaded machine takes (100 ms failed a publish under CI load)
 * and the pause far above it. */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix, type RedisProcess } from '../helpers/redis.js';
import { CACHE, RawModerator, SUFFIX, participant } from '../helpers/moderator.js';
import { generateSigningKey } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

let started: Promise<RedisProcess> | undefined;
const privateRedis = () => (started ??= startRedis(t));

/** A gunsub whose leave timed out, retried on a later tick after the same connection joined the
 * group again, does not remove the live member from Redis's list (which would miscount the group
 * for every node and let it go idle). groupIdleMs is long on purpose: a group forgotten for
 * idleness is healed at the next publish (the node registers its members again), which hid a
 * missing guard when it was short. */
t.test('a late leave retry does not remove a member that joined again', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { commandTimeoutMs: 400 },
    moderation: { nodeTimeoutMs: 8000, groupIdleMs: 60_000, ackTimeoutMs: 60_000 },
  };
  const node = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: uniquePrefix('rev'), config });
  const mod = await RawModerator.join(node, { tokenId: 'mod' });
  t.teardown(() => mod.client.close());
  const alice = await participant(node, 'alice');
  t.teardown(() => alice.close());

  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await side.call('CLIENT', 'PAUSE', '1200', 'ALL');
  t.match(await mod.client.request({ t: 'gunsub', cache: CACHE, group: 'mods' }), { t: 'ok' }, 'gunsub answered (its leave timed out)');
  await new Promise((r) => setTimeout(r, 1300)); // the pause is over: the leave ran late
  t.match(await mod.client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }), { t: 'ok' }, 'joined again');
  // A fixed time on purpose: the retried leave runs on a tick, and the member must still be there
  // afterwards, which no state shows.
  await new Promise((r) => setTimeout(r, 3000)); // a tick (every nodeTimeoutMs / 4) runs the retries

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'must be moderated' });
  // A removed member never gets it: the bound only decides how long that takes to show.
  const delivered = await mod.received(1, 10_000).then(() => true, () => false);
  t.ok(delivered, 'the member (joined) gets the input item');
  const members = await side.hlen(`${(node.config.redis as { keyPrefix: string }).keyPrefix}m:${CACHE}\u0000mods\u0000m`);
  t.equal(members, 1, 'Redis still lists the member');
});

/** A hand-back (nack) whose script Redis applied late (the node saw a timeout and queued a retry)
 * does nothing when retried after the item was claimed again: a claim, hand-back or settle names
 * its claim, so no second member gets an item a member holds. */
t.test('a timed-out nack retried later does not hand back an item held again', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const prefix = uniquePrefix('rev');
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { commandTimeoutMs: 400 },
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

  // Redis stalls for 1200 ms: the nack's hand-back script waits in Redis, the node times it out
  // (commandTimeoutMs 400) and queues a retry; Redis then runs it.
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await side.call('CLIENT', 'PAUSE', '1200', 'ALL');
  const nack = await first.client.request({ t: 'nack', delivery: first.deliveries[0]!['delivery'] }, 5000);
  t.equal(nack['t'], 'ok', 'the nack is answered ok');
  // The pause ends and X is redelivered (waited for: a loaded machine may take longer than a fixed
  // time). Then a fixed time on purpose: the queued retry runs on a later tick (every
  // nodeTimeoutMs / 4) and must change nothing, which no state shows; this covers two ticks.
  await waitFor('X redelivered', () => mods.reduce((n, m) => n + m.deliveries.length, 0) >= 2).catch(() => {});
  await new Promise((r) => setTimeout(r, 2000));

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

/** A claim whose reply the node never got (a timeout) although Redis ran it took an item for this
 * node that none of its members knew of: only a dead node's items are reaped, so it stayed in
 * flight for good (the input never moderated). The node now undoes such a claim before it claims
 * again for the group, and the item reaches a member. */
t.test('a claim whose reply was lost is undone: its item still reaches a member', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await privateRedis();
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { commandTimeoutMs: 400 },
    moderation: { nodeTimeoutMs: 4000, ackTimeoutMs: 60_000 },
  };
  const node = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: uniquePrefix('rev'), config });
  const mod = await RawModerator.join(node, { tokenId: 'mod', maxInFlight: 1 });
  t.teardown(() => mod.client.close());
  const alice = await participant(node, 'alice');
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'W' });
  await mod.received(1, 10_000);
  // Queued: the member has no room for it until W is settled.
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'X' });

  // Redis stalls for 1200 ms: the reject's settle times out (400 ms), the node then claims for the
  // room the reject made and that claim times out too (800 ms); Redis runs both once the pause ends.
  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await side.call('CLIENT', 'PAUSE', '1200', 'ALL');
  mod.client.send({ t: 'reject', delivery: mod.deliveries[0]!['delivery'], reason: 'not this one' });
  await mod.received(2, 20_000);
  t.equal(mod.deliveries[1]!['value'], 'X', 'the member gets X');
  t.equal(mod.deliveries[1]!['attempt'], 1, 'its first delivery: the undone claim is not an attempt');
});
