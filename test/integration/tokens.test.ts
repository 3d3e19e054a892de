import t from 'tap';
import { SignJWT, UnsecuredJWT, decodeProtectedHeader } from 'jose';
import { status } from '@grpc/grpc-js';
import { startServer } from '../helpers/server.js';
import { startMomentoServer } from '../helpers/momento.js';
import { openStreams } from '../helpers/streams.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { requireRedis } from '../helpers/redis.js';
import { ManualClock, PermissionScopes, systemClock, TokenAuthority, generateSigningKey, resolveConfig, createServer, defaultFeatures } from '../../src/index.js';
import { MemoryRevocationList } from '../../src/auth/revocation.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

async function helloError(url: string, token: unknown): Promise<{ error: Record<string, any>; close: number }> {
  const c = await RawClient.connect(url);
  const reply = await c.request({ t: 'hello', versions: [1], token });
  const closed = await c.waitClosed();
  return { error: reply['e'], close: closed.code };
}

t.test('tokens - forged, tampered, alg none, wrong key, expired and not-yet-valid tokens are refused', async (t) => {
  const server = await startServer(t);
  const good = await tokenFor(server, scope, { tokenId: 'alice' });
  const [header, payload, signature] = good.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const widened = Buffer.from(JSON.stringify({ ...claims, perms: PermissionScopes.allDataReadWrite().permissions })).toString('base64url');
  const otherKey = new TokenAuthority(resolveConfig({ dev: true }).auth, [generateSigningKey()], systemClock);
  const foreign = (await otherKey.mintDisposableToken({ scope, expiresInSec: 60 })).token;
  const kid = decodeProtectedHeader(good).kid!;
  const forgedSameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new Uint8Array(32));
  const none = new UnsecuredJWT(claims).encode();
  const expiredAuthority = new TokenAuthority(server.config.auth, server.config.auth.signingKeys, { ...systemClock, now: () => Date.now() - 3_600_000 });
  const expired = (await expiredAuthority.mintDisposableToken({ scope, expiresInSec: 60 })).token;
  const notYet = await new SignJWT({ ...claims, nbf: Math.floor(Date.now() / 1000) + 3600 })
    .setProtectedHeader({ alg: 'HS256', kid }).sign(Buffer.from(server.config.auth.signingKeys[0]!, 'base64url'));

  const cases: Array<[string, unknown, RegExp]> = [
    ['tampered scope', `${header}.${widened}.${signature}`, /signature is invalid/],
    ['signed with another key', foreign, /signature is invalid/],
    ['forged with a guessed key under the real kid', forgedSameKid, /signature is invalid/],
    ['alg none', none, /algorithm is not allowed|malformed/],
    ['expired', expired, /expired/],
    ['not yet valid', notYet, /not valid yet/],
    ['garbage', 'not-a-jwt', /malformed/],
    ['empty', '', /required/],
    ['missing', undefined, /required/],
    ['not a string', 42, /required/],
  ];
  for (const [name, token, message] of cases) {
    const { error, close } = await helloError(server.wsUrl, token);
    t.match(error, { code: 'AUTHENTICATION_ERROR', message }, `${name}: AUTHENTICATION_ERROR`);
    t.equal(close, 4500, `${name}: closed with 4500`);
  }
  const ok = await RawClient.open(server, good);
  t.ok(ok, 'the untampered token still works');
});

