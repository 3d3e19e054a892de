/** Prometheus metrics at GET /metrics, one registry per server. Gauges are computed on scrape from
 * broker and engine state, so the hot path pays nothing for them. Counters kept elsewhere (engine,
 * broker, transport) are mirrored on scrape. */
import type { TemplatedApp } from 'uWebSockets.js';
import { Registry, Gauge, Counter, collectDefaultMetrics } from 'prom-client';
import type { Broker } from '../engine/broker.js';
import type { Engine } from '../engine/engine.js';
import type { TidingsConfig } from '../core/config.js';
import type { TokenAuthority } from '../auth/tokens.js';
import type { Logger } from '../core/logger.js';
import { errorReply, requireAdmin } from './http-routes.js';
import type { TransportCounters } from './transport-counters.js';
import type { BodyBudget } from './body-budget.js';
import type { GroupStats } from '../moderation/group-registry.js';
import { groupScrapeReader, GROUP_OUTCOMES } from './group-metrics.js';
import type { RequestHistogram } from './request-histogram.js';

/** What the metrics read, and who may scrape: server.metricsAccess `apiKey` needs an admin API key as bearer. */
export interface MetricsSources {
  broker: Broker; engine: Engine; transport: TransportCounters; config: Readonly<TidingsConfig>; auth: TokenAuthority; log: Logger; bodies: BodyBudget;
  /** Series of feature modules (ServerFeature.metrics). */
  extra?: Array<(registry: Registry) => void>;
  /** Request durations, unless server.requestHistogram is off. */
  requestTimes?: RequestHistogram;
}

/** A counter whose value is kept elsewhere and read on scrape. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({ name, help, registers: [registry], collect() { this.reset(); this.inc(read()); } });
}

/** A labelled counter read on scrape: every label set with its current total. */
function mirroredLabelledCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[], read: () => Array<[Record<L, string>, number]>): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() { this.reset(); for (const [labels, value] of read()) this.inc(labels, value); },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

