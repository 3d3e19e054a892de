/** Token refresh with short-lived tokens (no tight loop; a reconnect does not send a token within
 * tokenRefreshMarginMs of its expiry), and token providers that hang (every promise settles; a
 * reconnect gives up as configured instead of "connecting" for ever). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { ManualClock } from '../../src/index.js';
import { sdkFor, statusReached, chatScope } from '../helpers/sdk.js';

t.test('a token living less than tokenRefreshMarginMs does not make the SDK refresh in a tight loop', async (t) => {
  const server = await startServer(t);
  let minted = 0;
  const tokenProvider = async () => {
    minted++;
    return (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 30, tokenId: 'short' })).token;
  };
  const sdk = await sdkFor(t, server, { tokenProvider }); // default margin: 60 s > 30 s of life
  await statusReached(sdk.connection, 'open');
  await new Promise((r) => setTimeout(r, 1500));
  t.ok(minted <= 3, `provider asked ${minted} times in 1.5 s of a 30 s token`);
});

t.test('refreshToken() settles even when the provider hangs and the app closes', async (t) => {
  const server = await startServer(t);
  let calls = 0;
  const tokenProvider = async () => {
    if (calls++ === 0) return (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 300, tokenId: 'hang' })).token;
    return new Promise<string>(() => {}); // hangs
  };
  const sdk = await sdkFor(t, server, { tokenProvider, requestTimeoutMs: 500, connectTimeoutMs: 500 });
  await statusReached(sdk.connection, 'open');
  const refresh = sdk.connection.refreshToken();
  let outcome = 'pending';
  refresh.then(() => { outcome = 'resolved'; }, (e) => { outcome = `rejected ${e?.code}`; });
  sdk.connection.close();
  await new Promise((r) => setTimeout(r, 1500));
  t.not(outcome, 'pending', `refreshToken() settled: ${outcome}`);
});

t.test('a provider that hangs on reconnect does not leave the connection "connecting" for ever', async (t) => {
  // The server's clock is moved by hand: exp is whole seconds, so on the real one the 1 s token
  // lives anywhere from a few ms to 1 s, and could expire before its hello was answered.
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { clockToleranceSec: 0 } } });
  let calls = 0;
  const tokenProvider = async () => {
    if (calls++ === 0) return (await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: 1, tokenId: 'hang2' })).token;
    return new Promise<string>(() => {}); // hangs
  };
  const sdk = await sdkFor(t, server, { tokenProvider, requestTimeoutMs: 500, connectTimeoutMs: 500, maxReconnectAttempts: 2, tokenRefreshMarginMs: 1 });
  await statusReached(sdk.connection, 'open');
  // the token expires; the server closes 4501; the reconnect asks the provider, which hangs
  clock.advance(1000);
  const s = await statusReached(sdk.connection, 'closed', () => true, 6000).catch((e) => e as Error);
  t.notOk(s instanceof Error, `the connection gives up instead of waiting for ever: ${s instanceof Error ? s.message : JSON.stringify(s)}`);
});

t.test('a reconnect with a token inside tokenRefreshMarginMs asks the provider first, not after a refused hello', async (t) => {
  // The server's clock is moved by hand: it stands still while the test runs, then jumps past the
  // first token's expiry while the link is down.
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { clockToleranceSec: 0 } } });
  const expiries: number[] = [];
  const tokenProvider = async () => {
    // 60 s, then 300 s: the first lives less than the margin below, the next ones more.
    const m = await server.auth.mintDisposableToken({ scope: chatScope, expiresInSec: expiries.length === 0 ? 60 : 300, tokenId: 'nearly' });
    expiries.push(m.expiresAt!);
    return m.token;
  };
  // The SDK's refresh of a token living less than twice the margin is due halfway (30 s): far off.
  const sdk = await sdkFor(t, server, { tokenProvider, tokenRefreshMarginMs: 120_000 });
  const first = await statusReached(sdk.connection, 'open');
  t.equal(first.expiresAt, expiries[0], 'the first link runs on the 60 s token');
  const closes: number[] = [];
  sdk.connection.onStatus((s) => {
    if (s.state !== 'reconnecting') return;
    closes.push(s.lastClose.code);
    // While the link is down, the first token's time runs out on the server.
    if (closes.length === 1) clock.advance(61_000);
  });
  server.broker.sessions.get(first.connectionId)!.connection.close(4000, 'test: drop the link');
  const second = await statusReached(sdk.connection, 'open', (s) => s.connectionId !== first.connectionId);
  t.same(closes, [4000], 'one reconnect: no hello refused for the expired token (4500) on the way');
  t.equal(expiries.length, 2, 'the provider was asked once more, before the hello');
  t.equal(second.expiresAt, expiries[1], 'the new link runs on the fresh token');
});