t.test('tokens - a JWT signed by our key but not minted as a Tidings credential is refused', async (t) => {
  const server = await startServer(t);
  const key = Buffer.from(server.config.auth.signingKeys[0]!, 'base64url');
  const kid = decodeProtectedHeader(await tokenFor(server, scope)).kid!;
  const noKind = await new SignJWT({ perms: scope.permissions }).setProtectedHeader({ alg: 'HS256', kid })
    .setIssuer('tidings').setAudience('tidings').setExpirationTime('1h').sign(key);
  t.match((await helloError(server.wsUrl, noKind)).error, { code: 'AUTHENTICATION_ERROR', message: /not a Tidings credential/ });
  const noExp = await new SignJWT({ tk: 'dt', perms: scope.permissions }).setProtectedHeader({ alg: 'HS256', kid })
    .setIssuer('tidings').setAudience('tidings').sign(key);
  t.match((await helloError(server.wsUrl, noExp)).error, { code: 'AUTHENTICATION_ERROR', message: /no expiry/ });
  const badScope = await new SignJWT({ tk: 'dt', perms: [{ role: 'god', cache: '*' }] }).setProtectedHeader({ alg: 'HS256', kid })
    .setIssuer('tidings').setAudience('tidings').setExpirationTime('1h').sign(key);
  t.match((await helloError(server.wsUrl, badScope)).error, { code: 'AUTHENTICATION_ERROR', message: /scope is malformed/ });
  const wrongAudience = await new SignJWT({ tk: 'dt', perms: scope.permissions }).setProtectedHeader({ alg: 'HS256', kid })
    .setIssuer('tidings').setAudience('someone-else').setExpirationTime('1h').sign(key);
  t.match((await helloError(server.wsUrl, wrongAudience)).error, { code: 'AUTHENTICATION_ERROR', message: /aud/ });
});

t.test('tokens - key rotation: tokens signed by any configured key verify; the first key signs', async (t) => {
  const oldKey = generateSigningKey();
  const newKey = generateSigningKey();
  const before = await startServer(t, { config: { auth: { signingKeys: [oldKey] } } });
  const oldToken = await tokenFor(before, scope);
  const after = await startServer(t, { config: { auth: { signingKeys: [newKey, oldKey] } } });
  t.ok(await RawClient.open(after, oldToken), 'a token from the old key still works');
  const newToken = await tokenFor(after, scope);
  const dropped = await startServer(t, { config: { auth: { signingKeys: [newKey] } } });
  t.ok(await RawClient.open(dropped, newToken), 'new tokens are signed with the new key');
  t.match((await helloError(dropped.wsUrl, oldToken)).error, { code: 'AUTHENTICATION_ERROR' }, 'the old key is retired');
});

t.test('tokens - minting rules: disposable tokens must expire within the maximum; tokenId at most 64 chars', async (t) => {
  const server = await startServer(t, { config: { auth: { maxTokenTtlSec: 3600 } } });
  await t.rejects(server.auth.mintDisposableToken({ scope, expiresInSec: null }), { code: 'INVALID_ARGUMENT_ERROR', message: /must expire/ });
  await t.rejects(server.auth.mintDisposableToken({ scope, expiresInSec: 3601 }), { code: 'INVALID_ARGUMENT_ERROR', message: /at most 3600/ });
  t.ok((await server.auth.mintDisposableToken({ scope, expiresInSec: 3600 })).expiresAt, 'the maximum itself is allowed');
  // exp has whole seconds: a fraction is rounded up, else half a second would mint a token expired already.
  const before = Date.now();
  const half = await server.auth.mintDisposableToken({ scope, expiresInSec: 0.5 });
  t.ok(half.expiresAt! > before, `a token of 0.5 s expires after it was minted (${half.expiresAt! - before} ms after)`);
  await t.rejects(server.auth.mintDisposableToken({ scope, expiresInSec: 0 }), { code: 'INVALID_ARGUMENT_ERROR' });
  await t.rejects(server.auth.mintDisposableToken({ scope, expiresInSec: 60, tokenId: 'x'.repeat(65) }), { code: 'INVALID_ARGUMENT_ERROR', message: /64/ });
  // An empty tokenId could never be revoked (a revocation names 1..64 characters).
  await t.rejects(server.auth.mintDisposableToken({ scope, expiresInSec: 60, tokenId: '' }), { code: 'INVALID_ARGUMENT_ERROR', message: /tokenId must be 1\.\.64 characters/ });
  // From untyped JavaScript: a number would be signed as is, and the grant (which reads a string) would carry no tokenId.
  await t.rejects(server.auth.mintDisposableToken({ scope, expiresInSec: 60, tokenId: 42 as unknown as string }), { code: 'INVALID_ARGUMENT_ERROR', message: /tokenId must be 1\.\.64 characters/ });
  await t.rejects(server.auth.mintDisposableToken({ scope: { permissions: [] }, expiresInSec: 60 }), { code: 'INVALID_ARGUMENT_ERROR' });
  const tooMany = { permissions: Array.from({ length: 21 }, () => scope.permissions[0]!) };
  await t.rejects(server.auth.mintDisposableToken({ scope: tooMany, expiresInSec: 60 }), { code: 'INVALID_ARGUMENT_ERROR', message: /at most 20/ });
  const key = await server.auth.mintApiKey({ scope, expiresInSec: null });
  t.equal(key.expiresAt, null, 'API keys may never expire');
});

