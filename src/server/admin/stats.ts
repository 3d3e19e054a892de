/** What the operators' dashboard shows (docs/operations.md), sampled from the running server. Rates
 * are computed between successive samples; one sampler per server, sampling at most every
 * `minIntervalMs`, so any number of open dashboards cost one sample per interval. */
import type { TimerHandle } from '../../core/clock.js';
import type { Clock } from '../../core/clock.js';
import type { TidingsConfig } from '../../core/config.js';
import type { Broker } from '../../engine/broker.js';
import type { Engine } from '../../engine/engine.js';
import type { AdminStats } from '../../protocol/index.js';
import type { TransportCounters } from '../transport-counters.js';
import { busiestGroups } from '../group-metrics.js';

export interface StatsSources {
  broker: Broker;
  engine: Engine;
  transport: TransportCounters;
  config: Readonly<TidingsConfig>;
  clock: Clock;
}

interface Previous { at: number; published: number; delivered: number; positions: Map<string, { page: number; seq: number }> }

/** A previous sample older than this is no basis for a rate: the dashboard polls every second, and
 * an average over the pause since the last one (an hour) is not "per second now". Past it, the
 * positions of every topic are let go too. */
export const RATE_BASIS_MS = 10_000;

export class StatsSampler {
  private previous: Previous | undefined;
  private latest: AdminStats | undefined;
  private forget: TimerHandle | undefined;
  private readonly startedAt: number;

  constructor(private readonly sources: StatsSources, private readonly minIntervalMs = 500) {
    this.startedAt = sources.clock.now();
  }

  sample(): AdminStats {
    const { broker, engine, transport, config, clock } = this.sources;
    const at = clock.now();
    if (this.latest && at - this.latest.at < this.minIntervalMs) return this.latest;
    const topicStats = engine.topics.stats();
    const previous = this.previous && at - this.previous.at <= RATE_BASIS_MS ? this.previous : undefined;
    const seconds = previous ? Math.max(0.001, (at - previous.at) / 1000) : 0;

    let subscriptions = 0;
    for (const session of broker.sessions.values()) subscriptions += session.subscriptions.size;

    // Positions of every topic: the next sample's rates are measured against them. Bounded by
    // topics.maxTopics, and only kept while someone samples (`forget` below).
    const positions = new Map<string, { page: number; seq: number }>();
    const moving: AdminStats['topTopics'] = [];
    for (const t of engine.topics.activity()) {
      const key = `${t.cache}\u0000${t.topic}`;
      positions.set(key, { page: t.page, seq: t.seq });
      if (!previous) continue;
      const before = previous.positions.get(key);
      // On one page, the difference; a page begun since the previous sample (a new topic, or one
      // started again) holds only what came after it. A topic on an older page that was not here
      // then (engine redis: loaded, whole history and all, for its first local subscriber) has no
      // basis yet: its seq is not what the last second published.
      const items = before && before.page === t.page ? t.seq - before.seq : t.page >= previous.at ? t.seq : 0;
      if (items > 0) moving.push({ cache: t.cache, topic: t.topic, perSecond: items / seconds, subscribers: t.subscribers });
    }
    moving.sort((a, b) => b.perSecond - a.perSecond);

    const store = engine.cache.stats();
    const groupStats = engine.groups.stats();
    const stats: AdminStats = {
      at,
      startedAt: this.startedAt,
      engine: {
        kind: config.engine,
        redisLinks: (engine.redisLinks?.() ?? []).map((l) => ({ shard: l.shard, connected: l.connected, ...(l.refusal ? { refusal: l.refusal } : {}) })),
      },
      connections: { open: broker.sessions.size, limit: config.server.maxConnections, cutOff: transport.cutOff, refused: transport.refusedUpgrades },
      slowConsumers: { detached: broker.slowConsumers.detached, detaches: broker.slowConsumers.detaches },
      subscriptions,
      topics: { live: topicStats.topics, limit: config.topics.maxTopics, evicted: topicStats.topicsEvicted },
      rates: previous
        ? { publishes: (topicStats.published - previous.published) / seconds, deliveries: (topicStats.delivered - previous.delivered) / seconds }
        : null,
      totals: { published: topicStats.published, delivered: topicStats.delivered },
      window: { bytes: topicStats.windowBytes, limit: config.topics.windowTotalBytes, evictions: topicStats.windowEvictions },
      store: { items: store.items, bytes: store.bytes, limit: store.maxBytes },
      groupCount: groupStats.length,
      groups: busiestGroups(groupStats, config.admin.topGroups).map((g) => ({
        cache: g.cache,
        group: g.group,
        pattern: g.pattern,
        members: g.memberLoad.map((m) => ({ name: broker.sessions.get(m.id)?.grant?.tokenId ?? m.id, inFlight: m.inFlight })),
        buffered: g.buffered,
        inFlight: g.inFlight,
        redelivered: g.counters.redelivered,
        accepted: g.counters.accepted,
        rejected: g.counters.rejected,
        timedOut: g.counters.timedOut,
        deadLettered: g.counters.deadLettered,
        refused: g.counters.refused,
      })),
      limitEvents: Object.fromEntries(broker.refusals.limitCauses),
      errors: broker.refusals.errors(),
      closes: Object.fromEntries(broker.refusals.closes),
      topTopics: moving.slice(0, config.admin.topTopics),
    };
    this.previous = { at, published: topicStats.published, delivered: topicStats.delivered, positions };
    this.latest = stats;
    clock.clearTimeout(this.forget);
    this.forget = clock.setTimeout(() => { this.previous = undefined; this.latest = undefined; }, RATE_BASIS_MS + 1);
    return stats;
  }
}
