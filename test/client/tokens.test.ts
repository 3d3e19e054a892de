import t from 'tap';
import { startServer } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { ManualClock, systemClock } from '../../src/index.js';
import { sdkFor, itemCollector, statusReached, collector, chatScope, until } from '../helpers/sdk.js';
import {
  AuthClient, ExpiresIn, GenerateDisposableToken, GenerateDisposableTokenResponse, PermissionScopes, TidingsClientError,
  type ConnectionStatus, type TokenRefreshEvent,
} from '../../src/client/index.js';

// The server's clock is moved by hand in the expiry cases: on the real one a loaded machine could
// let a 2 s token run out before the SDK's refresh (400 ms before it) reached the server.
t.test('tokens - tokenProvider refreshes in band before expiry; subscriptions survive the old token', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { expiryNoticeMs: 500, clockToleranceSec: 0 } } });
  let minted = 0;
  let firstExpiresAt = 0;
  const tokenProvider = async () => {
    minted++;
    const m = await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: minted === 1 ? 2 : 300, tokenId: 'refresher' });
    if (minted === 1) firstExpiresAt = m.expiresAt!;
    return m.token;
  };
  const sdk = await sdkFor(t, server, { tokenProvider, tokenRefreshMarginMs: 400 });
  const refreshes = collector<TokenRefreshEvent>();
  sdk.connection.onTokenRefresh(refreshes.push); // before anything is awaited: the refresh runs on the real clock
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'long', got.callbacks);
  const statuses = collector<ConnectionStatus['state']>();
  sdk.connection.onStatus((s) => statuses.push(s.state));

  const [refresh] = await refreshes.until(1, 5000);
  t.equal(refresh!.ok, true);
  t.ok(refresh!.ok && refresh!.expiresAt! > firstExpiresAt + 60_000, 'the server took the fresh token');
  t.equal(minted, 2, 'asked the provider once more');
  clock.advance(firstExpiresAt + 300 - clock.now()); // past the first token's expiry: the server would have closed 4501
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'long', 'after the first token expired');
  await got.items.until(1);
  t.same(statuses.events, [], 'no reconnect: the token was swapped in band');
});

t.test('tokens - after a 4501 close the provider is asked again and every subscription resumes', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { expiryNoticeMs: 300, clockToleranceSec: 0 } } });
  let minted = 0;
  let firstExpiresAt = 0;
  // The in-band refresh is refused (another tokenId), so the first token runs out: close 4501. It
  // lives 2 s: exp is whole seconds, so a 1-second token can expire before its hello is answered.
  const tokenProvider = async () => {
    minted++;
    const m = await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: minted === 1 ? 2 : 300, tokenId: minted === 1 ? 'first' : 'second' });
    if (minted === 1) firstExpiresAt = m.expiresAt!;
    return m.token;
  };
  const sdk = await sdkFor(t, server, { tokenProvider, tokenRefreshMarginMs: 200 });
  const refreshes = collector<TokenRefreshEvent>();
  sdk.connection.onTokenRefresh(refreshes.push); // before anything is awaited: the refresh runs on the real clock
  const got = itemCollector();
  await sdk.topics.subscribe('chat', 'room', got.callbacks);
  const publisher = await sdkFor(t, server, { tokenId: 'publisher' });
  await publisher.topics.publish('chat', 'room', 'before');
  await got.items.until(1);

  const [refused] = await refreshes.until(1, 5000);
  t.equal(refused!.ok, false);
  t.equal(!refused!.ok && refused!.error.code, 'AUTHENTICATION_ERROR', 'a refresh must keep the tokenId');
  clock.advance(firstExpiresAt - clock.now()); // the first token runs out
  const dropped = await statusReached(sdk.connection, 'reconnecting', (s) => s.lastClose.code === 4501, 5000);
  t.match(dropped.lastClose.reason, /expired/);
  await publisher.topics.publish('chat', 'room', 'during');
  await statusReached(sdk.connection, 'open');
  await publisher.topics.publish('chat', 'room', 'after');
  await got.items.until(3);
  t.same(got.values(), ['before', 'during', 'after'], 'resumed with no loss and no duplicate');
  t.same(got.items.events.map((i) => i.tokenId()), ['publisher', 'publisher', 'publisher']);
});

