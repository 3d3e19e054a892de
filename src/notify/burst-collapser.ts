/** At most one emission per key per window: the first value goes out at once; values offered
 * within the window replace each other, and the newest goes out when the window ends, with how
 * many values it stands for. Used per (user, topic) so a busy room sends one push per window, not
 * one per message. One timer per key with recent activity, dropped after a quiet window. */
import type { Clock, TimerHandle } from '../core/clock.js';

interface Burst<T> { owner: string; timer: TimerHandle; pending: T | undefined; count: number }

export class BurstCollapser<T> {
  private readonly bursts = new Map<string, Burst<T>>();
  collapsed = 0;

  constructor(private readonly clock: Clock, private readonly windowMs: number, private readonly emit: (key: string, value: T, count: number) => void) {}

  /** `owner`: whose burst it is (Web Push: the tokenId), for dropOwner. */
  offer(owner: string, key: string, value: T): void {
    const burst = this.bursts.get(key);
    if (burst) {
      if (burst.pending !== undefined) this.collapsed++;
      burst.pending = value;
      burst.count++;
      return;
    }
    this.emit(key, value, 1);
    this.bursts.set(key, { owner, timer: this.arm(key), pending: undefined, count: 0 });
  }

  /** Forgets the owner's bursts (their pending values are never emitted). Matched exactly, not by a
   * key prefix: a tokenId may contain the keys' separator. A scan of every burst: for rare events
   * (a revocation), not the publish path. */
  dropOwner(owner: string): void {
    for (const [key, burst] of this.bursts) {
      if (burst.owner !== owner) continue;
      this.clock.clearTimeout(burst.timer);
      this.bursts.delete(key);
    }
  }

  close(): void {
    for (const burst of this.bursts.values()) this.clock.clearTimeout(burst.timer);
    this.bursts.clear();
  }

  get size(): number { return this.bursts.size; }

  private arm(key: string): TimerHandle {
    // Through the clock: tests move the window by hand, and clock timers never keep a process alive.
    return this.clock.setTimeout(() => {
      const burst = this.bursts.get(key)!;
      if (burst.pending === undefined) {
        this.bursts.delete(key);
        return;
      }
      const { pending, count } = burst;
      burst.pending = undefined;
      burst.count = 0;
      burst.timer = this.arm(key);
      this.emit(key, pending, count);
    }, this.windowMs);
  }
}
