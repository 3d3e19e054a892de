/** Microsecond timestamps on CLOCK_MONOTONIC (process.hrtime), so a send time written by one process
 * can be compared with a receive time read in another on the same machine. */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1000);
}

/** Receive time of the socket chunk being parsed: every message in one chunk arrived together, so
 * the clock is read at most once per chunk, and only when a timed message asks for it. */
let chunkUs = 0;
export function markChunk(): void { chunkUs = 0; }
export function chunkNowUs(): number {
  if (chunkUs === 0) chunkUs = nowUs();
  return chunkUs;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
