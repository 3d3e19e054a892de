/** Redis comes back empty (restarted without persistence) under a node with present subscribers:
 * the node writes its counts again as soon as its link is back, and its watchers are not told that
 * everyone left. Before, the presence sync after the reconnect read the empty Redis first and told
 * every watcher that every member (the watcher too) left, then the next heartbeat
 * (presence.nodeTimeoutMs / 3) rewrote the counts and they all joined again. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, startRedis } from '../helpers/redis.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes } from '../../src/index.js';

t.test('after Redis came back empty: members listed again at once, no one told they left', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis(t); // no persistence: a restart loses every count
  // A heartbeat far beyond the waits below: only what the reconnect does counts.
  const a = await startServer(t, { engine: 'redis', redisUrl: redis.url,
    config: { redis: { reconnectMinMs: 10, reconnectMaxMs: 50 }, presence: { nodeTimeoutMs: 120_000 } } });
  const scope = PermissionScopes.combine(PermissionScopes.topicPresence('app', '*'), PermissionScopes.topicPublishSubscribe('app', '*'));
  const watcher = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'watcher' }));
  const user = await RawClient.open(a, await tokenFor(a, scope, { tokenId: 'user' }));
  t.teardown(() => { watcher.close(); user.close(); });
  await watcher.ok({ t: 'sub', cache: 'app', topic: 'room', presence: true });
  await user.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await watcher.next((f) => f['t'] === 'join' && f['tokenId'] === 'user');

  await redis.stop();
  await redis.start();
  const listed = async () => {
    const reply = await watcher.request({ t: 'presence', cache: 'app', topic: 'room' });
    return reply['t'] === 'ok' ? (reply['r']['members'] as Array<{ tokenId: string }>).map((m) => m.tokenId).sort() : [];
  };
  await waitFor('both members listed again', async () => (await listed()).join() === 'user,watcher', 10_000);
  await watcher.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_resumed', 10_000);
  t.same(watcher.frames.filter((f) => f['t'] === 'leave'), [], 'no one was told a member left');
});
