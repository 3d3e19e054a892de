/** The Redis engine's goodbye (moderation hand-back, presence hand-over, quit) within one budget:
 * each step alone may wait up to redis.commandTimeoutMs per command, and a frozen Redis would make
 * them add up to several times that (docs/operations.md, "Stopping"). */

/** Waits for the named steps together, at most `budgetMs` (wall clock on purpose: it bounds how
 * long a process takes to stop). Resolves with the names of the steps still running then; their
 * later failures are swallowed (the caller disconnects under them). */
export async function settleWithin(steps: Record<string, Promise<unknown>>, budgetMs: number): Promise<string[]> {
  const running = new Set(Object.keys(steps));
  const all = Object.entries(steps).map(([name, step]) =>
    step.then(() => {}, () => {}).then(() => { running.delete(name); }));
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, budgetMs)); });
  await Promise.race([Promise.all(all), expired]);
  clearTimeout(timer);
  return [...running];
}
