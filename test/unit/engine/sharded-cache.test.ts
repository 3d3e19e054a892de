/** The cache router over shards (engine/shards/sharded-cache.ts), over two real memory stores:
 * every operation reaches its cache's shard only, and the store figures add up without hiding a
 * shard that has no bound. */
import t from 'tap';
import { DEFAULTS } from '../../../src/core/config.js';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryCacheStore } from '../../../src/store/memory-store.js';
import { ShardedCache } from '../../../src/engine/shards/sharded-cache.js';
import { shardOf } from '../../../src/engine/shards/rendezvous.js';
import type { CacheEngine } from '../../../src/store/cache-store.js';

const ttl = { ttl: { refresh: true } };

function twoShards() {
  const clock = new ManualClock();
  const shards = [new MemoryCacheStore(DEFAULTS.store, clock), new MemoryCacheStore(DEFAULTS.store, clock)];
  return { shards, router: new ShardedCache(shards, (cache) => shardOf(cache, 2)) };
}

t.test('sharded cache - each operation lands on its cache\'s shard, and reads find it there', async (t) => {
  const { shards, router } = twoShards();
  const [first, second] = [['beta', 0], ['chat', 1]] as const;
  for (const [cache] of [first, second]) {
    router.set(cache, 'k', `v-${cache}`, undefined);
    t.same(router.listPushBack(cache, 'l', ['a', 'b'], ttl), 2);
    t.same(router.listFetch(cache, 'l', {}), ['a', 'b'], `${cache}: its list`);
    t.same(router.get(cache, 'k'), `v-${cache}`, `${cache}: its item`);
  }
  t.same(shards[first[1]]!.get(first[0], 'k'), 'v-beta', 'beta is on shard 0');
  t.equal(shards[second[1]]!.get(first[0], 'k'), undefined, 'and not on shard 1');
  t.same(shards[second[1]]!.get(second[0], 'k'), 'v-chat', 'chat is on shard 1');
  t.equal(shards[first[1]]!.get(second[0], 'k'), undefined, 'and not on shard 0');
  // increment, setIf, changeTtl and listErase route by cache too.
  t.equal(router.increment('beta', 'n', 2, undefined), 2n);
  t.equal(router.setIf('beta', 'lock', 'me', { kind: 'absent' }, undefined), true);
  t.equal(router.changeTtl('beta', 'lock', 10, 'decrease'), 'set');
  t.equal(router.listErase('beta', 'l', [{ beginIndex: 0, count: 1 }]), 1);
  t.same([shards[0]!.get('beta', 'n'), shards[0]!.get('beta', 'lock'), shards[0]!.itemGetTtl('beta', 'lock'), shards[0]!.listLength('beta', 'l')], ['2', 'me', 10, 1], 'on beta\'s shard');
  t.same([shards[1]!.get('beta', 'n'), shards[1]!.get('beta', 'lock')], [undefined, undefined], 'not on the other');
  t.equal(typeof router.listFetchResult, 'function', 'the fetch fast path is kept when every shard has it');
  t.same(router.listFetchResult!('chat', 'l', {}, false), { hit: true, values: ['a', 'b'] });
});

t.test('sharded cache - figures add up; a shard without a bound makes the total unbounded', async (t) => {
  const { shards, router } = twoShards();
  router.set('beta', 'k', 'x', undefined);
  router.set('chat', 'k', 'y', undefined);
  const [a, b] = shards.map((s) => s.stats());
  t.same(router.stats(), { items: a!.items + b!.items, bytes: a!.bytes + b!.bytes, maxBytes: a!.maxBytes + b!.maxBytes });
  t.equal(router.stats().items, 2);
  const unbounded: CacheEngine = Object.assign(Object.create(shards[1]!) as CacheEngine, { stats: () => ({ items: 1, bytes: 10, maxBytes: 0 }) });
  t.equal(new ShardedCache([shards[0]!, unbounded], (cache) => shardOf(cache, 2)).stats().maxBytes, 0, 'maxmemory 0 on one shard: no bound in all');
});
