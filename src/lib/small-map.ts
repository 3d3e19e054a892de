/** SmallMap's `key` when it holds no inline entry: a marker rather than a boolean field, one field
 * less per connection. No real key (not even undefined) equals it, so `this.key === key` needs no
 * separate emptiness check. */
const NONE: unique symbol = Symbol('none');

/** A Map for collections that almost always hold one entry (a connection's subscriptions): the
 * first entry lives in two fields, a real Map only from the second. An empty Map with its hash
 * table is ~180 B, held for life by every idle connection (bench/analysis.md, "Connect, memory and
 * history"). Same semantics as Map for what callers use, including deleting while iterating. */
export class SmallMap<K, V> {
  private key: K | typeof NONE = NONE;
  private value: V | undefined;
  private map: Map<K, V> | undefined;

  get size(): number {
    return this.map ? this.map.size : this.key !== NONE ? 1 : 0;
  }

  get(key: K): V | undefined {
    if (this.map) return this.map.get(key);
    return this.key === key ? this.value : undefined;
  }

  has(key: K): boolean {
    if (this.map) return this.map.has(key);
    return this.key === key;
  }

  set(key: K, value: V): this {
    if (this.map) {
      this.map.set(key, value);
    } else if (this.key === NONE || this.key === key) {
      this.key = key;
      this.value = value;
    } else {
      this.map = new Map([[this.key as K, this.value as V], [key, value]]);
      this.clearSingle();
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.map) {
      const deleted = this.map.delete(key);
      // Back to no table once empty (an iteration in progress keeps its own reference).
      if (this.map.size === 0) this.map = undefined;
      return deleted;
    }
    if (this.key !== key) return false;
    this.clearSingle();
    return true;
  }

  *entries(): IterableIterator<[K, V]> {
    if (this.map) { yield* this.map; return; }
    if (this.key !== NONE) yield [this.key, this.value as V];
  }

  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  private clearSingle(): void {
    this.key = NONE;
    this.value = undefined;
  }
}
