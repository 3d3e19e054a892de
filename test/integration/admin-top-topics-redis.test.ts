/** "Top topics by rate" counts what was published between two samples. On engine redis a topic a
 * node starts holding (its first local subscriber) arrives with the position Redis has, its whole
 * history: that history is not a rate. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis } from '../helpers/redis.js';
import { sdkFor } from '../helpers/sdk.js';
import { RawClient } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes } from '../../src/index.js';

t.test('admin [redis] - a topic this node starts holding does not rank by its history', async (t) => {
  if (!requireRedis(t)) return;
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine: 'redis', clock, config: { admin: { tokenIds: ['ops'] } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const ops = await sdkFor(t, server, { token: opsKey });
  const sample = () => ops.connection.request({ t: 'adminStats' });
  const user = await RawClient.open(server, (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: null, tokenId: 'u' })).token);

  // A history of 40 items, before any dashboard and with no subscriber on this node.
  for (let i = 0; i < 40; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'archive', value: `v${i}` });
  clock.advance(60_000);
  await sample();
  clock.advance(1000);
  await user.ok({ t: 'sub', cache: 'chat', topic: 'archive' });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'archive', value: 'one' });
  const first = await sample();
  t.same(first.rates, { publishes: 1, deliveries: 1 }, 'one publish in the second, to its one subscriber');
  t.same(first.topTopics, [], 'the topic held since this second has no basis yet: not 41 items a second');
  clock.advance(1000);
  for (let i = 0; i < 3; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'archive', value: `later ${i}` });
  await user.items(4);
  const next = await sample();
  t.same(next.topTopics.map((x) => [x.topic, x.perSecond, x.subscribers]), [['archive', 3, 1]], 'from the next sample on, its rate');
});
