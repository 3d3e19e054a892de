/** One shared copy of strings that many connections hold (topic names, fan-out keys, client
 * addresses). Every decoded frame makes fresh strings, so 10,000 subscribers of one topic held
 * 10,000 copies of its names (~100 B each; bench/analysis.md). Bounded: past `max` distinct
 * strings the table starts over (later copies are then simply not shared). */
export class Interner {
  private readonly table = new Map<string, string>();

  constructor(private readonly max = 4096) {}

  intern(s: string): string {
    const shared = this.table.get(s);
    if (shared !== undefined) return shared;
    if (this.table.size >= this.max) this.table.clear();
    this.table.set(s, s);
    return s;
  }
}
