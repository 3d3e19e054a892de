/** Real Chromium: EventSource with the ticket flow (live items, resume after the server drops the
 * stream, nothing lost or doubled), and the demo chat behind a proxy that refuses WebSocket
 * upgrades, working through the SDK's SSE + HTTP fallback with no change to the page; and that
 * fallback from a page on another allowed origin, and the official Momento web SDK over
 * grpc-web-text (each with its own guarantee stated above its test). One Chromium for every
 * browser test (chromium.test.ts runs this module), a browser context per page. */
import t, { type Test } from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, sharedChromium, newPage } from '../helpers/browser.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { tokenFor } from '../helpers/raw-client.js';
import { build } from 'esbuild';
import { apiKeyFor, momentoClients, startMomentoServer } from '../helpers/momento.js';
import { PermissionScopes, encodeMomentoCredential, type TidingsServer } from '../../src/index.js';

buildSdkBundle();
const chromium = sharedChromium();

t.test('browser - EventSource with a one-use ticket: live items, resume through the window after a drop', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { http: { sseRetryMs: 50 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('feed', '*'), { tokenId: 'writer' });
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  page.on('pageerror', (err) => { throw err; });
  await page.goto(`${server.httpUrl}/healthz`);
  // The page's code: trade the token for a ticket, open EventSource; when the stream ends for good
  // (a spent ticket cannot reconnect), get a new ticket and resume from the last event id.
  await page.evaluate((token) => {
    const w = window as unknown as { got: unknown[]; opened: number; open(last?: string): Promise<void> };
    w.got = [];
    w.opened = 0;
    w.open = async (last?: string) => {
      const res = await fetch('/v1/sse/tickets', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      const { ticket } = await res.json();
      const es = new EventSource(`/v1/sse?cache=feed&topic=news&ticket=${ticket}${last ? `&lastEventId=${encodeURIComponent(last)}` : ''}`);
      let lastId = last;
      es.addEventListener('ready', (e) => { w.opened++; lastId = (e as MessageEvent).lastEventId; });
      es.onmessage = (e) => { lastId = e.lastEventId; w.got.push(JSON.parse(e.data)); };
      es.onerror = () => { if (es.readyState === EventSource.CLOSED) void w.open(lastId); };
    };
    return w.open();
  }, token);
  await page.waitForFunction(() => (window as unknown as { opened: number }).opened === 1);
  const publish = (text: string) => fetch(`${server.httpUrl}/v1/topics/feed/news`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: text });
  for (let i = 1; i <= 3; i++) await publish(`n${i}`);
  await page.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length === 3);
  // The server drops the stream; items published before the page is back are replayed.
  for (const s of [...server.broker.sessions.values()]) if (s.subscriptions.size > 0) server.broker.bye(s, 4000, 'test: drop');
  for (let i = 4; i <= 6; i++) await publish(`n${i}`);
  await page.waitForFunction(() => (window as unknown as { opened: number }).opened === 2, undefined, { timeout: 10_000 });
  for (let i = 7; i <= 8; i++) await publish(`n${i}`);
  await page.waitForFunction(() => (window as unknown as { got: unknown[] }).got.length >= 8);
  await new Promise((r) => setTimeout(r, 200));
  const got = await page.evaluate(() => (window as unknown as { got: Array<{ value: string; seq: number; tokenId: string }> }).got);
  t.same(got.map((g) => g.value), ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'], 'every item once, in order, across the drop');
  t.same(got.map((g) => g.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.equal(got[0]!.tokenId, 'writer');
});

async function joinAs(t: Test, browser: Browser, url: string, name: string, room: string): Promise<Page> {
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  page.on('pageerror', (err) => { throw err; });
  await page.goto(`${url}/`);
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#join-form button[type=submit]');
  await page.waitForSelector('#status[data-state="open"]', { timeout: 15_000 });
  return page;
}
async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}
function messages(page: Page): Promise<string[]> {
  return page.$$eval('#messages .msg:not(.rejected)', (els) => els.map((el) => `${el.querySelector('.author')?.textContent}: ${el.querySelector('.text')?.textContent}`));
}

t.test('browser - the demo chat works behind a proxy that refuses WebSocket upgrades', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server: TidingsServer = await startServer(t, { config: { dev: true } });
  const proxy = await startTcpProxy(server.port);
  t.teardown(() => proxy.close());
  proxy.refuseUpgrades();
  const url = `http://127.0.0.1:${proxy.port}`;
  const ada = await joinAs(t, browser, url, 'Ada', 'lobby');
  const bob = await joinAs(t, browser, url, 'Bob', 'lobby');
  const streams = [...server.broker.sessions.values()].filter((s) => s.connection.constructor.name === 'StreamConnection');
  t.equal(streams.length, 2, 'both pages are connected over the SSE + HTTP stream');
  await send(ada, 'Hello Bob!');
  await send(bob, 'Hi   Ada');
  await bob.waitForFunction(() => document.querySelectorAll('#messages .msg:not(.rejected)').length >= 2);
  await ada.waitForFunction(() => document.querySelectorAll('#messages .msg:not(.rejected)').length >= 2);
  t.same(await messages(ada), ['Ada: Hello Bob!', 'Bob: Hi Ada'], 'moderated and stamped, as over WebSocket');
  t.same(await messages(bob), ['Ada: Hello Bob!', 'Bob: Hi Ada']);
  await send(ada, 'this is spam');
  await ada.waitForSelector('#messages .msg.rejected');
  t.match(await ada.textContent('#messages .msg.rejected .why'), /spam/, 'the rejection reaches the HTTP sender');
  const cleo = await joinAs(t, browser, url, 'Cleo', 'lobby');
  await cleo.waitForFunction(() => document.querySelectorAll('#messages .msg:not(.rejected)').length >= 2);
  t.same(await messages(cleo), ['Ada: Hello Bob!', 'Bob: Hi Ada'], 'a late joiner gets the history');
});