t.test('tokens - a provider whose tokens are refused is asked again at most 3 times, then the connection closes with AUTHENTICATION_ERROR', async (t) => {
  const server = await startServer(t);
  let asked = 0;
  // maxReconnectAttempts only bounds the case should the retries not be (by default it is Infinity).
  const sdk = await sdkFor(t, server, { tokenProvider: async () => { asked++; return 'not-a-token'; }, maxReconnectAttempts: 10 });
  const closed = await statusReached(sdk.connection, 'closed', () => true, 10_000);
  t.equal(closed.error?.code, 'AUTHENTICATION_ERROR', `the refusal, not a reconnect budget spent (${closed.reason})`);
  t.equal(asked, 1 + 3, 'the first token and 3 fresh ones (docs/client.md: up to 3 times in a row)');
});

t.test('tokens - refreshToken() reports a refusal and keeps the connection', async (t) => {
  const server = await startServer(t);
  let n = 0;
  const tokenProvider = async () => (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: `user-${n++}` })).token;
  const sdk = await sdkFor(t, server, { tokenProvider });
  await sdk.connection.ready();
  const error = await sdk.connection.refreshToken().then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof TidingsClientError);
  t.equal((error as TidingsClientError).errorCode(), 'AUTHENTICATION_ERROR');
  t.equal(sdk.connection.status.state, 'open');
  t.equal((await sdk.cache.set('chat', 'k', 'v')).type, 'Success', 'still usable');
});

t.test('tokens - AuthClient mints disposable tokens over HTTP with an API key', async (t) => {
  const server = await startServer(t, { config: { dev: true } });
  t.ok(server.adminApiKey, 'dev mode has an admin key');
  const auth = new AuthClient({ url: server.httpUrl, apiKey: server.adminApiKey! });
  const ok = await auth.generateDisposableToken(PermissionScopes.topicSubscribeOnly('chat', 'a'), ExpiresIn.minutes(5), { tokenId: 'x' });
  t.ok(ok instanceof GenerateDisposableToken.Success);
  t.equal(ok.type, GenerateDisposableTokenResponse.Success);
  if (ok.type === 'Success') {
    t.ok(ok.expiresAt.epoch() > Date.now() / 1000 + 200 && ok.expiresAt.epoch() <= Date.now() / 1000 + 301);
    t.equal(ok.endpoint, server.httpUrl);
    const grant = await server.auth.verify(ok.authToken);
    t.equal(grant.tokenId, 'x');
    t.ok(grant.permissions.allowsTopic('subscribe', 'chat', 'a'));
    t.notOk(grant.permissions.allowsTopic('publish', 'chat', 'a'));
    // The minted token works on a connection.
    const sdk = await sdkFor(t, server, { token: ok.authToken });
    const sub = await sdk.topics.subscribe('chat', 'a');
    t.equal(sub.type, 'Subscription');
  }
  let posts = 0;
  const counting = new AuthClient({ url: server.httpUrl, apiKey: server.adminApiKey!, fetch: (input, init) => { posts++; return fetch(input, init); } });
  const never = await counting.generateDisposableToken(chatScope, ExpiresIn.never());
  t.equal(never.type === 'Error' && never.errorCode(), 'INVALID_ARGUMENT_ERROR');
  t.equal(posts, 0, 'a token that never expires is refused without asking the server');

  const narrowKey = (await server.auth.mintApiKey({ scope: chatScope, expiresInSec: null })).token;
  const narrow = new AuthClient({ url: server.wsUrl, apiKey: narrowKey });
  const wider = await narrow.generateDisposableToken(PermissionScopes.allDataReadWrite(), ExpiresIn.minutes(5));
  t.equal(wider.type === 'Error' && wider.errorCode(), 'PERMISSION_ERROR', 'a key cannot mint more than it holds');
  const bad = await new AuthClient({ url: server.httpUrl, apiKey: 'not-a-key' }).generateDisposableToken(chatScope, ExpiresIn.minutes(1));
  t.equal(bad.type === 'Error' && bad.errorCode(), 'AUTHENTICATION_ERROR');
  const throwing = new AuthClient({ url: server.httpUrl, apiKey: 'not-a-key', throwOnErrors: true });
  await t.rejects(throwing.generateDisposableToken(chatScope, ExpiresIn.minutes(1)), { code: 'AUTHENTICATION_ERROR' }, 'throwOnErrors throws');
});

t.test('tokens - AuthClient: an unreachable broker is a CONNECTION_ERROR, a cancelled call CANCELLED_ERROR', async (t) => {
  const server = await startServer(t);
  const port = server.port;
  await server.close();
  const auth = new AuthClient({ url: `http://127.0.0.1:${port}`, apiKey: 'k' });
  const down = await auth.generateDisposableToken(chatScope, ExpiresIn.minutes(1));
  t.equal(down.type === 'Error' && down.errorCode(), 'CONNECTION_ERROR');
  const controller = new AbortController();
  controller.abort();
  const cancelled = await auth.generateDisposableToken(chatScope, ExpiresIn.minutes(1), { signal: controller.signal });
  t.equal(cancelled.type === 'Error' && cancelled.errorCode(), 'CANCELLED_ERROR');
});

