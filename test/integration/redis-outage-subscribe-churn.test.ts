/** While the link to Redis is down, subscribes to ever new topic names are refused and leave
 * nothing behind: the Redis channels a node holds or still has to unsubscribe
 * (tidings_redis_channels) stay those it held when the link dropped, however many names clients
 * try meanwhile, nor does the connection; when Redis is back the node is subscribed to exactly the
 * topics it serves, and a topic refused meanwhile can be subscribed. */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

const NAMES = 2000;

async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

t.test('subscribes to new topic names during a Redis outage add no channel state', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t);
  const prefix = uniquePrefix('churn-outage');
  const server = await startServer(t, {
    engine: 'redis', redisUrl: redis.url, redisKeyPrefix: prefix,
    config: { redis: { reconnectMinMs: 50, reconnectMaxMs: 200 }, server: { metricsAccess: 'open' } },
  });
  const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 's' }));
  t.teardown(() => c.close());
  await c.ok({ t: 'sub', cache: 'chat', topic: 'kept' });
  t.equal(await metric(server.httpUrl, 'tidings_redis_channels'), 1, 'one channel: the topic subscribed');

  await redis.kill();
  let refused = 0;
  let firstRefused: string | undefined;
  for (let i = 0; i < NAMES; i++) {
    const reply = await c.request({ t: 'sub', cache: 'chat', topic: `churn-${i}` });
    if (reply['t'] === 'err') { refused++; firstRefused ??= `churn-${i}`; }
    else await c.ok({ t: 'unsub', cache: 'chat', topic: `churn-${i}` });
  }
  t.ok(refused > NAMES / 2, `subscribes refused while Redis was away: ${refused} of ${NAMES}`);
  const during = await metric(server.httpUrl, 'tidings_redis_channels');
  t.ok(during <= 2, `channels held or to unsubscribe during the outage: ${during}`);
  const session = [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 's')!;
  t.equal(session.subscriptions.size, 1, 'nor does the connection hold anything for them: only the topic subscribed');

  await redis.start();
  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const kept = `${prefix}t:chat\u0000kept`;
  for (let i = 0; i < 200 && Number((await admin.pubsub('NUMSUB', kept))[1]) === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(Number((await admin.pubsub('NUMSUB', kept))[1]), 1, 'the topic still served is subscribed again');
  let after = NaN;
  for (let i = 0; i < 200 && !((after = await metric(server.httpUrl, 'tidings_redis_channels')) === 1); i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(after, 1, 'and it is the only channel the node holds');
  const again = await c.request({ t: 'sub', cache: 'chat', topic: firstRefused! });
  t.equal(again['t'], 'ok', `a topic refused during the outage is subscribed once Redis is back (${JSON.stringify(again['e'])})`);
});
