/** What GET /metrics shows of moderator groups: one read of engine.groups.stats() per scrape,
 * per-group series for the busiest `server.metricsMaxGroups` groups only (10,000 groups at 12
 * samples each made a ~9 MiB scrape (extrapolated from 2,000 groups: 1.9 MiB)), and totals over every group so nothing is hidden. */
import type { GroupStats } from '../moderation/group-registry.js';
import type { GroupCounters } from '../moderation/group.js';

const OUTCOMES = ['offered', 'delivered', 'redelivered', 'accepted', 'rejected', 'nacked', 'timedOut', 'deadLettered', 'refused'] as const satisfies ReadonlyArray<keyof GroupCounters>;

const zero = (): GroupCounters => ({ offered: 0, delivered: 0, redelivered: 0, accepted: 0, rejected: 0, nacked: 0, timedOut: 0, deadLettered: 0, refused: 0 });
const keyOf = (g: GroupStats) => `${g.cache}\u0000${g.group}`;
const load = (g: GroupStats) => g.buffered + g.inFlight;

/** The `limit` groups holding the most buffered + in-flight items; ties by cache, then name, so the
 * choice is stable between scrapes. */
export function busiestGroups(stats: readonly GroupStats[], limit: number): GroupStats[] {
  if (limit <= 0) return [];
  const byLoad = (a: GroupStats, b: GroupStats) => load(b) - load(a) || (a.cache < b.cache ? -1 : a.cache > b.cache ? 1 : 0) || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0);
  return [...stats].sort(byLoad).slice(0, limit);
}

export interface GroupTotals {
  members: number;
  buffered: number;
  inFlight: number;
  /** Items through all groups since start, by outcome: never decreases. */
  counters: GroupCounters;
}

/** Sums over all groups. A group the engine forgets (idle past moderation.groupIdleMs) takes its
 * counters with it; its last-seen counts are kept here so the totals stay monotonic, as Prometheus
 * counters must. Nothing is lost as long as scrapes come more often than groupIdleMs: a group is
 * only forgotten after that long without traffic. Memory: one entry per live group. */
export class GroupTotalsTracker {
  private readonly lastSeen = new Map<string, GroupCounters>();
  private readonly retired = zero();

  observe(stats: readonly GroupStats[]): GroupTotals {
    const totals: GroupTotals = { members: 0, buffered: 0, inFlight: 0, counters: { ...this.retired } };
    const live = new Set<string>();
    for (const g of stats) {
      const key = keyOf(g);
      live.add(key);
      const before = this.lastSeen.get(key);
      // A count that went down is a new group under the same name: the old one's counts are retired.
      if (before && OUTCOMES.some((o) => g.counters[o] < before[o])) this.retire(before, totals.counters);
      this.lastSeen.set(key, { ...g.counters });
      totals.members += g.members;
      totals.buffered += g.buffered;
      totals.inFlight += g.inFlight;
      for (const o of OUTCOMES) totals.counters[o] += g.counters[o];
    }
    for (const [key, before] of this.lastSeen) {
      if (!live.has(key)) { this.retire(before, totals.counters); this.lastSeen.delete(key); }
    }
    return totals;
  }

  private retire(counters: GroupCounters, into: GroupCounters): void {
    for (const o of OUTCOMES) { this.retired[o] += counters[o]; into[o] += counters[o]; }
  }
}

export interface GroupScrape { count: number; busiest: GroupStats[]; totals: GroupTotals }

/** One read of the groups per scrape, shared by every group series. prom-client calls each
 * metric's collect() synchronously in one loop (Registry.metrics maps over the metrics before its
 * first await), so a read cached until the next microtask serves exactly one scrape. */
export function groupScrapeReader(read: () => GroupStats[], limit: number): () => GroupScrape {
  const tracker = new GroupTotalsTracker();
  let current: GroupScrape | undefined;
  return () => {
    if (current) return current;
    const stats = read();
    current = { count: stats.length, busiest: busiestGroups(stats, limit), totals: tracker.observe(stats) };
    queueMicrotask(() => { current = undefined; });
    return current;
  };
}

export { OUTCOMES as GROUP_OUTCOMES };
