/** The only way server code reads time, so tests can inject a fake clock. */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current = 1_700_000_000_000) {}
  now(): number { return this.current; }
  advance(ms: number): void { this.current += ms; }
  set(ms: number): void { this.current = ms; }
}
