/** Revocation over real sockets: the HTTP route, the server API and the CLI; open connections
 * using a revoked credential get `bye` 4504; revoked credentials are refused at hello and auth. */
import { SignJWT, decodeProtectedHeader } from 'jose';
import { ManualClock, PermissionScopes, encodeMomentoCredential } from '../../src/index.js';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { SseReader } from '../helpers/sse.js';
import { cliInProcess as runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
const hello = (token: string) => ({ t: 'hello', versions: [1], token });

testEachEngine('revocation', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { auth: { maxRevocations: 3 } } });
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const post = (body: unknown, key = admin) => fetch(`${server.httpUrl}/v1/revocations`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body),
  });

  t.test('by tokenId over HTTP: open connections closed with bye 4504, the token refused at hello', async (t) => {
    const token = await tokenFor(server, scope, { tokenId: 'mallory' });
    const mallory = await RawClient.open(server, token);
    const mallory2 = await RawClient.open(server, token);
    const bob = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'bob' }));
    const res = await post({ tokenId: 'mallory' });
    t.equal(res.status, 201);
    t.match(await res.json(), { tokenId: 'mallory', revokedAt: clock.now(), until: clock.now() + (server.config.auth.maxTokenTtlSec + server.config.auth.clockToleranceSec) * 1000 });
    for (const c of [mallory, mallory2]) {
      t.match(await c.next((f) => f['t'] === 'bye'), { code: 4504, reconnect: false, reason: 'credential revoked' });
      t.equal((await c.waitClosed()).code, 4504);
    }
    t.same(await bob.ok({ t: 'ping' }), {}, 'another tokenId is untouched');
    const again = await RawClient.connect(server.wsUrl);
    t.match(await again.request(hello(token)), { t: 'err', e: { code: 'AUTHENTICATION_ERROR', message: 'token has been revoked' } });
    t.equal((await again.waitClosed()).code, 4500);
    clock.advance(1000);
    const fresh = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'mallory' }));
    t.same(await fresh.ok({ t: 'ping' }), {}, 'a credential issued after the revocation (a second later) is accepted');
    for (const c of [bob, fresh]) c.close();
  });

  t.test('by token (jti) through the server API; in-band auth with a revoked token is refused', async (t) => {
    const first = await tokenFor(server, scope, { tokenId: 'carol' });
    const second = await tokenFor(server, scope, { tokenId: 'carol' });
    const a = await RawClient.open(server, first);
    const b = await RawClient.open(server, second);
    const entry = await server.revoke({ token: first });
    // Synchronously, with nothing awaited since: on Redis, not only once the channel brings it back.
    t.throws(() => server.auth.verify(first), { code: 'AUTHENTICATION_ERROR', message: 'token has been revoked' }, 'in force on this node as revoke() resolves');
    t.ok(entry.jti, 'the entry names the token by jti');
    t.ok(entry.until! > clock.now() && entry.until! <= clock.now() + 301_000 + 5000, 'kept until the token expires');
    t.equal((await a.waitClosed()).code, 4504, 'the connection on that token is closed (before revoke() resolved)');
    t.same(await b.ok({ t: 'ping' }), {}, 'another token of the same tokenId stays');
    t.match(await b.request({ t: 'auth', token: first }), { t: 'err', e: { code: 'AUTHENTICATION_ERROR', message: 'token has been revoked' } });
    t.same(await b.ok({ t: 'ping' }), {}, 'a refused refresh keeps the old credential');
    b.close();
    // Verification takes a token up to auth.clockToleranceSec past its exp: its entry lasts as long.
    const expMs = JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString())['exp'] * 1000;
    clock.advance(expMs + (server.config.auth.clockToleranceSec - 1) * 1000 - clock.now());
    const late = await RawClient.connect(server.wsUrl);
    t.match(await late.request(hello(first)), { t: 'err', e: { code: 'AUTHENTICATION_ERROR', message: 'token has been revoked' } }, 'still revoked a second before the tolerance past its expiry ends');
    await late.waitClosed();
  });

  t.test('the HTTP route needs an admin API key and a well-formed body', async (t) => {
    t.equal((await post({ tokenId: 'x' }, '')).status, 401);
    const narrow = (await server.auth.mintApiKey({ scope, expiresInSec: null })).token;
    t.equal((await post({ tokenId: 'x' }, narrow)).status, 403);
    const disposable = await tokenFor(server, PermissionScopes.allDataReadWrite());
    t.equal((await post({ tokenId: 'x' }, disposable)).status, 403, 'a disposable token, even of the admin scope: an API key only');
    const bad = await post({ tokenId: 'x', jti: 'y' });
    t.equal(bad.status, 400);
    t.match(await bad.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: /exactly one/ } });
    for (const body of [{ tokenId: 42 }, { jti: 7 }, { token: 7 }, { tokenId: 'x', until: 'soon' }]) {
      const res = await post(body);
      t.equal(res.status, 400, JSON.stringify(body));
      t.match(await res.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: new RegExp(Object.keys(body).at(-1)!) } });
    }
    // The server API checks for itself: a JavaScript caller is not typed either.
    await t.rejects(server.revoke({ token: 42 as unknown as string }), { code: 'INVALID_ARGUMENT_ERROR', message: 'token must be a string' });
    const long = await post({ tokenId: 'x'.repeat(65) });
    t.equal(long.status, 400, 'a tokenId no credential can carry (over 64 characters) is refused, not held');
    t.match(await long.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: /tokenId must be 1\.\.64 characters/ } });
    // Signed with the server's key but minted elsewhere, without a jti: nothing would name it.
    const kid = decodeProtectedHeader(admin).kid!;
    const noJti = await new SignJWT({ tk: 'dt', perms: scope.permissions }).setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer('tidings').setAudience('tidings').setIssuedAt(Math.floor(clock.now() / 1000)).setExpirationTime(Math.floor(clock.now() / 1000) + 60)
      .sign(Buffer.from(server.config.auth.signingKeys[0]!, 'base64url'));
    const unnamed = await post({ token: noJti });
    t.equal(unnamed.status, 400, 'a token without a jti is a bad argument, not a server error');
    t.match(await unnamed.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: /no jti; revoke it by tokenId/ } });
    // until is unix ms: a fraction or a number past any date is no time Redis can keep an entry
    // until (it answered 500 there, while memory took it), and a time already past (seconds given
    // for ms) would revoke nothing while answering 201.
    for (const until of [clock.now() + 60_000.5, 1e300, Math.floor(clock.now() / 1000), clock.now()]) {
      const res = await post({ tokenId: 'x', until });
      t.equal(res.status, 400, `until ${until} is refused`);
      t.match(await res.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: /until/ } });
    }
  });

  t.test('the CLI revokes over HTTP', async (t) => {
    const dave = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'dave' }));
    const run = await runCli(['revoke', '--token-id', 'dave', '--url', server.httpUrl], { TIDINGS_API_KEY: admin });
    t.equal(run.status, 0, run.stderr);
    t.match(JSON.parse(run.stdout), { tokenId: 'dave' });
    t.equal((await dave.waitClosed()).code, 4504);
    const noKey = await runCli(['revoke', '--token-id', 'dave', '--url', server.httpUrl], { TIDINGS_API_KEY: '' });
    t.equal(noKey.status, 2);
    t.match(noKey.stderr, /TIDINGS_API_KEY/);
  });

  t.test('the list is bounded: past auth.maxRevocations a revocation is refused; expired entries leave', async (t) => {
    // mallory, carol's token and dave are held (3 of 3).
    const full = await post({ tokenId: 'eve' });
    t.equal(full.status, 429);
    t.match(await full.json(), { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'revocations_limit_exceeded' } });
    clock.advance((server.config.auth.maxTokenTtlSec + server.config.auth.clockToleranceSec) * 1000 + 1);
    const later = await post({ tokenId: 'eve' });
    t.equal(later.status, 201, 'once the covered credentials have expired their entries make room');
    t.equal(server.auth.revocations.size, 1);
  });

  t.test('by token: a Momento-shaped credential is revoked by the token inside; again is no error; one that no longer verifies is a bad argument', async (t) => {
    // No tokenId: its connection is found by the credential's jti alone.
    const token = await tokenFor(server, scope);
    const frank = await RawClient.open(server, token);
    // What POST /v1/tokens with "momento": true and `tidings token --momento` hand out: the form
    // a leaked credential is found in.
    const res = await post({ token: encodeMomentoCredential({ endpoint: '127.0.0.1:1', apiKey: token }) });
    t.equal(res.status, 201, 'revoked');
    t.match(await res.json(), { jti: String });
    t.equal((await frank.waitClosed()).code, 4504, 'its connection is closed');
    const again = await post({ token });
    t.equal(again.status, 201, 'revoking a revoked token again is accepted (the entry stays as it is)');
    const shortLived = await tokenFor(server, scope, { tokenId: 'grace', expiresInSec: 1 });
    clock.advance((1 + server.config.auth.clockToleranceSec) * 1000 + 1);
    const expired = await post({ token: shortLived });
    t.equal(expired.status, 400, "the admin's own key is fine: not 401");
    t.match(await expired.json(), { error: { code: 'INVALID_ARGUMENT_ERROR', message: /token has expired/ } });
  });

  t.test('an open SSE stream and a waiting long-poll on a revoked credential end at once', async (t) => {
    const token = await tokenFor(server, scope, { tokenId: 'ivan' });
    const auth = { authorization: `Bearer ${token}` };
    const sse = await SseReader.open(`${server.httpUrl}/v1/sse?cache=chat&topic=quiet`, auth);
    t.teardown(() => sse.close());
    await sse.until((r) => r.events.some((e) => e.event === 'ready'));
    const poll = fetch(`${server.httpUrl}/v1/poll?cache=chat&topic=quiet&waitMs=60000`, { headers: auth });
    await waitFor('the poll to wait', () => [...server.broker.sessions.values()].filter((s) => s.grant?.tokenId === 'ivan').length === 2);
    await server.revoke({ tokenId: 'ivan' });
    const answer = await poll;
    t.equal(answer.status, 401, 'the poll is answered at once');
    t.match(await answer.json(), { error: { code: 'AUTHENTICATION_ERROR', message: 'credential revoked' } });
    await sse.until((r) => r.ended);
    t.match(sse.events.at(-1), { event: 'bye', json: { code: 4504, reconnect: false } }, 'the stream says why, then ends');
  });
});
