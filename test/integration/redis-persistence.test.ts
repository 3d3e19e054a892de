/** Several nodes on one Redis share lists and scalars, and with AOF on (docs/operations.md) they
 * are all there after every node and Redis itself restart. Real servers, real redis-server. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

async function client(t: Test, server: TidingsServer): Promise<RawClient> {
  const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheReadWrite('app')));
  t.teardown(() => c.close());
  return c;
}

t.test('two nodes share cache data; after every node and Redis restart (AOF) it is all there', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t, { aof: true });
  const keyPrefix = uniquePrefix('persist');
  const node = (tt: Test) => startServer(tt, { engine: 'redis', redisUrl: redis.url, redisKeyPrefix: keyPrefix });

  const expected = { hit: true, values: ['a', new Uint8Array([0, 1, 255]), 'ünïcödé', 'from b'] };
  await t.test('first run: two nodes write', async (t) => {
    const [a, b] = [await client(t, await node(t)), await client(t, await node(t))];
    await a.ok({ t: 'listConcatenateBack', cache: 'app', list: 'l', values: ['a', new Uint8Array([0, 1, 255]), 'ünïcödé'], ttlMs: 600_000 });
    t.same(await b.ok({ t: 'listPushBack', cache: 'app', list: 'l', value: 'from b', refreshTtl: false }), { length: 4 }, 'node b appends to the list node a wrote');
    await b.ok({ t: 'set', cache: 'app', key: 's', value: 'scalar', ttlMs: 600_000 });
    await b.ok({ t: 'set', cache: 'app', key: 'bin', value: new Uint8Array([7]), ttlMs: 600_000 });
    await a.ok({ t: 'set', cache: 'app', key: 'short', value: 'gone soon', ttlMs: 1 });
    t.same(await a.ok({ t: 'get', cache: 'app', key: 's' }), { hit: true, value: 'scalar' }, 'node a reads what node b set');
    t.same(await a.ok({ t: 'listFetch', cache: 'app', list: 'l' }), expected);
  }); // both nodes close here

  await redis.stop();
  await redis.start();

  await t.test('second run: new nodes, restarted Redis', async (t) => {
    const c = await client(t, await node(t));
    t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'l' }), expected, 'the list, in order, kinds kept');
    t.same(await c.ok({ t: 'get', cache: 'app', key: 's' }), { hit: true, value: 'scalar' });
    t.same(await c.ok({ t: 'get', cache: 'app', key: 'bin' }), { hit: true, value: new Uint8Array([7]) });
    t.same(await c.ok({ t: 'get', cache: 'app', key: 'short' }), { hit: false }, 'what expired stays expired');
    const ttl = (await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'l' }))['remainingTtlMs'];
    t.ok(ttl > 500_000 && ttl <= 600_000, `TTLs survive too (${ttl} ms left of 600000)`);
    t.same(await c.ok({ t: 'listPushBack', cache: 'app', list: 'l', value: 'more', truncateFrontToSize: 4 }), { length: 4 }, 'and the limits bookkeeping with them');
  });
});
