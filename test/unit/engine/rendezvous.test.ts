/** Which shard holds a cache (engine/shards/rendezvous.ts): every node must compute the same
 * answer, caches must spread evenly, and adding a shard must move only what the new one takes. */
import t from 'tap';
import { shardOf } from '../../../src/engine/shards/rendezvous.js';

const names = Array.from({ length: 6000 }, (_, i) => `cache-${i}`);

t.test('rendezvous - one shard, or none: everything on shard 0', async (t) => {
  t.same([shardOf('chat', 1), shardOf('chat', 0), shardOf('', 1)], [0, 0, 0]);
});

t.test('rendezvous - the same answer every time, within range', async (t) => {
  for (const count of [2, 3, 7]) {
    const first = names.map((n) => shardOf(n, count));
    t.same(names.map((n) => shardOf(n, count)), first, `${count} shards: stable`);
    t.ok(first.every((s) => Number.isInteger(s) && s >= 0 && s < count), `${count} shards: every index in range`);
  }
  t.not(shardOf('chat', 2), shardOf('beta', 2), 'two known names on two shards (the Redis shard test relies on them)');
});

t.test('rendezvous - caches spread evenly (each shard within 15 % of its share)', async (t) => {
  for (const count of [2, 3, 4, 8]) {
    const per = new Array<number>(count).fill(0);
    for (const n of names) per[shardOf(n, count)]!++;
    const share = names.length / count;
    t.ok(per.every((k) => Math.abs(k - share) < share * 0.15), `${count} shards: ${per.join(' / ')}`);
  }
});

t.test('rendezvous - adding a shard at the end moves only caches onto it, about 1/N of them', async (t) => {
  for (const count of [1, 2, 4]) {
    const moved = names.filter((n) => shardOf(n, count) !== shardOf(n, count + 1));
    t.ok(moved.every((n) => shardOf(n, count + 1) === count), `${count} → ${count + 1}: every moved cache went to the new shard`);
    const expected = names.length / (count + 1);
    t.ok(Math.abs(moved.length - expected) < expected * 0.15, `${count} → ${count + 1}: ${moved.length} moved, about ${Math.round(expected)}`);
  }
});
