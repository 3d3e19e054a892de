/** Engine redis: when a follower's presence lookup fails (Redis answers an error), that follower's
 * notification for the item is dropped, counted in tidings_notify_presence_failures_total and
 * logged once per notify.failureLogIntervalMs, not once per item (docs/push.md). Real redis-server;
 * the failure is a real one: the topic's presence hash is replaced by a string (WRONGTYPE). */
import t from 'tap';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createServer, defaultFeatures, generateSigningKey, PermissionScopes } from '../../src/index.js';
import { createLogger } from '../../src/core/logger.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';

const CACHE = 'chat';
const TOPIC = 'room';

t.test('a failed presence lookup drops the follower\'s notification, counted and logged once per interval', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('presence-failure');
  t.teardown(() => deletePrefix(url, prefix));
  let written = '';
  const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
  const hooks = await HttpReceiver.start(t);
  const server = await createServer({
    config: {
      engine: 'redis', redis: { url, keyPrefix: prefix },
      server: { port: 0, shutdownGraceMs: 200, metricsAccess: 'open' },
      auth: { signingKeys: [generateSigningKey()] },
      presence: { leaveGraceMs: 0 },
      webhooks: { allowPrivateUrls: true, endpoints: [{ name: 'backend', url: hooks.url, secret: 'a-secret-of-enough-length', cache: CACHE, topicPrefix: '', events: ['item.undelivered'] }] },
    },
    logger: createLogger({ level: 'warn', destination: sink }),
  }, defaultFeatures());
  t.teardown(() => server.close());
  const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');
  const bob = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'bob' }));
  await bob.ok({ t: 'follow', cache: CACHE, topic: TOPIC });
  bob.close();
  const alice = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'alice' }));
  t.teardown(() => alice.close());
  const publish = (value: string) => alice.ok({ t: 'pub', cache: CACHE, topic: TOPIC, value });
  const failures = async () => {
    const line = (await (await fetch(`${server.httpUrl}/metrics`)).text()).split('\n').find((l) => l.startsWith('tidings_notify_presence_failures_total '));
    return Number(line?.split(' ')[1]);
  };

  await publish('1');
  await hooks.untilEvents(1);
  t.equal(await failures(), 0, 'a lookup that works fails nothing');

  const redis = new Redis(url);
  t.teardown(() => redis.quit());
  const members = `${prefix}p:${CACHE}\u0000${TOPIC}`;
  await redis.set(members, 'not a hash');
  for (const value of ['2', '3', '4']) await publish(value);
  for (let i = 0; i < 100 && await failures() < 3; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(await failures(), 3, 'each dropped notification counted');
  const warnings = written.split('\n').filter((l) => l.includes('presence lookup failed'));
  t.equal(warnings.length, 1, 'logged once within notify.failureLogIntervalMs, not per item');
  t.match(warnings[0], /WRONGTYPE/);

  await redis.del(members);
  await publish('5');
  const events = await hooks.untilEvents(2);
  t.same(events.map((e) => e['item']?.['value']), ['1', '5'], 'items 2-4 were not notified; once the lookup works again item 5 is');
});
