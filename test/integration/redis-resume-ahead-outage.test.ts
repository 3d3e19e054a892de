/** A client resumes (`sub` with `after`) on a node whose window is behind that position (another
 * node delivered it: e.g. the client's node died and it moved) while that node cannot reach Redis
 * to catch up. The node must refuse the resume with a retryable error, not take the position for
 * one from the future: that answered `ok`, a `disc` naming items the client already had, and the
 * window's old items again (then, once the link was back, the rest a second time). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { PermissionScopes, generateSigningKey } from '../../src/index.js';

t.test('a resume ahead of a node cut off from Redis: refused retryable, then served exactly once the link is back', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('ahead');
  t.teardown(() => deletePrefix(url, prefix));
  const proxy = await startTcpProxy(Number(new URL(url).port));
  t.teardown(() => proxy.close());
  const auth = { signingKeys: [generateSigningKey()] };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, queueTimeoutMs: 200, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  const scope = PermissionScopes.topicPublishSubscribe('app', '*');
  const open = async (node: typeof a) => { const c = await RawClient.open(node, await tokenFor(node, scope)); t.teardown(() => c.close()); return c; };
  const stay = await open(a); // keeps node a's window of the topic
  const mover = await open(b);
  const pub = await open(b);
  await stay.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await mover.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'one' });
  await stay.items(1);
  await mover.items(1);

  // Node a is cut off from Redis; the mover's node goes on delivering.
  proxy.blackhole();
  proxy.reset();
  await stay.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_interrupted');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'two' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'three' });
  const last = (await mover.items(2))[1]!;
  const position = { page: last['page'], seq: last['seq'] };
  mover.close();

  // The mover comes to node a with its position.
  const moved = await open(a);
  const reply = await moved.request({ t: 'sub', cache: 'app', topic: 'room', after: position });
  t.match(reply, { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, `refused, retryable: ${JSON.stringify(reply)}`);
  t.same(moved.frames.filter((f) => f['t'] === 'disc' || f['t'] === 'item'), [], 'no disc, no replay of what it had');

  proxy.heal();
  let again: Frame = {};
  await waitFor('the resume is served once node a reaches Redis', async () => (again = await moved.request({ t: 'sub', cache: 'app', topic: 'room', after: position }))['t'] === 'ok');
  t.match(again['r'], position, 'from where it was');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'four' });
  t.match(await moved.items(1), [{ value: 'four', seq: position.seq + 1 }], 'the next item, and nothing before it');
  t.same(moved.frames.filter((f) => f['t'] === 'disc'), [], 'no disc');
});
