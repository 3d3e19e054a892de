/** Counts kept per key in a Map, an entry only while its count is positive (so the map holds no
 * key that counts nothing, and stays as small as what is counted). */
export function addCount<K>(counts: Map<K, number>, key: K, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}
