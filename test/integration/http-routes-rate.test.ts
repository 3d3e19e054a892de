/** The presence and follows HTTP routes are charged to the client address's request rate, as HTTP
 * API calls are (each call is its own session: a fresh per-connection bucket would never run dry);
 * POST /v1/tokens to the minting API key's (limits.tokenMints*). */
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

t.test('POST /v1/tokens is charged to the minting API key: past limits.tokenMintsBurst 429 operations_rate_limit_exceeded, counted', async (t) => {
  const clock = still();
  const server = await startServer(t, { clock, config: { limits: { tokenMintsPerSec: 1, tokenMintsBurst: 2 } } });
  // Two keys of one tokenId: the bucket is the key's, not the tokenId's.
  const [a, b] = await Promise.all([0, 1].map(async () => (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'backend' })).token));
  const mint = async (key: string) => {
    const r = await fetch(`${server.httpUrl}/v1/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: PermissionScopes.topicPublishSubscribe(CACHE, 'room'), expiresInSeconds: 60 }),
    });
    return { status: r.status, body: await r.json() as { error?: { code: string; cause?: string; message: string } } };
  };
  t.same([(await mint(a!)).status, (await mint(a!)).status], [201, 201], 'the burst of 2');
  const refused = await mint(a!);
  t.equal(refused.status, 429);
  t.match(refused.body.error, { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded', message: /limits\.tokenMintsPerSec/ });
  t.equal((await mint(b!)).status, 201, 'another key has its own bucket');
  t.equal(server.broker.refusals.errors().find((e) => e.op === 'mint')?.count, 1, 'the refusal is counted (tidings_request_errors_total{op="mint"})');
  clock.advance(1000);
  t.equal((await mint(a!)).status, 201, 'one more a second later');
});

t.test('HTTP API calls refused before they run (malformed JSON, unknown operation) are charged too: past the burst 429', async (t) => {
  const clock = still();
  const server = await startServer(t, { clock, config: { limits } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const post = async (operation: string, body: string) => {
    const r = await fetch(`${server.httpUrl}/v1/cache/${CACHE}/${operation}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
    return { status: r.status, body: await r.json() as { error?: { code: string; cause?: string } } };
  };
  const set = JSON.stringify({ key: 'k', value: 'v' });
  t.same([(await post('set', set)).status, (await post('set', set)).status], [200, 200], 'a call that runs is charged once: the burst of 2 passes');
  clock.advance(2000);
  t.equal((await post('set', '{"key": ')).status, 400, 'a malformed body is refused');
  t.equal((await post('noSuchOperation', '{}')).status, 404, 'an unknown operation is refused');
  const refused = await post('set', '{"key": ');
  t.equal(refused.status, 429, 'the burst of 2 is spent by the refused calls');
  t.match(refused.body.error, { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded' });
  t.equal((await post('set', set)).status, 429, 'so is a well-formed call');
});