/** The SDK's SSE + HTTP fallback works from a page on another origin listed in server.corsOrigins:
 * its POST /v1/stream (X-Tidings-Stream, an octet-stream body) is preflighted, and the preflight
 * is answered (the stream route handles every method itself, before the OPTIONS wildcard). */
t.test('browser - the http fallback transport from a page on another (allowed) origin', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  // The page's origin: a blank page on another port.
  const pages = http.createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end('<!doctype html><title>app</title>'); });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => pages.close(() => r())));
  const pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  const server = await startServer(t, { config: { server: { corsOrigins: [pageOrigin] } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('feed', '*'), { tokenId: 'page' });
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  await page.goto(`${pageOrigin}/`);
  const result = await page.evaluate(async ({ url, token }) => {
    const sdk = await import(`${url}/sdk/tidings.js`);
    const client = sdk.connect({ url, token, transport: 'http', reconnectBaseMs: 50, reconnectMaxMs: 100 });
    const states: string[] = [];
    client.connection.onStatus((s: { state: string }) => states.push(s.state));
    const published = await client.topics.publish('feed', 'news', 'hello', { timeoutMs: 4000 }).catch((e: Error) => e);
    const out = { published: String(published), states: states.slice(0, 8) };
    client.close();
    return out;
  }, { url: server.httpUrl, token });
  t.match(result.published, /^Success/, `publish over the fallback from ${pageOrigin}: ${result.published}; statuses ${result.states.join(',')}`);
});

/** Conformance (the official Momento web SDK): the official @gomomento/sdk-web (grpc-web-text over XHR) in real Chromium against a
 * real Tidings server: cache data, hits and misses, a scoped token's permission error, token minting,
 * and a topic subscription that receives an item published with the official Node SDK. */
/** The web SDK as one script exposing `MomentoWeb`, built from the pinned package. */
async function webSdkBundle(): Promise<string> {
  const result = await build({
    entryPoints: ['node_modules/@gomomento/sdk-web/dist/src/index.js'],
    bundle: true, format: 'iife', globalName: 'MomentoWeb', platform: 'browser', write: false, logLevel: 'error',
  });
  return result.outputFiles[0]!.text;
}