async function mintOverHttp(server: { httpUrl: string }, bearer: string | undefined, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.httpUrl}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

t.test('tokens - POST /v1/tokens: API keys mint narrower tokens; disposable tokens cannot mint', async (t) => {
  const server = await startServer(t);
  const apiKey = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: null })).token;
  const narrow = { permissions: [{ role: 'subscribeonly', cache: 'chat', topic: { namePrefix: 'room-' } }] };

  const minted = await mintOverHttp(server, apiKey, { scope: narrow, expiresInSeconds: 60, tokenId: 'carol' });
  t.equal(minted.status, 201);
  t.ok(Math.abs(minted.json.expiresAt - (Date.now() + 60_000)) < 5000, 'expiresAt is about a minute away');
  const carol = await RawClient.open(server, minted.json.authToken);
  t.equal((await carol.request({ t: 'sub', cache: 'chat', topic: 'room-1' }))['t'], 'ok', 'the minted token works within its scope');
  t.match((await carol.request({ t: 'pub', cache: 'chat', topic: 'room-1', value: 'x' }))['e'], { code: 'PERMISSION_ERROR' });

  const disposable = await tokenFor(server, PermissionScopes.allDataReadWrite());
  const byToken = await mintOverHttp(server, disposable, { scope: narrow, expiresInSeconds: 60 });
  t.equal(byToken.status, 403);
  t.match(byToken.json.error, { code: 'PERMISSION_ERROR', message: /only an API key can mint/ });

  const wider = await mintOverHttp(server, apiKey, { scope: PermissionScopes.allDataReadWrite(), expiresInSeconds: 60 });
  t.equal(wider.status, 403);
  t.match(wider.json.error, { code: 'PERMISSION_ERROR', message: /wider than the API key/ });
  t.match(wider.json.error.message, /permissions\[0\] \(readwrite on cache \*\) asks to read, which the key does not allow/, 'the refusal names the first permission the key does not cover');

  // A key that expires bounds the tokens it mints: none may outlive it.
  const shortKey = (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: 600 })).token;
  const outliving = await mintOverHttp(server, shortKey, { scope: narrow, expiresInSeconds: 3600 });
  t.equal(outliving.status, 403);
  t.match(outliving.json.error, { code: 'PERMISSION_ERROR', message: /cannot outlive the API key/ });
  t.equal((await mintOverHttp(server, shortKey, { scope: narrow, expiresInSeconds: 60 })).status, 201, 'a token within the key\'s life is minted');

  // An admin key (every cache and topic, read and write: the dev server's, `tidings api-key`'s
  // default) has no presence right, so a token asking for one is wider: the refusal says what to do.
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const seeing = await mintOverHttp(server, admin, { scope: { permissions: [{ role: 'subscribeonly', cache: 'chat', topic: 'room-1', presence: true }] }, expiresInSeconds: 60 });
  t.equal(seeing.status, 403);
  t.match(seeing.json.error.message, /permissions\[0\] \(subscribeonly on topic room-1 of cache chat\) asks to see presence, which the key does not allow: .*"presence": true/, 'presence: the key needs it too, and the message says so');

  t.match(await mintOverHttp(server, undefined, { scope: narrow, expiresInSeconds: 60 }), { status: 401, json: { error: { code: 'AUTHENTICATION_ERROR', message: /Authorization: Bearer/ } } }, 'no key: the refusal says how to send one');
  t.equal((await mintOverHttp(server, 'garbage', { scope: narrow, expiresInSeconds: 60 })).status, 401);
  const badJson = await mintOverHttp(server, apiKey, '{nope');
  t.equal(badJson.status, 400);
  t.match(badJson.json.error, { code: 'INVALID_ARGUMENT_ERROR', message: /JSON/ });
  const noExpiry = await mintOverHttp(server, apiKey, { scope: narrow });
  t.match(noExpiry.json.error, { code: 'INVALID_ARGUMENT_ERROR', message: /expiresInSeconds/ });
  for (const [field, value] of [['tokenId', 42], ['momento', 'yes']] as const) {
    const bad = await mintOverHttp(server, apiKey, { scope: narrow, expiresInSeconds: 60, [field]: value });
    t.match({ status: bad.status, error: bad.json.error }, { status: 400, error: { code: 'INVALID_ARGUMENT_ERROR', message: new RegExp(field) } }, `${field}: ${JSON.stringify(value)}`);
  }
  // This server has no gRPC listener: a Momento-shaped token would name no endpoint.
  const momento = await mintOverHttp(server, apiKey, { scope: narrow, expiresInSeconds: 60, momento: true });
  t.match({ status: momento.status, error: momento.json.error }, { status: 409, error: { code: 'FAILED_PRECONDITION_ERROR', message: /gRPC listener/ } }, 'momento: true without momento.enabled');
  const badRole = await mintOverHttp(server, apiKey, { scope: { permissions: [{ role: 'owner', cache: '*' }] }, expiresInSeconds: 60 });
  t.match(badRole.json.error, { code: 'INVALID_ARGUMENT_ERROR', message: /role must be one of/ });
  const huge = await mintOverHttp(server, apiKey, { scope: narrow, expiresInSeconds: 60, pad: 'p'.repeat(1_100_000) });
  t.equal(huge.status, 413, 'a size limit is 413: retrying the same body will not help');
  t.match(huge.json.error, { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_size_limit_exceeded' });
});

