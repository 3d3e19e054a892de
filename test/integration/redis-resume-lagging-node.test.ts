/** A client resuming on node B from a position node A delivered, while node B's subscription is
 * behind, gets exactly the items after it: node B brings its window up to the position first
 * instead of taking it for one from the future (a false disc, then items twice). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis, sharedRedisUrl, uniquePrefix, deletePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('resume on a node whose copy lags: no false disc, nothing twice', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('lag');
  t.teardown(() => deletePrefix(url, prefix));
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const open = async (server: typeof a, id: string) => {
    const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: id }));
    t.teardown(() => c.close());
    return c;
  };
  const onA = await open(a, 'x');
  const otherOnB = await open(b, 'y'); // node b already serves the topic
  await onA.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await otherOnB.ok({ t: 'sub', cache: 'chat', topic: 'lag' });
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v1' });
  await otherOnB.items(1);
  // Node b's subscription link is slow for a moment (its socket is not read: data waits in TCP).
  const stream = ((b.engine as unknown as { topics: { subscriber: { stream: { pause(): void; resume(): void } } } }).topics.subscriber).stream;
  stream.pause();
  for (let i = 2; i <= 4; i++) await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: `v${i}` });
  const seen = await onA.items(4);
  const last = seen.at(-1)!;
  // The client moves to node b and resumes from what it saw.
  const moved = await open(b, 'x2');
  await moved.ok({ t: 'sub', cache: 'chat', topic: 'lag', after: { page: last['page'], seq: last['seq'] } });
  setTimeout(() => stream.resume(), 200);
  await onA.ok({ t: 'pub', cache: 'chat', topic: 'lag', value: 'v5' }).catch(() => {});
  await new Promise((r) => setTimeout(r, 800));
  const frames: Frame[] = [...await moved.drain('item', 100), ...await moved.drain('disc', 10)];
  t.same(frames.filter((f) => f['t'] === 'disc'), [], 'no disc: nothing was lost');
  t.same(frames.filter((f) => f['t'] === 'item').map((f) => f['value']), ['v5'], 'only what the client had not seen');
});
