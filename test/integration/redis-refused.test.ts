/** A Redis that refuses the node (wrong password, a password it requires but was not given, a
 * database that does not exist, an ACL user lacking EVALSHA or PUBLISH) fails the start at once
 * with a typed REDIS_REFUSED error naming Redis's reason, never the credentials, rather than after
 * redis.connectTimeoutMs. A running node that Redis starts refusing (password rotated) logs it once
 * as an error, shows it in /metrics (tidings_redis_refused, tidings_redis_connected) and /readyz, and recovers
 * by itself once Redis accepts it again; a command refused at runtime (NOPERM: the ACL user changed
 * under a live connection) is answered SERVER_UNAVAILABLE and shown the same way until the ACL
 * allows the node again. */
import t from 'tap';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createServer, generateSigningKey, PermissionScopes, type TidingsServer } from '../../src/index.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { createLogger } from '../../src/core/logger.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'right-password-4d1e';

function start(url: string, extra: { logger?: ReturnType<typeof createLogger>; redis?: Record<string, unknown> } = {}): Promise<TidingsServer> {
  return createServer({
    config: {
      engine: 'redis', logLevel: 'silent', server: { port: 0, shutdownGraceMs: 200, metricsAccess: 'open' }, auth: { signingKeys: [generateSigningKey()] },
      // Far longer than the test waits: a refusal that waited it out would fail the test by its timeout.
      redis: { url, keyPrefix: uniquePrefix('refused'), connectTimeoutMs: 5000, ...extra.redis },
    },
    ...(extra.logger ? { logger: extra.logger } : {}),
  });
}

t.test('a start Redis refuses fails at once with REDIS_REFUSED and Redis\'s reason', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { requirePass: PASSWORD });
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  await admin.call('ACL', 'SETUSER', 'noeval', 'on', '>noeval-pw-1', '~*', '&*', '+@all', '-evalsha');
  await admin.call('ACL', 'SETUSER', 'nopublish', 'on', '>nopublish-pw-2', '~*', '&*', '+@all', '-publish');
  const base = `127.0.0.1:${redis.port}`;
  const cases: Array<{ name: string; url: string; reason: string; secret?: string }> = [
    { name: 'wrong password', url: `redis://:wrong-pw-8c2b@${base}`, reason: 'WRONGPASS', secret: 'wrong-pw-8c2b' },
    { name: 'no password', url: `redis://${base}`, reason: 'NOAUTH' },
    { name: 'no such database', url: `redis://:${PASSWORD}@${base}/99`, reason: 'DB', secret: PASSWORD },
    { name: 'ACL user without EVALSHA', url: `redis://noeval:noeval-pw-1@${base}`, reason: 'NOPERM', secret: 'noeval-pw-1' },
    { name: 'ACL user without PUBLISH', url: `redis://nopublish:nopublish-pw-2@${base}`, reason: 'NOPERM', secret: 'nopublish-pw-2' },
  ];
  for (const c of cases) {
    const err = await start(c.url).then((s) => s.close().then(() => undefined), (e: unknown) => e as Error & { code?: string; reason?: string });
    t.ok(err, `${c.name}: the start failed`);
    t.equal(err?.code, 'REDIS_REFUSED', `${c.name}: typed REDIS_REFUSED, not "did not answer" after the timeout (${err?.message})`);
    t.equal(err?.reason, c.reason, `${c.name}: reason ${c.reason}`);
    t.equal(err?.message.split('\n').length, 1, `${c.name}: one line`);
    t.match(err?.message, `Redis at ${base}`, `${c.name}: it names where`);
    if (c.secret) t.notOk(err?.message.includes(c.secret), `${c.name}: the password is not in the message`);
  }
  const ok = await start(`redis://:${PASSWORD}@${base}`);
  await ok.close();
  t.pass('the right password starts');
});