t.test('tokens - an API key opens a connection; its scope still applies', async (t) => {
  const server = await startServer(t);
  const key = (await server.auth.mintApiKey({ scope: PermissionScopes.topicSubscribeOnly('chat', '*'), expiresInSec: null, tokenId: 'backend' })).token;
  const c = await RawClient.open(server, key);
  t.equal(c.hello!['expiresAt'], null, 'a key without expiry: expiresAt null');
  t.notOk('expiresInMs' in c.hello!, 'and no expiresInMs (docs/protocol.md: present only with an expiresAt)');
  t.equal((await c.request({ t: 'sub', cache: 'chat', topic: 'a' }))['t'], 'ok');
  t.match((await c.request({ t: 'pub', cache: 'chat', topic: 'a', value: 'x' }))['e'], { code: 'PERMISSION_ERROR' });
});

t.test('tokens - an API key revoked by token stays revoked as long as it could work: for good when it never expires, or until the time given', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock });
  const forever = (await server.auth.mintApiKey({ scope, expiresInSec: null })).token;
  const dayLong = (await server.auth.mintApiKey({ scope, expiresInSec: 86_400 })).token;
  t.equal((await server.revoke({ token: forever })).until, null, 'a key without expiry: the entry never expires');
  t.equal((await server.revoke({ token: dayLong, until: null })).until, null, 'an until given wins over the key\'s own expiry');
  // Past the default life of an entry (auth.maxTokenTtlSec + tolerance), which covers disposable tokens only.
  clock.advance((server.config.auth.maxTokenTtlSec + server.config.auth.clockToleranceSec) * 1000 + 1000);
  t.match((await helloError(server.wsUrl, forever)).error, { code: 'AUTHENTICATION_ERROR', message: 'token has been revoked' });
});

