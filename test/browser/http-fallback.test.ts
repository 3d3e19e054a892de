/** Real Chromium: EventSource with the ticket flow (live items, resume after the server drops the
 * stream, nothing lost or doubled), and the demo chat behind a proxy that refuses WebSocket
 * upgrades, working through the SDK's SSE + HTTP fallback with no change to the page; and that
 * fallback from a page on another allowed origin (its own guarantee stated above its test). One
 * Chromium for the file, a browser context per page. */
import t, { type Test } from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, sharedChromium, newPage } from '../helpers/browser.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

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
