/** One shared copy, by key, of values that many connections hold. Bounded: past `max` distinct
 * keys the table starts over (later copies are then simply not shared). */
export class SharedValues<V> {
  private readonly table = new Map<string, V>();

  constructor(private readonly max = 4096) {}

  get(key: string): V | undefined {
    return this.table.get(key);
  }

  /** Makes `value` the shared one for `key`. */
  add(key: string, value: V): V {
    if (this.table.size >= this.max) this.table.clear();
    this.table.set(key, value);
    return value;
  }
}

/** One shared copy of strings that many connections hold (topic names, fan-out keys, client
 * addresses). Every decoded frame makes fresh strings, so 10,000 subscribers of one topic held
 * 10,000 copies of its names (~100 B each; bench/analysis.md). */
export class Interner extends SharedValues<string> {
  intern(s: string): string {
    return this.get(s) ?? this.add(s, s);
  }
}