t.test('tokens - AuthClient: a reply without a typed error is mapped by its status as docs/http-api.md maps codes to statuses', async (t) => {
  // A gateway in front of the broker answering on its own, with no JSON error body.
  const gateway = await HttpReceiver.start(t);
  const statuses = [500, 502, 503, 504, 400, 401, 403, 404, 413, 429, 418];
  gateway.respond = (_request, index) => ({ status: statuses[index]! });
  const auth = new AuthClient({ url: gateway.url, apiKey: 'k' });
  const codes: Array<string | false> = [];
  for (let i = 0; i < statuses.length; i++) {
    const res = await auth.generateDisposableToken(chatScope, ExpiresIn.minutes(1));
    codes.push(res.type === 'Error' && res.errorCode());
  }
  t.same(codes.slice(0, 4), ['INTERNAL_SERVER_ERROR', 'SERVER_UNAVAILABLE', 'SERVER_UNAVAILABLE', 'TIMEOUT_ERROR'], 'a 500 is not "unavailable, retry"');
  t.same(codes.slice(4), ['INVALID_ARGUMENT_ERROR', 'AUTHENTICATION_ERROR', 'PERMISSION_ERROR', 'NOT_FOUND_ERROR', 'LIMIT_EXCEEDED_ERROR', 'LIMIT_EXCEEDED_ERROR', 'INTERNAL_SERVER_ERROR'],
    'a gateway\'s 401 or 429 means what the server\'s would; a status the table does not name is INTERNAL_SERVER_ERROR');
});

t.test('tokens - AuthClient: a timeout a timer cannot hold is refused, not turned into 1 ms', async (t) => {
  const server = await startServer(t);
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  proxy.blackhole(); // a broker that never answers: only the timeout ends the call
  const auth = new AuthClient({ url: `http://127.0.0.1:${proxy.port}`, apiKey: 'k' });
  for (const timeoutMs of [Infinity, 2 ** 31]) {
    const res = await auth.generateDisposableToken(chatScope, ExpiresIn.minutes(1), { timeoutMs });
    t.equal(res.type === 'Error' && res.errorCode(), 'INVALID_ARGUMENT_ERROR', `timeoutMs ${timeoutMs}: ${res}`);
  }
  t.throws(() => new AuthClient({ url: server.httpUrl, apiKey: 'k', requestTimeoutMs: Infinity }), /options\.requestTimeoutMs/);
  t.throws(() => new AuthClient({ url: '', apiKey: 'k' }), /options\.url/);
  t.throws(() => new AuthClient({ url: server.httpUrl, apiKey: '' }), /options\.apiKey/);
  const late = await auth.generateDisposableToken(chatScope, ExpiresIn.minutes(1), { timeoutMs: 200 });
  t.equal(late.type === 'Error' && late.errorCode(), 'TIMEOUT_ERROR', `no answer within timeoutMs: ${late}`);
  // A reachable broker: the call is refused before it is made, not sent and then reported.
  const cancelled = await new AuthClient({ url: server.httpUrl, apiKey: 'k' }).generateDisposableToken(chatScope, ExpiresIn.minutes(1), { signal: AbortSignal.abort() });
  t.equal(cancelled.type === 'Error' && cancelled.errorCode(), 'CANCELLED_ERROR', `a signal that fired already: ${cancelled}`);
});

t.test('tokens - a device clock ahead of the server by more than the token lifetime does not make the SDK refresh in a loop', async (t) => {
  // The server's clock is 10 minutes behind this process's: its 5-minute tokens look expired here.
  const server = await startServer(t, { clock: { ...systemClock, now: () => Date.now() - 600_000 } });
  let minted = 0;
  const tokenProvider = async () => { minted++; return (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'skewed' })).token; };
  const sdk = await sdkFor(t, server, { tokenProvider });
  await sdk.connection.ready();
  const refreshes = collector<TokenRefreshEvent>();
  sdk.connection.onTokenRefresh(refreshes.push);
  await until(Date.now() + 300);
  t.same(refreshes.events, [], 'no refresh within 300 ms of a token that has 5 minutes left');
  t.equal(minted, 1, 'the provider was asked once');
  t.equal(sdk.connection.status.state, 'open');
});
