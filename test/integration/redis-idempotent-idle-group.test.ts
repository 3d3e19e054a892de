/** An idempotent pubAppend to a topic that was the input of a moderator group now idle past
 * moderation.groupIdleMs (the node's copy still names the group: it asks Redis first, then goes
 * on as for an ordinary topic). The write's idempotency key must still reach Redis, so that a
 * retry on another node is answered, not applied again (docs/protocol.md, "Idempotent writes").
 * Before, the key was taken after that await, when it was no longer there: the write was
 * deduplicated on its own node only. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { RawModerator } from '../helpers/moderator.js';
import { PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

const GROUP_IDLE_MS = 100;

t.test('an idempotent pubAppend to the input of an idle group, retried on another node: applied once', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('idemidle');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { auth: { signingKeys: [generateSigningKey()] }, moderation: { groupIdleMs: GROUP_IDLE_MS } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const mod = await RawModerator.join(a);
  t.teardown(() => mod.client.close());
  await mod.client.ok({ t: 'gunsub', cache: 'chat', group: 'mods' });
  // The group goes idle (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * GROUP_IDLE_MS));

  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('chat'), PermissionScopes.topicPublishSubscribe('chat', '*'));
  const open = async (node: TidingsServer) => { const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId: 'writer' })); t.teardown(() => c.close()); return c; };
  const onA = await open(a);
  const onB = await open(b);
  const write = { t: 'pubAppend', cache: 'chat', topic: 'room1-input', list: 'room1-input', value: 'once', idempotencyKey: 'k-1' };
  const first = await onA.ok(write);
  const retry = await onB.ok(write);
  t.same(retry, first, 'the retry on node b hears the first result');
  t.same((await onB.ok({ t: 'listFetch', cache: 'chat', list: 'room1-input' }))['values'], ['once'], 'one element');
});
