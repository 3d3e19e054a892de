/** Presence holds at most presence.maxPendingLeaves members within their leave grace, on both
 * engines (memory: across the node; redis: across the cluster, counted in Redis): a client
 * subscribing and unsubscribing across many topics cannot grow that set (a timer and a member
 * entry each) past the bound within one grace; past it, a user whose last connection leaves
 * leaves at once. Churning one topic holds one pending leave, not one per round. The node's count
 * is the tidings_presence_pending_leaves gauge. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import type { Scope, TidingsServer } from '../../src/index.js';

const CACHE = 'chat';
const scope: Scope = { permissions: [{ role: 'publishsubscribe', cache: CACHE, topic: '*', presence: true }] };
const BOUND = 5;

async function gauge(server: TidingsServer): Promise<number | undefined> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('tidings_presence_pending_leaves '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

testEachEngine('churning subscriptions over many topics keeps pending leaves within presence.maxPendingLeaves', async (t, engine) => {
  const server = await startServer(t, {
    engine,
    config: { server: { metricsAccess: 'open' }, presence: { leaveGraceMs: 600_000, maxPendingLeaves: BOUND } },
  });
  const churner = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'churner' }));
  const observer = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'observer' }));
  t.teardown(() => { churner.close(); observer.close(); });
  const members = async (topic: string) => JSON.stringify((await observer.ok({ t: 'presence', cache: CACHE, topic }))['members']);
  const left = JSON.stringify([]);
  const pending = JSON.stringify([{ tokenId: 'churner', connections: 0 }]);
  const back = JSON.stringify([{ tokenId: 'churner', connections: 1 }]);

  for (let i = 0; i < 20; i++) {
    await churner.ok({ t: 'sub', cache: CACHE, topic: `t-${i}` });
    await churner.ok({ t: 'unsub', cache: CACHE, topic: `t-${i}` });
  }
  // Engine redis writes a count to Redis just after the request's answer: wait for the last one.
  await waitFor('the last leave', async () => await members('t-19') === left);
  t.equal(await gauge(server), BOUND, 'pending leaves stop at the bound');
  t.equal(await members('t-0'), pending, 'within the bound: still a member during the grace');
  t.equal(await members(`t-${BOUND}`), left, 'past the bound: left at once');

  await churner.ok({ t: 'sub', cache: CACHE, topic: 't-0' });
  await waitFor('the return', async () => await members('t-0') === back);
  t.equal(await gauge(server), BOUND - 1, 'a return within the grace ends its pending leave');

  // One topic churned: one pending leave, however many rounds.
  for (let i = 0; i < 10; i++) {
    await churner.ok({ t: 'unsub', cache: CACHE, topic: 't-0' });
    await churner.ok({ t: 'sub', cache: CACHE, topic: 't-0' });
  }
  await churner.ok({ t: 'unsub', cache: CACHE, topic: 't-0' });
  await waitFor('the last round', async () => await members('t-0') === pending);
  t.equal(await gauge(server), BOUND, 'the churned topic holds one pending leave');
  t.equal(await members('t-1'), pending, 'and the others keep theirs');
});
