/** A pubAppend to a group's input topic is refused on every node, also on one whose copy of the
 * group directory predates the group (the script checks the copy's version). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { CACHE, RawModerator } from '../helpers/moderator.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';

t.test('pubAppend to an input topic on another node is refused (or moderated), never published unmoderated', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = { auth: { signingKeys: [signingKey] }, moderation: { nodeTimeoutMs: 1000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const mod = await RawModerator.join(a, { tokenId: 'mod' });
  t.teardown(() => mod.client.close());

  const onA = await RawClient.open(a, await tokenFor(a, PermissionScopes.allDataReadWrite(), { tokenId: 'ua' }));
  const onB = await RawClient.open(b, await tokenFor(b, PermissionScopes.allDataReadWrite(), { tokenId: 'ub' }));
  t.teardown(() => { onA.close(); onB.close(); });
  await onA.ok({ t: 'sub', cache: CACHE, topic: 'room1-input' });

  const refusedOnA = await onA.request({ t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'l', value: 'x' });
  t.equal(refusedOnA['t'], 'err', `node A (has the directory) refuses: ${JSON.stringify(refusedOnA['e'])}`);

  const onBReply = await onB.request({ t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'l', value: 'unmoderated' });
  const delivered = await mod.received(1, 1000).then(() => true, () => false);
  t.ok(onBReply['t'] === 'err' || delivered,
    `node B: ${JSON.stringify(onBReply)}; delivered to the moderator: ${delivered}`);
  const raw = await onA.drain('item', 300);
  t.same(raw.map((f) => f['value']), [], 'nothing reached the input topic without going through the group');
});