t.test('momento web sdk in chromium - cache, tokens and topics over grpc-web-text', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  // Streams are recycled quickly here so the test sees the SDK resume across a recycle.
  // The page (about:blank) is another origin than the server's: grpc-web honours server.corsOrigins.
  const server = await startMomentoServer(t, { config: { momento: { webStreamMaxMs: 1500 }, server: { corsOrigins: ['*'] } } });
  const apiKey = await apiKeyFor(server);
  const scoped = await server.auth.mintDisposableToken({ scope: PermissionScopes.cacheReadOnly('app'), expiresInSec: 60 });
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  const errors: Error[] = [];
  // Subscribe calls the page makes: a second one is the SDK resubscribing after a recycle.
  let subscribes = 0;
  page.on('request', (request) => { if (request.url().endsWith('/cache_client.pubsub.Pubsub/Subscribe')) subscribes++; });
  page.on('pageerror', (err) => errors.push(err));
  await page.setContent('<!doctype html><title>momento web sdk</title>');
  await page.addScriptTag({ content: await webSdkBundle() });

  const endpoint = server.httpUrl;
  const results = await page.evaluate(async ({ key, scopedKey, endpoint }) => {
    const M = (window as unknown as { MomentoWeb: any }).MomentoWeb;
    const overrides = { cacheEndpoint: endpoint, controlEndpoint: endpoint, tokenEndpoint: endpoint, secureConnection: false };
    const credentialProvider = M.CredentialProvider.fromString({ apiKey: key, endpointOverrides: overrides });
    const cache = new M.CacheClient({ configuration: M.Configurations.Browser.v1(), credentialProvider, defaultTtlSeconds: 60 });
    const out: Record<string, unknown> = {};
    out.miss = (await cache.get('app', 'k')).type;
    out.set = (await cache.set('app', 'k', 'from the browser')).type;
    out.hit = (await cache.get('app', 'k')).value();
    out.pushed = (await cache.listConcatenateBack('app', 'history', ['a', 'b', 'c'], { truncateFrontToSize: 2 })).listLength();
    out.fetched = (await cache.listFetch('app', 'history')).value();
    out.popped = (await cache.listPopFront('app', 'history')).value();
    const scopedCache = new M.CacheClient({
      configuration: M.Configurations.Browser.v1(), defaultTtlSeconds: 60,
      credentialProvider: M.CredentialProvider.fromString({ apiKey: scopedKey, endpointOverrides: overrides }),
    });
    out.readOnly = (await scopedCache.get('app', 'k')).value();
    out.denied = (await scopedCache.set('app', 'k', 'x')).errorCode();
    const auth = new M.AuthClient({ credentialProvider });
    const minted = await auth.generateDisposableToken(M.DisposableTokenScopes.topicSubscribeOnly('chat', 'room1'), M.ExpiresIn.minutes(5), { tokenId: 'web-user' });
    out.minted = minted.type;
    // Subscribe with the minted token; the Node side publishes once the browser says it is ready.
    const topics = new M.TopicClient({
      configuration: M.TopicConfigurations.Default.latest(),
      credentialProvider: M.CredentialProvider.fromString({ apiKey: minted.authToken, endpointOverrides: overrides }),
    });
    const w = window as unknown as { items: Array<{ value: string; seq: number; tokenId: string | undefined }>; subscription: unknown };
    w.items = [];
    const sub = await topics.subscribe('chat', 'room1', {
      onItem: (item: any) => w.items.push({ value: item.valueString(), seq: item.sequenceNumber(), tokenId: item.tokenId() }),
      onError: (e: any) => w.items.push({ value: `error ${e.errorCode()}`, seq: -1, tokenId: undefined }),
    });
    out.subscribed = sub.type;
    w.subscription = sub;
    out.publishDenied = (await topics.publish('chat', 'room1', 'x')).errorCode();
    return out;
  }, { key: encodeMomentoCredential({ endpoint: `127.0.0.1:${server.momentoPort}`, apiKey }), scopedKey: encodeMomentoCredential({ endpoint: 'tidings', apiKey: scoped.token }), endpoint });

  t.same(results, {
    miss: 'Miss', set: 'Success', hit: 'from the browser', pushed: 2, fetched: ['b', 'c'], popped: 'b',
    readOnly: 'from the browser', denied: 'PERMISSION_ERROR', minted: 'Success', subscribed: 'Subscription', publishDenied: 'PERMISSION_ERROR',
  });

  const node = await momentoClients(t, server, await apiKeyFor(server, PermissionScopes.allDataReadWrite(), 'node-publisher'));
  await node.topics.publish('chat', 'room1', 'hello browser');
  await page.waitForFunction(() => (window as unknown as { items: unknown[] }).items.length >= 1, undefined, { timeout: 10_000 });
  const items = await page.evaluate(() => (window as unknown as { items: unknown[] }).items);
  t.same(items, [{ value: 'hello browser', seq: 1, tokenId: 'node-publisher' }]);
  // Past momento.webStreamMaxMs the server ends the stream (OK); the SDK resubscribes from seq 1.
  // Waited for (the page's second Subscribe call), not a fixed 2 s, which never checked it happened.
  await waitFor('the SDK to resubscribe after the stream was recycled', () => subscribes >= 2);
  t.pass('the SDK resubscribed after the server recycled its stream');
  await node.topics.publish('chat', 'room1', 'after the recycle');
  await page.waitForFunction(() => (window as unknown as { items: unknown[] }).items.length >= 2, undefined, { timeout: 10_000 });
  t.same((await page.evaluate(() => (window as unknown as { items: unknown[] }).items))[1], { value: 'after the recycle', seq: 2, tokenId: 'node-publisher' });
  await page.evaluate(() => ((window as unknown as { subscription: { unsubscribe(): void } }).subscription).unsubscribe());
  t.same(errors, [], 'no page errors');
});
