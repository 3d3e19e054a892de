/** Prometheus metrics at GET /metrics, one registry per server. Gauges are computed on scrape from
 * broker and engine state, so the hot path pays nothing for them. */
import type { TemplatedApp } from 'uWebSockets.js';
import { Registry, Gauge, Counter, collectDefaultMetrics } from 'prom-client';
import type { Broker } from '../engine/broker.js';
import type { Engine } from '../engine/engine.js';
import type { TokenAuthority } from '../auth/tokens.js';
import type { Logger } from '../core/logger.js';
import { errorReply, requireAdmin } from './http-routes.js';

/** Who may scrape: `apiKey` needs an admin API key as bearer (server.metricsAccess). */
export interface MetricsAccess { mode: 'apiKey' | 'open'; auth: TokenAuthority; log: Logger }

export function mountMetrics(app: TemplatedApp, broker: Broker, engine: Engine, access: MetricsAccess): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tidings_process_' });
  new Gauge({ name: 'tidings_connections', help: 'Open WebSocket connections', registers: [registry], collect() { this.set(broker.sessions.size); } });
  new Gauge({
    name: 'tidings_subscriptions', help: 'Topic subscriptions across all connections', registers: [registry],
    collect() { let n = 0; for (const s of broker.sessions.values()) n += s.subscriptions.size; this.set(n); },
  });
  new Gauge({ name: 'tidings_topics', help: 'Live topics', registers: [registry], collect() { this.set(engine.topics.stats().topics); } });
  new Gauge({ name: 'tidings_window_bytes', help: 'Bytes held in recent-items windows', registers: [registry], collect() { this.set(engine.topics.stats().windowBytes); } });
  let lastPublished = 0;
  new Counter({
    name: 'tidings_published_items_total', help: 'Items published since start', registers: [registry],
    collect() { const now = engine.topics.stats().published; this.inc(now - lastPublished); lastPublished = now; },
  });

  app.get('/metrics', (res, req) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    const authorization = access.mode === 'apiKey' ? req.getHeader('authorization') : '';
    const allowed = access.mode === 'apiKey' ? requireAdmin(access.auth, authorization) : Promise.resolve();
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
