/** A running node whose Redis comes back without the node's database (restarted with fewer
 * `databases`) does not go on in database 0: it stays not connected, shows
 * tidings_redis_refused{reason="DB"} in /metrics, answers requests with SERVER_UNAVAILABLE and
 * writes nothing to database 0; once Redis has the database again the node is back in it. */
import t from 'tap';
import { Redis } from 'ioredis';
import { createServer, generateSigningKey, PermissionScopes, type TidingsServer } from '../../src/index.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { eventually, waitFor } from '../helpers/wait.js';

const DB = 3;

async function keysIn(url: string, db: number, prefix: string): Promise<number> {
  const r = new Redis(url, { db });
  try {
    const [, keys] = await r.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
    return keys.length;
  } finally {
    r.disconnect();
  }
}

t.test('Redis restarted without the node\'s database: refused, not run on database 0', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('dbgone');
  const server: TidingsServer = await createServer({
    config: {
      engine: 'redis', logLevel: 'silent', server: { port: 0, shutdownGraceMs: 200, metricsAccess: 'open' }, auth: { signingKeys: [generateSigningKey()] },
      redis: { url: `${redis.url}/${DB}`, keyPrefix: prefix, reconnectMinMs: 20, reconnectMaxMs: 100 },
    },
  });
  t.teardown(() => server.close());
  const scrape = async () => (await fetch(`${server.httpUrl}/metrics`)).text();
  const client = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'u' }));
  t.teardown(() => client.close());
  await client.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'first' });
  t.ok(await keysIn(redis.url, DB, prefix) > 0, `the node writes to database ${DB}`);

  await redis.stop();
  await redis.start(['--databases', '1']);
  await waitFor('metric shows the refusal', async () => /tidings_redis_refused\{shard="0",reason="DB"\} 1/.test(await scrape()), 10_000);
  t.match(await scrape(), /tidings_redis_connected\{shard="0"\} 0/, 'not connected meanwhile');
  // Several reconnect attempts (every ≤ 100 ms) meanwhile; none may have gone on in database 0.
  const reply = await client.request({ t: 'pub', cache: 'chat', topic: 'room', value: 'second' });
  t.equal(reply['t'], 'err', 'a publish is refused');
  t.equal((reply['e'] as { code?: string } | undefined)?.code, 'SERVER_UNAVAILABLE', 'as SERVER_UNAVAILABLE (retryable)');
  t.equal(await keysIn(redis.url, 0, prefix), 0, 'nothing of the node in database 0');
  t.match(await scrape(), /tidings_redis_refused\{shard="0",reason="DB"\} 1/, 'still refused after several attempts');

  await redis.stop();
  await redis.start();
  t.ok(await eventually(async () => /tidings_redis_connected\{shard="0"\} 1/.test(await scrape()), 10_000), 'connected again once the database exists');
  t.notMatch(await scrape(), /tidings_redis_refused\{/, 'no refusal shown any more');
  t.ok(await eventually(async () => (await client.request({ t: 'pub', cache: 'chat', topic: 'room', value: 'third' }))['t'] === 'ok'), 'publishes again');
  t.ok(await keysIn(redis.url, DB, prefix) > 0, `in database ${DB}`);
  t.equal(await keysIn(redis.url, 0, prefix), 0, 'and still nothing in database 0');
});
