/** The HTTP side's credentials and limits: a waiting long-poll ends when its credential is revoked
 * or expires; a credential revoked while its request's body is still arriving is refused once the
 * body is in; an Idempotency-Key holds for a credential without tokenId too; HTTP API calls are
 * charged to their client address's request rate. */
import t from 'tap';
import net from 'node:net';
import { PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { eventually } from '../helpers/wait.js';
import { tokenFor } from '../helpers/raw-client.js';

const CACHE = 'rv';

t.test('a waiting long-poll is closed when its credential is revoked (not left to time out with 200)', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'poller' });
  const started = Date.now();
  const waiting = fetch(`${server.httpUrl}/v1/poll?cache=${CACHE}&topic=a&waitMs=3000`, { headers: { authorization: `Bearer ${token}` } })
    .then(async (r) => ({ status: r.status, body: await r.json(), ms: Date.now() - started }));
  t.ok(await eventually(() => server.broker.sessions.size === 1), 'the poll holds a session');
  await server.revoke({ tokenId: 'poller' });
  t.equal(server.broker.sessions.size, 0, 'its session was closed by the revocation');
  const got = await waiting;
  t.equal(got.status, 401, `answered as an authentication error when its session closed, not as an empty poll at waitMs (${got.ms} ms)`);
  t.match(got.body, { error: { code: 'AUTHENTICATION_ERROR' } });
});

t.test('an HTTP API call whose credential is revoked while its body arrives is refused (401), nothing published', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'uploader' });
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => { socket.destroy(); });
  let answer = '';
  const answered = new Promise<void>((resolve) => { socket.on('data', (d) => { answer += String(d); if (answer.includes('\r\n\r\n')) resolve(); }); });
  socket.write(`POST /v1/topics/${CACHE}/up HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello`);
  t.ok(await eventually(() => server.bodies.inFlight === 10), 'the call was let in: its credential was valid, its body is being read');
  await server.revoke({ tokenId: 'uploader' });
  socket.write('world');
  await answered;
  t.match(answer, /^HTTP\/1\.1 401 /, `refused once the body was in: ${answer.split('\r\n')[0]}`);
  t.match(answer, /AUTHENTICATION_ERROR/);
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const auth = { authorization: `Bearer ${key}` };
  const marker = await fetch(`${server.httpUrl}/v1/topics/${CACHE}/up`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'marker' }).then((r) => r.json());
  t.equal(marker.seq, 1, 'the topic\'s first item is the one published after: the refused call published nothing');
  const poll = await fetch(`${server.httpUrl}/v1/poll?cache=${CACHE}&topic=up&waitMs=0&cursor=${marker.page}:0`, { headers: auth }).then((r) => r.json());
  t.equal(poll.events.length, 1, 'one item in the topic\'s history');
});

t.test('a waiting long-poll is closed when its token expires', async (t) => {
  const server = await startServer(t, { config: { auth: { expiryNoticeMs: 1000, clockToleranceSec: 0 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { expiresInSec: 2 });
  const started = Date.now();
  const got = await fetch(`${server.httpUrl}/v1/poll?cache=${CACHE}&topic=a&waitMs=10000`, { headers: { authorization: `Bearer ${token}` } })
    .then(async (r) => ({ status: r.status, body: await r.json(), ms: Date.now() - started }));
  t.equal(got.status, 401, `answered at expiry as an authentication error, not as an empty poll at waitMs (${got.ms} ms)`);
});

t.test('HTTP Idempotency-Key with a credential that has no tokenId: a retry publishes nothing', async (t) => {
  const server = await startServer(t);
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const pub = () => fetch(`${server.httpUrl}/v1/topics/${CACHE}/idem`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain', 'idempotency-key': 'k-1' }, body: 'once',
  }).then((r) => r.json());
  const first = await pub();
  const retry = await pub();
  t.same(retry, first, 'the retry is answered with the first result');
  const poll = await fetch(`${server.httpUrl}/v1/poll?cache=${CACHE}&topic=idem&waitMs=0&cursor=${first.page}:0`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.json());
  t.equal(poll.events.length, 1, 'one item in history, not two');
});

t.test('HTTP API calls count towards the per-connection request rate (a credential without tokenId is not unlimited)', async (t) => {
  const server = await startServer(t, { config: { limits: { connectionOpsPerSec: 1, connectionOpsBurst: 2 } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${server.httpUrl}/v1/topics/${CACHE}/rate`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' }, body: `m${i}` });
    statuses.push(r.status);
    await r.arrayBuffer();
  }
  t.ok(statuses.includes(429), `some of 10 back-to-back publishes are refused at 1/s burst 2: ${statuses.join(',')}`);
});

t.test('long-polls count towards the client address\'s request rate (a credential without tokenId is not unlimited)', async (t) => {
  const server = await startServer(t, { config: { limits: { connectionOpsPerSec: 1, connectionOpsBurst: 2 } } });
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe(CACHE, '*'), expiresInSec: null })).token;
  const answers: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${server.httpUrl}/v1/poll?cache=${CACHE}&topic=rate&waitMs=0`, { headers: { authorization: `Bearer ${key}` } });
    const body = await r.json();
    answers.push(`${r.status}${body.error ? ` ${body.error.cause}` : ''}`);
  }
  t.ok(answers.includes('429 operations_rate_limit_exceeded'), `some of 10 back-to-back polls are refused at 1/s burst 2: ${answers.join(',')}`);
});
