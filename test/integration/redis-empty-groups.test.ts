/** Redis comes back empty (restarted without persistence) under a node whose moderator is in a
 * group: a publish to the group's input topic after that is either refused (retryable) or reaches
 * the moderator, never acknowledged and then delivered to nobody. Before, the node's publish found
 * the group directory gone, took the topic for an ordinary one and published it there (no one
 * reads an input topic): the item was acknowledged and lost, until the node's next tick
 * (moderation.nodeTimeoutMs / 4) registered its members again. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis } from '../helpers/redis.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { waitFor } from '../helpers/wait.js';
import type { Frame } from '../helpers/raw-client.js';

t.test('after Redis came back empty, a publish to a group\'s input reaches its moderator', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t); // no persistence: a restart loses every group
  // A tick far beyond the waits below: only what the publish itself does counts.
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url,
    config: { redis: { reconnectMinMs: 10, reconnectMaxMs: 50 }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 } } });
  const mod = await RawModerator.join(a);
  const alice = await participant(a, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'before' });
  await mod.received(1);
  await mod.client.ok({ t: 'accept', delivery: mod.deliveries[0]!['delivery'] });

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
