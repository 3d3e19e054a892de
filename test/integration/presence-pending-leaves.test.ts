/** Memory presence holds at most presence.maxPendingLeaves members within their leave grace: a
 * client subscribing and unsubscribing across many topics cannot grow that set (one timer and
 * member entry each) past the bound within one grace; past it, a user whose last connection
 * leaves leaves at once. The count is the tidings_presence_pending_leaves gauge. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import type { Scope, TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope: Scope = { permissions: [{ role: 'publishsubscribe', cache: CACHE, topic: '*', presence: true }] };

async function gauge(server: TidingsServer): Promise<number | undefined> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('tidings_presence_pending_leaves '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

t.test('churning subscriptions over many topics keeps pending leaves within presence.maxPendingLeaves', async (t) => {
  const server = await startServer(t, {
    engine: 'memory',
    config: { server: { metricsAccess: 'open' }, presence: { leaveGraceMs: 600_000, maxPendingLeaves: 5 } },
  });
  const churner = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'churner' }));
  const observer = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'observer' }));
  for (let i = 0; i < 20; i++) {
    await churner.ok({ t: 'sub', cache: CACHE, topic: `t-${i}` });
    await churner.ok({ t: 'unsub', cache: CACHE, topic: `t-${i}` });
  }
  t.equal(await gauge(server), 5, 'pending leaves stop at the bound');
  const members = async (topic: string) => ((await observer.ok({ t: 'presence', cache: CACHE, topic }))['members'] as unknown[]);
  t.same(await members('t-0'), [{ tokenId: 'churner', connections: 0 }], 'within the bound: still a member during the grace');
  t.same(await members('t-19'), [], 'past the bound: left at once');
  await churner.ok({ t: 'sub', cache: CACHE, topic: 't-0' });
  t.equal(await gauge(server), 4, 'a return within the grace ends its pending leave');
  t.same(await members('t-0'), [{ tokenId: 'churner', connections: 1 }]);
  churner.close();
  observer.close();
});