t.test('a running node that Redis starts refusing says so once, in the log and /metrics, and recovers', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { requirePass: PASSWORD });
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const server = await start(redis.url, { logger: createLogger({ level: 'info', destination: sink }), redis: { reconnectMinMs: 20, reconnectMaxMs: 100 } });
  t.teardown(() => server.close());
  const scrape = async () => (await fetch(`${server.httpUrl}/metrics`)).text();
  t.match(await scrape(), /tidings_redis_connected\{shard="0"\} 1/, 'connected');

  // The password rotated under the node: its connections are dropped and it reconnects with the old one.
  await admin.config('SET', 'requirepass', 'rotated-pw-55');
  await admin.call('AUTH', 'rotated-pw-55');
  await admin.client('KILL', 'SKIPME', 'yes');
  const refusals = () => lines.filter((l) => /refused this node/.test(String(l['msg'])));
  await waitFor('the refusal was logged', () => refusals().length > 0, 5000);
  await waitFor('metric shows the refusal', async () => /tidings_redis_refused\{shard="0",reason="WRONGPASS"\} 1/.test(await scrape()), 5000);
  t.match(await scrape(), /tidings_redis_connected\{shard="0"\} 0/, 'not connected meanwhile');
  const ready = await fetch(`${server.httpUrl}/readyz`);
  t.equal(ready.status, 503);
  t.same(await ready.json(), { status: 'not_ready', reasons: ['redis shard 0 refuses this node (WRONGPASS)'] }, '/readyz names the refusal, not a lost link');
  // Several reconnect attempts (every ≤ 100 ms) are refused meanwhile: the error is logged once per cause, not per attempt.
  const before = Number((await admin.info('stats')).match(/total_connections_received:(\d+)/)![1]);
  await waitFor('the node kept retrying', async () => Number((await admin.info('stats')).match(/total_connections_received:(\d+)/)![1]) >= before + 5, 10_000);
  t.equal(refusals().length, 1, 'one error line for the refusal');
  t.equal(refusals()[0]!['level'], 50, 'at error level');
  t.equal(refusals()[0]!['reason'], 'WRONGPASS');
  t.match(refusals()[0], { msg: /^redis refused this node \(check redis\.url/, redis: `127.0.0.1:${redis.port}`, detail: /^WRONGPASS/, next: 'reconnecting' }, 'a fixed msg; what varies is in fields');
  t.notOk(JSON.stringify(lines).includes(PASSWORD), 'no password in the log');

  await admin.config('SET', 'requirepass', PASSWORD);
  await waitFor('reconnected once the password is right again', async () => /tidings_redis_connected\{shard="0"\} 1/.test(await scrape()), 10_000);
  t.notMatch(await scrape(), /tidings_redis_refused\{/, 'no refusal shown any more');
});

t.test('a command refused at runtime (the ACL user lost a command) is shown as a refusal until the ACL allows it again', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { requirePass: PASSWORD });
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  await admin.call('ACL', 'SETUSER', 'node', 'on', '>node-pw-71', '~*', '&*', '+@all');
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const server = await start(`redis://node:node-pw-71@127.0.0.1:${redis.port}`,
    { logger: createLogger({ level: 'info', destination: sink }), redis: { reconnectMinMs: 20, reconnectMaxMs: 100 } });
  t.teardown(() => server.close());
  const scrape = async () => (await fetch(`${server.httpUrl}/metrics`)).text();
  const client = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'u' }));
  t.teardown(() => client.close());
  await client.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'before' });

  // The connection stays up: Redis applies the ACL change to it at once, and nothing reconnects.
  await admin.call('ACL', 'SETUSER', 'node', '-evalsha', '-eval');
  t.match(await client.request({ t: 'pub', cache: 'chat', topic: 'room', value: 'denied' }), { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, 'a publish gets a typed SERVER_UNAVAILABLE');
  await waitFor('metric shows the refusal', async () => /tidings_redis_refused\{shard="0",reason="NOPERM"\} 1/.test(await scrape()), 5000);
  t.match(await scrape(), /tidings_redis_connected\{shard="0"\} 1/, 'the connection itself is up');
  const refusals = () => lines.filter((l) => /refused this node/.test(String(l['msg'])));
  await client.request({ t: 'pub', cache: 'chat', topic: 'room', value: 'denied again' });
  t.equal(refusals().length, 1, 'logged once, not per command');
  t.equal(refusals()[0]!['reason'], 'NOPERM', 'with its reason');

  await admin.call('ACL', 'SETUSER', 'node', '+@all');
  await waitFor('the refusal is cleared once the ACL allows the node again', async () => !/tidings_redis_refused\{/.test(await scrape()), 5000);
  await client.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'after' });
  t.pass('publishes again');
});

t.test('a write Redis refuses for want of replicas (min-replicas-to-write) is SERVER_UNAVAILABLE, retryable, not an internal error', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); done(); } });
  const server = await start(redis.url, { logger: createLogger({ level: 'info', destination: sink }) });
  t.teardown(() => server.close());
  const client = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'u' }));
  t.teardown(() => client.close());

  // A deployment whose replica lags (or is gone) past min-replicas-max-lag: Redis refuses writes.
  await admin.config('SET', 'min-replicas-to-write', '1');
  t.match(await client.request({ t: 'pub', cache: 'chat', topic: 'room', value: 'x' }), { t: 'err', e: { code: 'SERVER_UNAVAILABLE', message: /NOREPLICAS/ } }, 'a publish is refused, saying why');
  t.notOk(lines.some((l) => l['level'] === 50), 'nothing logged as an unexpected error');
  await admin.config('SET', 'min-replicas-to-write', '0');
  await client.ok({ t: 'pub', cache: 'chat', topic: 'room', value: 'y' });
  t.pass('writes again once Redis accepts them');
});
