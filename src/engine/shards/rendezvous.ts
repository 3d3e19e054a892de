/** Which shard holds a cache: rendezvous (highest random weight) hashing of the cache name over
 * the shards' positions. Every node computes the same answer from the same ordered shard list,
 * with no coordination, and adding a shard at the end moves only the caches the new one wins
 * (about 1/N of them); the others stay where their data is. */

/** The shard (0 ≤ i < count) of `cache`. */
export function shardOf(cache: string, count: number): number {
  if (count <= 1) return 0;
  let best = 0;
  let bestWeight = -1;
  for (let i = 0; i < count; i++) {
    const weight = weightOf(cache, i);
    if (weight > bestWeight) { best = i; bestWeight = weight; }
  }
  return best;
}

/** FNV-1a of the name's UTF-16 code units, seeded by the shard, then murmur3's finalizer so
 * nearby seeds give unrelated weights. Not cryptographic: cache names come from tokens, and a
 * holder who crowds caches onto one shard only loads the shard its own caches are on. */
function weightOf(cache: string, shard: number): number {
  let h = (0x811c9dc5 ^ Math.imul(shard + 1, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < cache.length; i++) h = Math.imul(h ^ cache.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