t.test('tokens - an expiring connection is warned, then told and closed with 4501', async (t) => {
  // The server's clock is moved by hand: no waiting for the token to run out.
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { expiryNoticeMs: 30_000, clockToleranceSec: 0 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope, { expiresInSec: 60 }));
  clock.advance(29_000);
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(c.frames.some((f) => f['t'] === 'notice'), 'no notice before expiry minus expiryNoticeMs');
  clock.advance(1000);
  t.match(await c.next((f) => f['t'] === 'notice', 3000), { kind: 'token_expiring', inMs: 30_000 });
  clock.advance(29_000);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(c.closed, undefined, 'still open until the expiry itself');
  clock.advance(1000);
  t.match(await c.next((f) => f['t'] === 'bye', 3000), { code: 4501, reason: 'token expired', reconnect: false });
  t.equal((await c.waitClosed()).code, 4501);
});

t.test('tokens - in-band refresh keeps subscriptions and extends the connection', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { expiryNoticeMs: 1000, clockToleranceSec: 0 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope, { expiresInSec: 2, tokenId: 'dave' }));
  t.match(c.hello, { tokenId: 'dave', expiresInMs: c.hello!['expiresAt'] - clock.now() }, 'hello names the identity and the time left by the server\'s clock');
  await c.ok({ t: 'sub', cache: 'chat', topic: 'keep' });
  clock.advance(1000);
  await c.next((f) => f['t'] === 'notice', 3000);
  const refreshed = await c.ok({ t: 'auth', token: await tokenFor(server, scope, { expiresInSec: 60, tokenId: 'dave' }) });
  t.ok(refreshed['expiresAt'] > clock.now() + 50_000, 'new expiry reported');
  t.match(refreshed, { tokenId: 'dave', expiresInMs: refreshed['expiresAt'] - clock.now() }, 'so does the auth reply, for the new credential');
  t.same(refreshed['ended'], []);
  clock.advance(2200);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(c.closed, undefined, 'still open after the first token expired');
  await c.ok({ t: 'pub', cache: 'chat', topic: 'keep', value: 'still here' });
  t.match((await c.items(1))[0], { value: 'still here', tokenId: 'dave' });
  // Closed before its deadlines came, by the client: one with an expiry deadline, one awaiting hello.
  const silent = await RawClient.connect(server.wsUrl);
  for (const closing of [c, silent]) {
    closing.close();
    await closing.waitClosed();
  }
  await waitFor('the closed connections\' deadlines to be let go', () => server.broker.deadlines.size === 0);
  t.pass('a closed connection holds no deadline');
});

t.test('tokens - a refresh cannot change identity, and ends subscriptions the new scope drops', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'erin' }));
  await c.ok({ t: 'sub', cache: 'chat', topic: 'a' });
  await c.ok({ t: 'sub', cache: 'chat', topic: 'b' });
  const impostor = await c.request({ t: 'auth', token: await tokenFor(server, scope, { tokenId: 'mallory' }) });
  t.match(impostor['e'], { code: 'AUTHENTICATION_ERROR', message: /same tokenId/ });
  const narrower = await c.ok({ t: 'auth', token: await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', 'a'), { tokenId: 'erin' }) });
  t.same(narrower['ended'], [{ cache: 'chat', topic: 'b' }]);
  t.match(await c.next((f) => f['t'] === 'end'), { cache: 'chat', topic: 'b', e: { code: 'AUTHENTICATION_ERROR' } });
  const bad = await c.request({ t: 'auth', token: 'garbage' });
  t.match(bad['e'], { code: 'AUTHENTICATION_ERROR' });
  t.equal(c.closed, undefined, 'a failed refresh leaves the connection on its current token');
});

