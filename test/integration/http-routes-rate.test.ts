/** The presence and follows HTTP routes are charged to the client address's request rate, as HTTP
 * API calls are (each call is its own session: a fresh per-connection bucket would never run dry). */
import t from 'tap';
import { ManualClock, PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';

const CACHE = 'rv';
const limits = { connectionOpsPerSec: 1, connectionOpsBurst: 2 };
/** The buckets refill on the server's clock: a manual one that stands still, so exactly the burst
 * passes however slowly a loaded machine makes the calls (on the real clock it refilled meanwhile). */
const still = () => new ManualClock(Date.now());

t.test('GET /v1/presence calls count towards the client address request rate', async (t) => {
  const server = await startServer(t, { clock: still(), config: { limits } });
  const scope = { permissions: [{ role: 'subscribeonly', cache: CACHE, topic: '*', presence: true }] };
  const key = (await server.auth.mintApiKey({ scope: scope as never, expiresInSec: null })).token;
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${server.httpUrl}/v1/presence/${CACHE}/room`, { headers: { authorization: `Bearer ${key}` } });
    statuses.push(r.status);
    await r.arrayBuffer();
  }
  t.same(statuses, [200, 200, ...Array(8).fill(429)], 'the burst of 2 passes, the other 8 presence calls are refused');
});

t.test('POST /v1/follows calls count towards the client address request rate', async (t) => {
  // The tokenId bucket is wide: only the per-address one can refuse.
  const server = await startServer(t, { clock: still(), config: { limits: { ...limits, tokenIdOpsPerSec: 1000, tokenIdOpsBurst: 1000 } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null, tokenId: 'u1' })).token;
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${server.httpUrl}/v1/follows`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ cache: CACHE, topic: `t${i}` }) });
    statuses.push(r.status);
    await r.arrayBuffer();
  }
  t.same(statuses, [200, 200, ...Array(8).fill(429)], 'the burst of 2 passes, the other 8 follows are refused');
});
