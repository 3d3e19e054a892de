/** GET/HEAD /readyz: whether this node can serve now, for a load balancer or an orchestrator's
 * readiness probe. /healthz says the process runs; this says more: with engine redis, a node whose
 * link to Redis is down answers most requests SERVER_UNAVAILABLE, so traffic should go elsewhere
 * until it is back. 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","reasons":[...]}`.
 *
 * With shards, a node that reaches some of them is `degraded` (200, the reasons listed): a shard
 * down is usually down for every node, and a probe that failed them all would take the healthy
 * shards' caches out with it. `?strict` answers 503 for any shard down instead (for deployments
 * where a node cut off alone from one shard is the likelier fault). */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Engine } from '../engine/engine.js';
import { endHead, getAndHead } from './static-files.js';

type Readiness = { status: 'ready' } | { status: 'degraded' | 'not_ready'; reasons: string[] };

function readiness(engine: Engine, strict: boolean): Readiness {
  const links = engine.redisLinks?.() ?? [];
  const down = links.filter((l) => !l.connected);
  if (down.length === 0) return { status: 'ready' };
  const reasons = down.map((l) => `redis shard ${l.shard} ${l.refusal ? `refuses this node (${l.refusal})` : 'is not connected'}`);
  return { status: strict || down.length === links.length ? 'not_ready' : 'degraded', reasons };
}

export function mountReadiness(app: TemplatedApp, engine: Engine): void {
  getAndHead(app, '/readyz', (res, req, head) => {
    const state = readiness(engine, new URLSearchParams(req.getQuery() ?? '').has('strict'));
    const body = JSON.stringify(state);
    res.writeStatus(state.status === 'not_ready' ? '503 Service Unavailable' : '200 OK').writeHeader('content-type', 'application/json');
    if (head) endHead(res, body.length);
    else res.end(body);
  });
}