t.test('tokens - a refresh that ends a sub still being set up answers that sub with its error, and sends no end', async (t) => {
  if (!requireRedis(t)) return;
  // Redis engine: the sub waits for Redis while the pipelined auth is handled.
  const server = await startServer(t, { engine: 'redis' });
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'fred' }));
  const narrower = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', 'a'), { tokenId: 'fred' });
  const [sub, refreshed] = await Promise.all([c.request({ t: 'sub', cache: 'chat', topic: 'b' }), c.request({ t: 'auth', token: narrower })]);
  t.same(refreshed!['r']['ended'], [{ cache: 'chat', topic: 'b' }], 'the refresh found the sub under way');
  t.match(sub!['e'], { code: 'AUTHENTICATION_ERROR' }, 'the sub is answered with the refresh\'s error, not CANCELLED_ERROR');
  // An `end` would have been sent before the sub's reply.
  t.same(await c.drain('end', 0), [], 'no end for a subscription the client never had');
});

t.test('tokens - verification uses the injected clock', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock });
  const token = await tokenFor(server, scope, { expiresInSec: 60 });
  // Past its expiry but within auth.clockToleranceSec: accepted, with no time left, then told and closed.
  clock.advance(60_000 + 1000);
  const late = await RawClient.connect(server.wsUrl);
  t.match(await late.request({ t: 'hello', versions: [1], token }), { t: 'ok', r: { expiresInMs: 0 } }, 'a credential within the tolerance has 0 ms left, not less');
  clock.advance(0); // the server's deadline timer runs on this clock
  t.match(await late.next((f) => f['t'] === 'notice', 3000), { kind: 'token_expiring', inMs: 0 });
  t.match(await late.next((f) => f['t'] === 'bye', 3000), { code: 4501, reconnect: false });
  clock.advance(60_000);
  t.match((await helloError(server.wsUrl, token)).error, { code: 'AUTHENTICATION_ERROR', message: /expired/ });
});

t.test('tokens - an untyped failure while checking a hello is answered INTERNAL_SERVER_ERROR, and its text is in neither the bye nor the close reason', async (t) => {
  // A revocation list (a plug-in seam: CreateServerOptions.revocations) failing in a way nothing typed.
  class FailingRevocations extends MemoryRevocationList {
    override isRevoked(): boolean { throw new Error('revocation store said: password=hunter2'); }
  }
  const server = await createServer({
    config: { logLevel: 'silent', server: { port: 0 }, auth: { signingKeys: [generateSigningKey()] } },
    revocations: new FailingRevocations(10, systemClock),
  }, defaultFeatures());
  t.teardown(() => server.close());
  const c = await RawClient.connect(server.wsUrl);
  const reply = await c.request({ t: 'hello', versions: [1], token: await tokenFor(server, scope) });
  t.match(reply['e'], { code: 'INTERNAL_SERVER_ERROR', message: 'internal server error' });
  const bye = await c.next((f) => f['t'] === 'bye');
  const closed = await c.waitClosed();
  t.notMatch(String(bye['reason']), /hunter2/, 'not in the bye frame');
  t.notMatch(closed.reason, /hunter2/, 'not in the close reason');
  t.equal(bye['reason'], 'internal server error', 'which say what the reply said');
});

t.test('tokens - no open stream outlives its credential, whatever its transport', async (t) => {
  // Moved by hand: the expiry, not a loaded machine, decides when. A waiting poll would be answered
  // at its own wait's end first were that shorter than the credential's life.
  const clock = new ManualClock(Date.now());
  const server = await startMomentoServer(t, { clock, config: { auth: { clockToleranceSec: 0 }, http: { longPollMaxWaitMs: 120_000 } } });
  const token = await tokenFor(server, scope, { expiresInSec: 60, tokenId: 'erin' });
  const streams = await openStreams(t, server, token, 'erin');
  clock.advance(60_000);
  t.same(await streams.ended(), {
    websocket: 'close 4501', 'sdk stream': 'bye 4501', sse: 'bye 4501', 'long-poll': '401 token expired',
    grpc: `token expired (status ${status.UNAUTHENTICATED})`, 'grpc-web': `token expired (status ${status.UNAUTHENTICATED})`,
  }, 'each ends, saying the token expired');
});
