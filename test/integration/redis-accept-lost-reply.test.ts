/** A moderator's accept (publish, append and settle in one script) whose reply was lost with the
 * link: the item is published once, its delivery is settled (the node's hand-back after the error
 * finds nothing to hand back), a retried accept is refused rather than published again, and no
 * member gets the item again. The proxy keeps Redis's answers on the node's command connection. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { generateSigningKey } from '../../src/index.js';

t.test('an accept whose reply was lost: published once, settled, not handed out again', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('acceptcut');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { ackTimeoutMs: 60_000 } };
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { ...base, redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const mod = await RawModerator.join(a, { tokenId: 'first' });
  const alice = await participant(b, 'alice');
  const viewer = await participant(b, 'viewer');
  t.teardown(() => { mod.client.close(); alice.close(); viewer.close(); });
  await viewer.ok({ t: 'sub', cache: CACHE, topic: 'room1' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello' });
  await mod.received(1);
  const delivery = mod.deliveries[0]!['delivery'];

  proxy.hold(0);
  t.match(await mod.client.request({ t: 'accept', delivery }), { t: 'err', e: { code: /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/ } }, 'node a could not tell');
  proxy.release(0);

  t.match(await viewer.items(1), [{ value: 'hello', tokenId: 'alice' }], 'published');
  t.match(await mod.client.request({ t: 'accept', delivery }), { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } }, 'a retried accept is refused');
  // Another member, on another node, has room: nothing is handed to it.
  const other = await RawModerator.join(b, { tokenId: 'second' });
  t.teardown(() => other.client.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'next' });
  await Promise.race([mod.received(2), other.received(1)]);
  const handed = [...mod.deliveries.slice(1), ...other.deliveries].map((d) => d['value']);
  t.same(handed, ['next'], 'the next item is handed out, not the accepted one again');
  t.same(await viewer.drain('item', 100), [], 'published once');
});
