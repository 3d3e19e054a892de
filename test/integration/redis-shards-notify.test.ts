/** With several Redis shards (redis.shards; docs/operations.md "Several Redis servers"), the
 * follows live on the first shard. With the first shard down and the second up, a publish to a
 * cache on the second shard still notifies (item.undelivered) the users who followed before, from
 * each node's copy; a new follow answers SERVER_UNAVAILABLE (retryable), never an acknowledgement;
 * once the first shard is back, follows are taken again. Real redis-servers, real nodes. */
import t from 'tap';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { shardOf } from '../../src/engine/shards/rendezvous.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';

const CACHE = 'chat';

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('with the first shard down, follows made before still notify; new ones are refused as retryable', async (t) => {
  if (!requireRedis(t)) return;
  t.equal(shardOf(CACHE, 2), 1, `${CACHE} lives on the second shard`);
  const [first, second] = [await startRedis(t, { aof: true }), await startRedis(t)];
  const hooks = await HttpReceiver.start(t);
  const config = {
    auth: { signingKeys: [generateSigningKey()] },
    presence: { leaveGraceMs: 0 },
    redis: { shards: [first.url, second.url], reconnectMinMs: 20, reconnectMaxMs: 100, queueTimeoutMs: 300 },
    webhooks: { endpoints: [{ name: 'backend', url: hooks.url, secret: 'a-secret-of-enough-length', cache: CACHE, topicPrefix: '', events: ['item.undelivered' as const] }] },
  };
  const redisKeyPrefix = uniquePrefix('shardsnotify');
  const [a, b] = [await startServer(t, { engine: 'redis', redisUrl: first.url, redisKeyPrefix, config }), await startServer(t, { engine: 'redis', redisUrl: first.url, redisKeyPrefix, config })];
  const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');
  const gina = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'gina' }));
  t.teardown(() => gina.close());
  await gina.ok({ t: 'follow', cache: CACHE, topic: 'room' });
  await gina.close();
  const hank = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 'hank' }));
  t.teardown(() => hank.close());
  const undelivered = () => hooks.events().filter((e) => e['type'] === 'item.undelivered' && e['tokenId'] === 'gina');
  await until('b has gina\'s follow', async () => {
    await hank.request({ t: 'pub', cache: CACHE, topic: 'room', value: 'before' });
    await new Promise((r) => setTimeout(r, 50));
    return undelivered().length > 0;
  });

  await first.stop();
  t.teardown(() => first.start());
  const seen = undelivered().length;
  await hank.ok({ t: 'pub', cache: CACHE, topic: 'room', value: 'first shard down' });
  await until('gina is notified with the first shard down', () => undelivered().length > seen);
  t.equal(undelivered().at(-1)!['item']['value'], 'first shard down', 'the publish on the second shard notifies from the copy');
  const ivan = await RawClient.open(b, await tokenFor(b, scope, { tokenId: 'ivan' }));
  t.teardown(() => ivan.close());
  const refused = await ivan.request({ t: 'follow', cache: CACHE, topic: 'room' });
  t.equal((refused['e'] as { code: string } | undefined)?.code, 'SERVER_UNAVAILABLE', 'a new follow is refused as retryable');

  await first.start();
  await until('a follow is taken again', async () => (await ivan.request({ t: 'follow', cache: CACHE, topic: 'room' }))['t'] === 'ok');
  t.pass('the first shard back: follows are taken');
});
