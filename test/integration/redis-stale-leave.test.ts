/** A gunsub whose leave timed out, retried on a later tick after the same connection joined the
 * group again, does not remove the live member (which would let the group go idle and be
 * forgotten, its input no longer moderated). */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { CACHE, RawModerator, SUFFIX, participant } from '../helpers/moderator.js';
import { generateSigningKey } from '../../src/index.js';

t.test('a late leave retry does not remove a member that joined again', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { commandTimeoutMs: 100 },
    moderation: { nodeTimeoutMs: 8000, groupIdleMs: 500, ackTimeoutMs: 60_000 },
  };
  const node = await startServer(t, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: uniquePrefix('rev'), config });
  const mod = await RawModerator.join(node, { tokenId: 'mod' });
  t.teardown(() => mod.client.close());
  const alice = await participant(node, 'alice');
  t.teardown(() => alice.close());

  const side = new Redis(redis.url);
  t.teardown(() => side.disconnect());
  await side.call('CLIENT', 'PAUSE', '300', 'ALL');
  t.match(await mod.client.request({ t: 'gunsub', cache: CACHE, group: 'mods' }), { t: 'ok' }, 'gunsub answered (its leave timed out)');
  await new Promise((r) => setTimeout(r, 450));
  t.match(await mod.client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }), { t: 'ok' }, 'joined again');
  // A fixed time on purpose: the retried leave runs on a tick and groupIdleMs passes, and the member
  // must still be there afterwards, which no state shows.
  await new Promise((r) => setTimeout(r, 3000)); // a tick runs the retries; groupIdleMs passes

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'must be moderated' });
  const delivered = await mod.received(1, 1500).then(() => true, () => false);
  t.ok(delivered, 'the member (joined) gets the input item');
  const members = await side.hlen(`${(node.config.redis as { keyPrefix: string }).keyPrefix}m:${CACHE}\u0000mods\u0000m`);
  t.equal(members, 1, 'Redis still lists the member');
});
