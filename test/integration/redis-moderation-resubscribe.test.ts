/** After its Redis subscriber link comes back, a node claims a moderator group's queue only once
 * its subscription to the group's wake channel is active again on the new connection: an item
 * published on another node while the re-sent SUBSCRIBE has not reached Redis yet is delivered to
 * the node's member when the subscription is back, not left for the periodic claim tick (here
 * nodeTimeoutMs is so long that the tick never fires within the test). The proxy holds the
 * subscriber's SUBSCRIBE, so the window is made, not hoped for. A SUBSCRIBE held past
 * redis.commandTimeoutMs times out without ending the process. */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/server.js';
import { proxiedRedis, requireRedis } from '../helpers/redis.js';
import { resetHoldingSubscribe } from '../helpers/tcp-proxy.js';
import { eventually } from '../helpers/wait.js';
import { CACHE, RawModerator, participant } from '../helpers/moderator.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type TidingsConfig } from '../../src/index.js';

/** Nodes A (direct to Redis) and B (through a proxy that can hold its SUBSCRIBE), a moderator of
 * group `mods` on B and a participant on A; undefined (the test skipped) without redis-server. */
async function twoNodes(t: Test, name: string, redis: DeepPartial<TidingsConfig['redis']>, moderation: DeepPartial<TidingsConfig['moderation']>) {
  if (!requireRedis(t)) return undefined;
  const { url, prefix, proxy } = await proxiedRedis(t, name);
  const config: DeepPartial<TidingsConfig> = {
    auth: { signingKeys: [generateSigningKey()] },
    redis: { connectTimeoutMs: 300, reconnectMaxMs: 200, ...redis },
    moderation,
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });
  const mod = await RawModerator.join(b, { tokenId: 'mod' });
  t.teardown(() => mod.client.close());
  const alice = await participant(a, 'alice');
  t.teardown(() => alice.close());
  // The wake channel of group `mods`, which B's subscriber SUBSCRIBEs again after a reconnect.
  const channel = Buffer.from(`${prefix}m:${CACHE}\u0000mods`);
  return { proxy, b, mod, alice, channel };
}

t.test('an item published while the re-sent SUBSCRIBE of a group channel is held reaches the member on the reconnected node', async (t) => {
  const nodes = await twoNodes(t, 'modresub',
    // commandTimeoutMs: the held SUBSCRIBE is answered late, not timed out.
    { commandTimeoutMs: 20_000 },
    // The claim tick (every nodeTimeoutMs / 4) never comes within the test: only the wake-up can deliver.
    { nodeTimeoutMs: 3_600_000, ackTimeoutMs: 3_600_000 });
  if (!nodes) return;
  const { proxy, b, mod, alice, channel } = nodes;
  // Publishes to a topic no group takes: they show when B's command connection answers again.
  const probe = await RawClient.open(b, await tokenFor(b, PermissionScopes.topicPublishSubscribe(CACHE, 'probe'), { tokenId: 'probe' }));
  t.teardown(() => probe.close());

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'before' });
  await mod.received(1);

  // B's links drop; the subscriber's new connection keeps its SUBSCRIBE (of the group's channel
  // among others) from Redis until released.
  const subscriberLink = await resetHoldingSubscribe(proxy, channel);
  if (subscriberLink === undefined) { t.fail('B\'s subscriber did not send its SUBSCRIBE again'); return; }
  // B's command connection is back and has answered what B sent on it up to now (the claim, when
  // B does not wait for its subscription).
  t.ok(await eventually(async () => (await probe.request({ t: 'pub', cache: CACHE, topic: 'probe', value: 'p' }))['t'] === 'ok'), 'B publishes again');

  // Published on A while B's SUBSCRIBE has not reached Redis: its wake-up is not heard by B.
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'during' });
  proxy.releaseRequests(subscriberLink);

  await mod.received(2, 8000).catch(() => {});
  t.same(mod.deliveries.map((d) => d['value']), ['before', 'during'], 'the member on B got the item published during the window');
});

t.test('a re-sent SUBSCRIBE answered later than redis.commandTimeoutMs does not end the process; the node goes on', async (t) => {
  const nodes = await twoNodes(t, 'modresub2', { commandTimeoutMs: 300 }, { nodeTimeoutMs: 2000, ackTimeoutMs: 3_600_000 });
  if (!nodes) return;
  const { proxy, mod, alice, channel } = nodes;
  const link = await resetHoldingSubscribe(proxy, channel);
  if (link === undefined) { t.fail('B\'s subscriber did not send its SUBSCRIBE again'); return; }
  // Held past commandTimeoutMs (300 ms): the SUBSCRIBE times out for whoever sent it. A fixed time on
  // purpose: the timeout must elapse, and the process must survive it.
  await new Promise((r) => setTimeout(r, 1000));
  proxy.releaseRequests(link);

  // Still running: the member on B gets what is published on A (the tick claims it at the latest).
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' });
  await mod.received(1, 8000).catch(() => {});
  t.same(mod.deliveries.map((d) => d['value']), ['after'], 'the member on B got the item');
});
