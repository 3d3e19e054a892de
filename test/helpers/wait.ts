/** Bounded waits on a condition: tests wait for what they need, never for a fixed time. */

/** Whether `condition` came to hold within `ms` (checked every 20 ms). */
export async function eventually(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Waits for `condition`; throws naming `what` when it did not hold within `ms`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  if (!(await eventually(condition, ms))) throw new Error(`timed out waiting for ${what}`);
}
