/** The node's CPU per publish at the engine level, memory vs Redis engine (one Redis, and two as
 * shards: what routing by cache adds): `engine.topics.publish`
 * in bursts (as a loaded node gathers them), against a fresh redis-server, with one local
 * subscription so each item also comes back through the channel and into the window. No WebSocket,
 * no server: this prices the engine's publish path and its ioredis calls alone (the node's own CPU,
 * process.cpuUsage; redis-server's is not in it). Used for the choices in core/redis-connection.ts
 * (EVALSHA instead of defineCommand, auto-pipelining off) and engine/redis/publish-batches.ts.
 *
 *   node --import tsx bench/redis-publish-path.ts [--runs 3] [--count 40000] [--burst 8]
 *
 * Bounded: count publishes per run (after a warm-up of half as many); 127.0.0.1 only; redis-server
 * is stopped at the end. */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createEngine } from '../src/engine/select-engine.js';
import { resolveConfig } from '../src/core/config.js';
import { systemClock } from '../src/core/clock.js';
import { hasCommand } from './lib/proc.js';
import { startRedisServer } from './lib/redis-server.js';
import { median } from './lib/stats.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    count: { type: 'string', default: '40000' },
    burst: { type: 'string', default: '8' },
  },
});
const RUNS = Math.min(9, Math.max(1, Number(args.runs)));
const COUNT = Math.min(500_000, Math.max(1000, Number(args.count)));
const BURST = Math.min(64, Math.max(1, Number(args.burst)));

if (!hasCommand('redis-server')) throw new Error('redis-server is not installed (apt-get install redis-server)');
const redises = [await startRedisServer(), await startRedisServer()];

type Variant = 'memory' | 'redis' | 'redis, 2 shards';
const VARIANTS: Variant[] = ['memory', 'redis', 'redis, 2 shards'];

async function cpuPerPublish(variant: Variant, run: number): Promise<number> {
  const config = resolveConfig({
    dev: true, engine: variant === 'memory' ? 'memory' : 'redis',
    // The memory engine refuses Redis settings it would not use.
    ...(variant === 'memory' ? {} : { redis: { ...(variant === 'redis, 2 shards' ? { shards: redises.map((r) => r.url) } : { url: redises[0]!.url }), keyPrefix: `path${run}:` } }),
  });
  const engine = await createEngine(config, systemClock, pino({ level: 'silent' }) as never);
  let delivered = 0;
  await engine.start({ publish: () => { delivered++; }, sendTo: () => {} });
  await engine.topics.subscribe('c', 'room', { connectionId: 'bench', tokenId: undefined });
  const value = new Uint8Array(64);
  const publish = async (count: number) => {
    for (let i = 0; i < count; i += BURST) {
      const burst: unknown[] = [];
      for (let j = 0; j < BURST; j++) burst.push(engine.topics.publish('c', 'room', value, 'bench', undefined));
      await Promise.all(burst);
    }
  };
  await publish(COUNT / 2);
  const target = delivered + COUNT;
  const before = process.cpuUsage();
  await publish(COUNT);
  // Every item back through the channel (the Redis engine's fan-out happens on receipt).
  for (let i = 0; i < 1000 && delivered < target; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  const used = process.cpuUsage(before);
  await engine.close();
  if (delivered < target) throw new Error(`${variant}: ${target - delivered} items never came back`);
  return (used.user + used.system) / COUNT;
}

const results = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
try {
  for (let run = 1; run <= RUNS; run++) {
    for (const variant of VARIANTS) results.get(variant)!.push(await cpuPerPublish(variant, run));
  }
} finally {
  await Promise.all(redises.map((r) => r.stop()));
}
const line = (variant: Variant) => `| ${variant} | ${median(results.get(variant)!).toFixed(1)} | ${results.get(variant)!.map((x) => x.toFixed(1)).join(', ')} |`;
console.log([
  `Engine-level publish path, bursts of ${BURST}, ${COUNT} publishes per run, medians of ${RUNS} (Node ${process.version}).`,
  '',
  '| engine | node CPU µs per publish (receipt included) | runs |',
  '|---|---:|---|',
  ...VARIANTS.map(line),
].join('\n'));
process.exit(0);
