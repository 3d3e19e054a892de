/** GET/HEAD /readyz: whether this node can serve now, for a load balancer or an orchestrator's
 * readiness probe. /healthz says the process runs; this says more: with engine redis, a node whose
 * link to a Redis is down answers most requests SERVER_UNAVAILABLE, so traffic should go elsewhere
 * until it is back. 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","reasons":[...]}`. */
import type { TemplatedApp } from 'uWebSockets.js';
import type { Engine } from '../engine/engine.js';
import { endHead, getAndHead } from './static-files.js';

function notReadyReasons(engine: Engine): string[] {
  return (engine.redisLinks?.() ?? []).filter((l) => !l.connected)
    .map((l) => `redis shard ${l.shard} ${l.refusal ? `refuses this node (${l.refusal})` : 'is not connected'}`);
}

export function mountReadiness(app: TemplatedApp, engine: Engine): void {
  getAndHead(app, '/readyz', (res, _req, head) => {
    const reasons = notReadyReasons(engine);
    const body = JSON.stringify(reasons.length === 0 ? { status: 'ready' } : { status: 'not_ready', reasons });
    res.writeStatus(reasons.length === 0 ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json');
    if (head) endHead(res, body.length);
    else res.end(body);
  });
}