export function createMetricsRegistry({ broker, engine, transport, config, bodies, extra = [], requestTimes }: MetricsSources): Registry {
  const registry = new Registry();
  for (const register of extra) register(registry);
  requestTimes?.register(registry);
  // prom-client's default metrics are already named process_* and nodejs_*: the prefix is ours only.
  collectDefaultMetrics({ register: registry, prefix: 'tidings_', eventLoopMonitoringPrecision: config.server.eventLoopMonitorMs });

  gauge(registry, 'tidings_connections', 'Open WebSocket connections', () => broker.sessions.size);
  gauge(registry, 'tidings_connections_limit', 'server.maxConnections', () => config.server.maxConnections);
  gauge(registry, 'tidings_subscriptions', 'Topic subscriptions across all connections', () => {
    let n = 0;
    for (const s of broker.sessions.values()) n += s.subscriptions.size;
    return n;
  });
  gauge(registry, 'tidings_topics', 'Live topics', () => engine.topics.stats().topics);
  gauge(registry, 'tidings_redis_channels', 'Engine redis: topic channels this node subscribes to in Redis, plus ones left while the link was down (unsubscribed once it is back)', () => engine.topics.stats().redisChannels ?? 0);
  gauge(registry, 'tidings_topics_limit', 'topics.maxTopics', () => config.topics.maxTopics);
  mirroredCounter(registry, 'tidings_topics_evicted_total', 'Topics without subscribers dropped, least recently used first, to make room for a new topic at topics.maxTopics', () => engine.topics.stats().topicsEvicted);
  gauge(registry, 'tidings_presence_pending_leaves', 'Presence members within their leave grace on this node (engine redis: the grace timers it holds); bounded by presence.maxPendingLeaves', () => engine.presence.pendingLeaves?.() ?? 0);
  mirroredCounter(registry, 'tidings_published_items_total', 'Items published since start', () => engine.topics.stats().published);
  mirroredCounter(registry, 'tidings_delivered_items_total', 'Item deliveries (items times subscribers) since start', () => engine.topics.stats().delivered);

  gauge(registry, 'tidings_window_bytes', 'Bytes held in resume windows', () => engine.topics.stats().windowBytes);
  gauge(registry, 'tidings_window_limit_bytes', 'topics.windowTotalBytes', () => config.topics.windowTotalBytes);
  mirroredLabelledCounter(registry, 'tidings_window_evictions_total', 'Items dropped from resume windows, by reason (per_topic: a topic\'s own bounds; total: the global budget; idle: a topic without subscribers dropped, idle or to make room)', ['reason'],
    () => {
      const e = engine.topics.stats().windowEvictions;
      return [[{ reason: 'per_topic' }, e.perTopic], [{ reason: 'total' }, e.total], [{ reason: 'idle' }, e.idle]];
    });

  gauge(registry, 'tidings_store_items', 'Items (lists and scalars) in the cache store', () => engine.cache.stats().items);
  gauge(registry, 'tidings_store_bytes', 'Bytes held by the cache store', () => engine.cache.stats().bytes);
  gauge(registry, 'tidings_store_limit_bytes', 'store.maxBytes', () => engine.cache.stats().maxBytes);

  if (engine.redisLinks) {
    const links = engine.redisLinks.bind(engine);
    new Gauge({
      name: 'tidings_redis_connected', help: '1 while the connection to this Redis shard is ready, else 0', labelNames: ['shard'], registers: [registry],
      collect() { this.reset(); for (const l of links()) this.set({ shard: String(l.shard) }, l.connected ? 1 : 0); },
    });
    new Gauge({
      name: 'tidings_redis_refused', help: '1 while this Redis shard refuses the node (reason: WRONGPASS, NOAUTH, NOPERM, DB); fix redis.url or the ACL', labelNames: ['shard', 'reason'], registers: [registry],
      collect() { this.reset(); for (const l of links()) if (l.refusal) this.set({ shard: String(l.shard), reason: l.refusal }, 1); },
    });
    mirroredLabelledCounter(registry, 'tidings_redis_reconnects_total', 'Times the connection to this Redis shard came back after it was lost', ['shard'],
      () => links().map((l): [Record<'shard', string>, number] => [{ shard: String(l.shard) }, l.reconnects]));
    new Gauge({
      name: 'tidings_redis_ping_seconds', help: 'Round trip of a PING sent to this Redis shard at scrape time; no sample while the link is down', labelNames: ['shard'], registers: [registry],
      async collect() {
        this.reset();
        const all = links();
        const times = await Promise.all(all.map((l) => l.pingSeconds()));
        all.forEach((l, i) => { if (times[i] !== undefined) this.set({ shard: String(l.shard) }, times[i]); });
      },
    });
  }

  // Per-group series for the busiest server.metricsMaxGroups groups only; totals over all of them.
  const groups = groupScrapeReader(() => engine.groups.stats(), config.server.metricsMaxGroups);
  gauge(registry, 'tidings_moderation_groups', 'Moderator groups', () => groups().count);
  gauge(registry, 'tidings_moderation_directory_copies', 'Copies of caches\' group directories this node holds (engine redis; at most moderation.maxGroups)', () => engine.groups.directoryCopies());
  gauge(registry, 'tidings_moderation_members', 'Members of all moderator groups', () => groups().totals.members);
  gauge(registry, 'tidings_moderation_buffered_items', 'Items all moderator groups hold not yet handed to a member', () => groups().totals.buffered);
  gauge(registry, 'tidings_moderation_in_flight_items', 'Items all moderator groups handed to members and not settled', () => groups().totals.inFlight);
  mirroredLabelledCounter(registry, 'tidings_moderation_items_total', 'Items through all moderator groups since start, by outcome', ['outcome'],
    () => GROUP_OUTCOMES.map((outcome): [Record<'outcome', string>, number] => [{ outcome }, groups().totals.counters[outcome]]));
  const groupGauge = (name: string, help: string, read: (g: GroupStats) => number) => new Gauge({
    name, help, labelNames: ['cache', 'group'], registers: [registry],
    collect() { this.reset(); for (const g of groups().busiest) this.set({ cache: g.cache, group: g.group }, read(g)); },
  });
  const busiest = `(the ${config.server.metricsMaxGroups} groups with the most buffered + in-flight items: server.metricsMaxGroups)`;
  groupGauge('tidings_moderation_group_members', `Members of a moderator group ${busiest}`, (g) => g.members);
  groupGauge('tidings_moderation_group_buffered_items', `Items a group holds not yet handed to a member ${busiest}`, (g) => g.buffered);
  groupGauge('tidings_moderation_group_in_flight_items', `Items handed to members and not settled ${busiest}`, (g) => g.inFlight);
  // A group back in the top N shows its own cumulative counts: its series never goes down.
  mirroredLabelledCounter(registry, 'tidings_moderation_group_items_total', `Items through a moderator group, by outcome ${busiest}`, ['cache', 'group', 'outcome'],
    () => groups().busiest.flatMap((g) => GROUP_OUTCOMES.map((outcome): [Record<'cache' | 'group' | 'outcome', string>, number] => [{ cache: g.cache, group: g.group, outcome }, g.counters[outcome]])));

  const { refusals } = broker;
  mirroredLabelledCounter(registry, 'tidings_request_errors_total', 'Requests answered with an error, by operation (pub, sub, listPushBack, ...; credential: an HTTP or gRPC call\'s credential; mint: a token mint over limits.tokenMints*) and code, on every transport (WebSocket, HTTP, SSE, gRPC)', ['op', 'code'],
    () => refusals.errors().map(({ op, code, count }): [Record<'op' | 'code', string>, number] => [{ op, code }, count]));
  mirroredLabelledCounter(registry, 'tidings_limit_exceeded_total', 'Requests refused with LIMIT_EXCEEDED_ERROR, by cause, on every transport', ['cause'],
    () => [...refusals.limitCauses].map(([cause, n]): [Record<'cause', string>, number] => [{ cause }, n]));
  mirroredLabelledCounter(registry, 'tidings_connections_closed_total', 'Connections (WebSocket, SSE, gRPC subscription) the server ended, by close code (slow_consumer, token_expired, revoked, ...); shutdown closes not counted', ['reason'],
    () => [...refusals.closes].map(([reason, n]): [Record<'reason', string>, number] => [{ reason }, n]));
  mirroredCounter(registry, 'tidings_connections_cut_off_total', 'Connections ended with 1006: dropped links, or a send buffer past server.sendBufferHardLimitBytes', () => transport.cutOff);
  gauge(registry, 'tidings_send_buffer_bytes', 'Bytes queued in connection send buffers, all connections', () => {
    let n = 0;
    for (const s of broker.sessions.values()) n += s.connection.bufferedAmount();
    return n;
  });
  gauge(registry, 'tidings_slow_consumers', 'Connections detached from live fan-out for slowness, catching up from the window', () => broker.slowConsumers.detached);
  mirroredCounter(registry, 'tidings_slow_consumer_detaches_total', 'Times a subscriber passed server.maxBackpressureBytes and was detached to catch up from the window', () => broker.slowConsumers.detaches);
  mirroredCounter(registry, 'tidings_connections_refused_total', 'WebSocket upgrades refused: 503 at server.maxConnections, 429 at a per-address cap (server.maxConnectionsPerIp, server.maxPendingHellosPerIp)', () => transport.refusedUpgrades);
  gauge(registry, 'tidings_http_body_bytes', 'HTTP request-body bytes reserved by requests in flight', () => bodies.inFlight);
  gauge(registry, 'tidings_http_body_limit_bytes', 'server.maxInFlightBodyBytes', () => bodies.maxBytes);
  mirroredCounter(registry, 'tidings_http_body_refused_total', 'HTTP requests refused with 503 at server.maxInFlightBodyBytes or server.maxInFlightBodyBytesPerIp', () => bodies.refused);
  return registry;
}

export function mountMetrics(app: TemplatedApp, sources: MetricsSources): void {
  const registry = createMetricsRegistry(sources);
  const access = { mode: sources.config.server.metricsAccess, auth: sources.auth, log: sources.log };
  app.get('/metrics', (res, req) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    const authorization = access.mode === 'apiKey' ? req.getHeader('authorization') : '';
    // A refused key rejects `allowed` (the executor's throw), answered by the error branch below.
    const allowed = new Promise<unknown>((resolve) => { resolve(access.mode === 'apiKey' ? requireAdmin(access.auth, authorization) : undefined); });
    void allowed.then(
      () => registry.metrics().then((text) => {
        if (!aborted) res.cork(() => { res.writeHeader('content-type', registry.contentType).end(text); });
      }),
      (err: unknown) => {
        const reply = errorReply(err, access.log);
        if (!aborted) res.cork(() => { res.writeStatus(reply.status).writeHeader('content-type', 'application/json').end(JSON.stringify(reply.body)); });
      },
    );
  });
}
