/** Tidings with the memory engine and default features, quiet logs, the bench's signing key.
 * BENCH_STORE_JSON, when set, overrides `store` keys (the soak uses it to attribute memory drift);
 * BENCH_SERVER_JSON overrides `server` keys (e.g. '{"batchDelayMs":1}' to price a batching knob).
 * BENCH_REDIS_URL (and BENCH_REDIS_PREFIX) switch to the Redis engine: one node of a deployment. */
import { createServer, defaultFeatures } from '../../../src/index.js';
import { announce, portArg } from './lifecycle.js';

const signingKey = process.env['BENCH_SIGNING_KEY'];
if (!signingKey) throw new Error('BENCH_SIGNING_KEY is required');
// Every load-generator connection comes from 127.0.0.1 with one tokenId, and one publisher sends
// as fast as it can: the per-IP, per-tokenId and rate limits (which protect a real deployment) are
// lifted so the bench measures the broker, not its admission policy.
const unlimited = 10_000_000;
const server = await createServer(
  { config: {
    logLevel: 'warn',
    server: {
      host: '127.0.0.1', port: portArg(), maxPendingHellos: unlimited, maxPendingHellosPerIp: unlimited, maxConnectionsPerIp: unlimited,
      ...(process.env['BENCH_SERVER_JSON'] ? JSON.parse(process.env['BENCH_SERVER_JSON']) as Record<string, number> : {}),
    },
    limits: { maxConnectionsPerTokenId: unlimited, connectionOpsPerSec: unlimited, connectionOpsBurst: unlimited, tokenIdOpsPerSec: unlimited, tokenIdOpsBurst: unlimited },
    auth: { signingKeys: [signingKey] },
    ...(process.env['BENCH_REDIS_URL'] ? { engine: 'redis' as const, redis: { url: process.env['BENCH_REDIS_URL'], keyPrefix: process.env['BENCH_REDIS_PREFIX'] ?? 'bench:' } } : {}),
    ...(process.env['BENCH_STORE_JSON'] ? { store: JSON.parse(process.env['BENCH_STORE_JSON']) as Record<string, number> } : {}),
  } },
  defaultFeatures(),
);
announce(server.port, () => server.close());
