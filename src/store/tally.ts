/** What a collection in the memory store holds, in sizes.ts's two currencies: payload bytes (what
 * store.maxItemBytes counts) and footprint bytes (what the LRU's store.maxBytes counts). Each
 * collection's state keeps one, moved as elements come and go; a write is planned on a copy and
 * checked before anything changes. */
export class Tally {
  payload = 0;
  footprint = 0;

  /** One element's bytes in (sign 1) or out (sign -1). */
  count(payload: number, footprint: number, sign: 1 | -1 = 1): void {
    this.payload += sign * payload;
    this.footprint += sign * footprint;
  }

  /** A copy to plan a write on. */
  plan(): Tally {
    const copy = new Tally();
    copy.count(this.payload, this.footprint);
    return copy;
  }
}
