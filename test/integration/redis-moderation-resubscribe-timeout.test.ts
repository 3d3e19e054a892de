/** A node's re-sent SUBSCRIBE of its moderator groups' channels (after its subscriber link dropped)
 * answered later than redis.commandTimeoutMs, on a link that stays up: the items queued while the
 * link was down must still reach the node's members at once, not after the next tick
 * (moderation.nodeTimeoutMs / 4). Before, the failed re-subscription waited for the next reconnect,
 * which such a link never brings, and the claim that follows it never ran. The proxy holds the
 * SUBSCRIBE, so the late answer is made, not hoped for. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { resetHoldingSubscribe, startTcpProxy } from '../helpers/tcp-proxy.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { generateSigningKey } from '../../src/index.js';

const COMMAND_TIMEOUT_MS = 300;

t.test('a re-sent group SUBSCRIBE answered after the command timeout: the queued item is delivered without waiting for the tick', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('modresubto');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  // A tick far beyond the waits below: only the claim after the re-subscription can deliver.
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { ...base, redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const mod = await RawModerator.join(a);
  const alice = await participant(b, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'before' });
  await mod.received(1);
  await mod.client.ok({ t: 'accept', delivery: mod.deliveries[0]!['delivery'] });

  const link = await resetHoldingSubscribe(proxy, Buffer.from(`${prefix}m:${CACHE}\u0000mods`));
  if (link === undefined) { t.fail('node a did not send its SUBSCRIBE again'); return; }
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'during' });
  // The held SUBSCRIBE times out on node a (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.releaseRequests(link);

  await mod.received(2, 5000);
  t.match(mod.deliveries[1], { value: 'during' }, 'the item queued meanwhile reached the member');
});
