/** The moderator-group router over shards (engine/shards/sharded-moderation.ts), over two real
 * memory engines' groups: the per-connection group count it keeps over every shard forgets a
 * connection once it closes, so the count holds nothing for connections that are gone (an entry
 * per closed connection would grow the node's memory for as long as it runs). */
import t from 'tap';
import { DEFAULTS } from '../../../src/core/config.js';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { ShardedModeration } from '../../../src/engine/shards/sharded-moderation.js';
import { shardOf } from '../../../src/engine/shards/rendezvous.js';
import type { GroupMember } from '../../../src/moderation/moderation-engine.js';

const pattern = { nameSuffix: '-input' };
const member = (id: string): GroupMember => ({ id, accepted: () => {}, deliver: () => {}, ended: () => {} });

t.test('sharded moderation - a closed connection counts no group any more', async (t) => {
  const clock = new ManualClock();
  const shards = [0, 1].map(() => new MemoryEngine({ topics: DEFAULTS.topics, clock }));
  t.teardown(() => Promise.all(shards.map((s) => s.close())));
  const router = new ShardedModeration(shards.map((s) => s.groups), (cache) => shardOf(cache, 2), 2);
  // beta is on shard 0, chat on shard 1 (rendezvous.test.ts).
  await router.join('beta', 'mods', pattern, member('c1'), 1);
  await router.join('chat', 'mods', pattern, member('c1'), 1);
  await t.rejects(router.join('beta', 'more', pattern, member('c1'), 1), { code: 'LIMIT_EXCEEDED_ERROR' }, 'two groups over both shards: the bound');

  router.connectionClosed('c1');
  t.equal(router.stats().reduce((n, g) => n + g.members, 0), 0, 'each shard let the member go');
  // Connection ids are not reused; joining under the closed one again shows what is still counted.
  await router.join('beta', 'mods', pattern, member('c1'), 1);
  await router.join('chat', 'mods', pattern, member('c1'), 1);
  t.pass('nothing was left counted for it: it fits two groups again');
});
