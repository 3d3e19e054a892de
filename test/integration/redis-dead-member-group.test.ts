/** A group whose only member was on a node that died is forgotten after nodeTimeoutMs and
 * groupIdleMs, although no live node has members of it (the sweep of every group reaps it), so it
 * does not hold a moderation.maxGroups slot for ever. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { CACHE, RawModerator } from '../helpers/moderator.js';
import { spawnNode } from '../helpers/child-node.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

t.test('a group whose only member died with its node is forgotten after nodeTimeoutMs + groupIdleMs', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('rev');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = {
    auth: { signingKeys: [signingKey] },
    moderation: { nodeTimeoutMs: 500, groupIdleMs: 1000, maxGroups: 1 },
  };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const child = await spawnNode(t, { ...config, logLevel: 'silent', engine: 'redis', redis: { url, keyPrefix: prefix }, server: { port: 0, host: '127.0.0.1' } });
  const token = await tokenFor(a, PermissionScopes.moderator(CACHE), { tokenId: 'doomed' });
  const doomed = await RawModerator.join(child, { token, group: 'g1' });
  t.ok(doomed, 'the only member of g1 joined on the child node');
  await child.kill();

  // maxGroups is 1: a new group is refused while g1 holds the slot, and fits once g1 is forgotten
  // (after nodeTimeoutMs + groupIdleMs and a sweep). A refused gsub changes nothing, so ask again.
  const c = await RawClient.open(a, await tokenFor(a, PermissionScopes.moderator(CACHE)));
  t.teardown(() => c.close());
  let reply: Record<string, unknown> = {};
  await waitFor('a new group to fit', async () => {
    reply = await c.request({ t: 'gsub', cache: CACHE, group: 'g2', pattern: { nameSuffix: 'x-input' } });
    return reply['t'] === 'ok';
  }, 15_000).catch(() => {});
  t.match(reply, { t: 'ok' }, `a new group fits once g1 is idle: ${JSON.stringify(reply)}`);
});
