/** The dashboard's rates are "per second now": a sample more than 10 s after the previous one (a
 * dashboard opened again after a pause) has no rates yet (null, like the very first sample)
 * rather than the average over the whole pause, and the next sample measures from it. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor } from '../helpers/sdk.js';
import { RawClient } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes } from '../../src/index.js';

t.test('admin - a sample after a pause starts the rates afresh', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { admin: { tokenIds: ['ops'] } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const ops = await sdkFor(t, server, { token: opsKey });
  const sample = () => ops.connection.request({ t: 'adminStats' });
  // API keys: they outlive the hour the clock jumps.
  const user = await RawClient.open(server, (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: null, tokenId: 'u' })).token);
  const publish = async (n: number, topic: string) => { for (let i = 0; i < n; i++) await user.ok({ t: 'pub', cache: 'chat', topic, value: `v${i}` }); };

  await sample();
  // An hour without a dashboard: a busy first minute, then a quiet topic only.
  await publish(30, 'was-busy');
  clock.advance(3600_000);
  await publish(2, 'now');
  const afterPause = await sample();
  t.equal(afterPause.rates, null, 'no rate over an hour-long gap');
  t.same(afterPause.topTopics, [], 'and no topic ranked by it');

  clock.advance(2000);
  await publish(4, 'now');
  const next = await sample();
  t.same(next.rates, { publishes: 2, deliveries: 0 }, '4 publishes in the 2 s since the sample after the pause');
  t.same(next.topTopics.map((x) => [x.topic, x.perSecond]), [['now', 2]]);
});

// The sampler's own timer lets the previous sample go 10 s after it; on a loaded event loop that
// timer can be late, and the sample taken first must still not average over the pause.
// clock.set moves the time without firing timers: the timer has not run yet.
t.test('admin - a sample after a pause has no rates even before the sampler forgets the previous one', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { admin: { tokenIds: ['ops'] } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const ops = await sdkFor(t, server, { token: opsKey });
  const user = await RawClient.open(server, (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: null, tokenId: 'u' })).token);
  await ops.connection.request({ t: 'adminStats' });
  for (let i = 0; i < 30; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'was-busy', value: `v${i}` });
  clock.set(clock.now() + 3600_000);
  const afterPause = await ops.connection.request({ t: 'adminStats' });
  t.equal(afterPause.rates, null, 'no rate over an hour-long gap');
  t.same(afterPause.topTopics, []);
});
