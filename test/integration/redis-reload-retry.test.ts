/** A node reloads a topic's window from Redis when a live message shows it is out of step (another
 * page: Redis lost the topic, e.g. evicted under maxmemory; a seq jump). When that reload fails
 * (Redis slow to answer on the node's command connection, while its subscription flows), the
 * node must try again by itself: the message that showed the gap was dropped with the failed
 * reload, and before, nothing reached the subscribers until some later publish revealed the gap
 * again. The proxy keeps Redis's answers on the node's command connection past its command
 * timeout, so the failed reload is made, not hoped for. */
import t from 'tap';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { TopicKeys } from '../../src/engine/redis/keys.js';
import { PermissionScopes } from '../../src/index.js';

const COMMAND_TIMEOUT_MS = 300;

t.test('a reload that failed is tried again: the topic Redis lost is announced and its new items come, with no later publish', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('reloadretry');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const scope = PermissionScopes.topicPublishSubscribe('app', '*');
  const sub = await RawClient.open(a, await tokenFor(a, scope));
  const pub = await RawClient.open(b, await tokenFor(b, scope));
  t.teardown(() => { sub.close(); pub.close(); });
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  const first = await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'one' });
  await sub.items(1);

  // Redis loses the topic; node a's command connection answers late from now on.
  const keys = new TopicKeys(prefix, 'app', 'room');
  await side.del(keys.topic, keys.recent, keys.lastPage);
  proxy.hold(0);
  const second = await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'two' });
  t.not(second['page'], first['page'], 'the publish started a new page');
  // Node a's reload, started by that message, times out (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.release(0);

  t.match(await sub.next((f) => f['t'] === 'disc', 10_000), { lastSeq: 1, page: second['page'] }, 'the loss is announced');
  t.match(await sub.items(1, () => true, 10_000), [{ value: 'two', page: second['page'], seq: 1 }], 'and the new item comes');
});
