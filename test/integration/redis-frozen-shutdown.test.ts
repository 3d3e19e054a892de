/** Stopping a Redis-engine server is bounded even when Redis is frozen (SIGSTOP: connections open,
 * nothing answered): the goodbye steps (moderation hand-back, presence hand-over, QUIT) run at once
 * and get min(redis.commandTimeoutMs, server.shutdownGraceMs) together, then the connections are
 * dropped; with a Redis that answers, the goodbye still hands a held moderation claim to another
 * node at once (not after moderation.nodeTimeoutMs). */
import t from 'tap';
import { Writable } from 'node:stream';
import { createServer, defaultFeatures, generateSigningKey } from '../../src/index.js';
import { createLogger } from '../../src/core/logger.js';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawModerator, participant } from '../helpers/moderator.js';

const COMMAND_TIMEOUT_MS = 3000;
const GRACE_MS = 300;

t.test('Redis frozen: server.close() ends when the shutdown grace runs out, not after the goodbye commands time out', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const server = await createServer({
    config: {
      engine: 'redis', server: { port: 0, shutdownGraceMs: GRACE_MS }, auth: { signingKeys: [generateSigningKey()] },
      redis: { url: redis.url, keyPrefix: uniquePrefix('frozen'), commandTimeoutMs: COMMAND_TIMEOUT_MS },
    },
    logger: createLogger({ level: 'warn', destination: sink }),
  }, defaultFeatures());
  let closed = false;
  t.teardown(async () => { redis.resume(); if (!closed) await server.close(); });
  // A moderator holding nothing and a present participant: every goodbye step has Redis work to do.
  const mod = await RawModerator.join(server);
  const alice = await participant(server, 'alice');
  await alice.ok({ t: 'sub', cache: 'chat', topic: 'room1' });
  t.teardown(() => { mod.client.close(); alice.close(); });

  redis.pause();
  await server.close();
  closed = true;
  // The budget ended the goodbye, not a command timeout: before the bound the steps ran one after
  // another and each waited out COMMAND_TIMEOUT_MS (about 4 × 3 s in all), and nothing said so.
  const cut = lines.find((l) => /redis goodbye cut short/.test(String(l['msg'])));
  t.ok(cut, `the log says the goodbye was cut short: ${JSON.stringify(lines.map((l) => l['msg']))}`);
  t.equal(cut?.['goodbyeMs'], GRACE_MS, 'its budget was min(redis.commandTimeoutMs, server.shutdownGraceMs)');
  t.ok((cut?.['unfinished'] as string[]).includes('presence'), 'the presence hand-over was one of them (Redis never answered it)');
});

t.test('Redis answering: closing a node hands its moderator\'s held item to a member on another node at once', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('goodbye');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  // nodeTimeoutMs far above the wait below: only the hand-back in close() can move the item.
  const config = {
    auth: { signingKeys: [signingKey] }, server: { shutdownGraceMs: GRACE_MS },
    redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 },
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const holder = await RawModerator.join(a, { tokenId: 'holder' }); // never answers
  t.teardown(() => holder.client.close());
  const alice = await participant(b, 'alice');
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: 'chat', topic: 'room1-input', value: 'held' });
  await holder.received(1);
  const other = await RawModerator.join(b, { tokenId: 'other' });
  t.teardown(() => other.client.close());
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.equal(other.deliveries.length, 0, 'node A\'s member still holds the item');

  await a.close();
  await other.received(1, 10_000);
  t.match(other.deliveries[0], { value: 'held', attempt: 2 }, 'the held item went to the member on node B');
});
