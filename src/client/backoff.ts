/** Jittered exponential reconnect delays: attempt n waits base·2ⁿ capped at max, times 0.5–1, so a
 * fleet of clients dropped together does not come back together. */
export function reconnectDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}
