/** The demo chat in Chromium: two people chat through the moderator, late joiners get history,
 * rejections reach the sender only; a cut connection loses and duplicates nothing; a spectator
 * cannot post; the page and token route are dev-only; the room shows who is here; the room header
 * is laid out on desktop and phone; markup injected into the page runs no script (guarantees
 * stated above each test). One Chromium for every browser test (chromium.test.ts runs this module), a browser context per page. */
import t, { type Test } from 'tap';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, newPage, sharedChromium, screenshot } from '../helpers/browser.js';
import type { TidingsServer } from '../../src/index.js';
import { joinAs, messages, onScreen, send, waitForMessages } from '../helpers/demo-page.js';

buildSdkBundle();
const chromium = sharedChromium();

t.test('demo - two people chat through the moderator; late joiners get history; rejections go to the sender only', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(t, browser, server, 'Ada', 'lobby');
  // The page is open before its history arrives; the empty-room line follows the history fetch.
  await ada.waitForSelector('#messages #empty');
  t.match(await ada.textContent('#messages'), /No messages yet/, 'an empty room says so');
  const bob = await joinAs(t, browser, server, 'Bob', 'lobby', { mobile: true });

  await send(ada, 'Hello Bob!');
  await send(bob, 'Hi   Ada,   nice to see you');
  const expected = ['Ada: Hello Bob!', 'Bob: Hi Ada, nice to see you'];
  t.same(await waitForMessages(ada, 2), expected, 'Ada sees both, authors stamped by the server, whitespace tidied by the moderator');
  t.same(await waitForMessages(bob, 2), expected, 'Bob sees the same');
  t.notMatch(await ada.textContent('#messages'), /No messages yet/, '"No messages yet" goes once messages arrive');
  t.same(await ada.$$eval('#messages .msg.mine .text', (els) => els.map((e) => e.textContent)), ['Hello Bob!'], 'only her own message is marked as hers');

  await send(ada, 'this is spam');
  await ada.waitForSelector('#messages .msg.rejected');
  t.match(await ada.textContent('#messages .msg.rejected .why'), /Not posted: the word "spam" is not allowed/);
  await send(ada, 'sorry about that');
  await waitForMessages(bob, 3);
  t.equal(await bob.$$eval('#messages .msg.rejected', (els) => els.length), 0, 'Bob never sees the rejected text nor its notice');
  t.notOk((await messages(bob)).some((m) => m.includes('spam')));

  const cleo = await joinAs(t, browser, server, 'Cleo', 'lobby');
  t.same(await waitForMessages(cleo, 3), [...expected, 'Ada: sorry about that'], 'a late joiner sees the history');
  await send(cleo, 'hi all');
  t.same((await waitForMessages(ada, 4)).at(-1), 'Cleo: hi all', 'and then chats live');
  t.same(await messages(cleo), [...expected, 'Ada: sorry about that', 'Cleo: hi all'], 'history and live meet with no duplicate');

  await screenshot(ada, 'demo-joined', 'demo.png');
  await screenshot(bob, 'demo-joined-phone', 'demo-mobile.png');
  t.ok(await onScreen(bob, '#send'), 'on a phone the Send button fits the screen');

  await ada.click('#leave');
  t.ok(await ada.isVisible('#join'), 'after Leave the join card is back');
  t.notOk(await ada.isVisible('#chat'), 'and the chat panel is gone');
  t.equal(await ada.getAttribute('#status', 'data-state'), 'idle', 'leaving is not shown as a failure');
  t.equal(await ada.textContent('#status'), 'not connected');
  await screenshot(ada, 'demo-left');
});

t.test('demo - cutting the connection mid-conversation loses and duplicates nothing', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(t, browser, server, 'Ada', 'resilient');
  const bob = await joinAs(t, browser, server, 'Bob', 'resilient');
  await send(bob, 'one');
  await waitForMessages(ada, 1);

  // Cut every browser connection (the in-process moderator's too) while Bob keeps typing.
  for (const session of [...server.broker.sessions.values()]) session.connection.close(4000, 'test: connection cut');
  await send(bob, 'two');
  await send(bob, 'three');
  await ada.waitForSelector('#status[data-state="open"]');
  await send(bob, 'four');
  const seen = await waitForMessages(ada, 4);
  t.same(seen, ['Bob: one', 'Bob: two', 'Bob: three', 'Bob: four'], 'every message once, in order');
  await new Promise((r) => setTimeout(r, 300));
  t.same(await messages(ada), seen, 'nothing arrives twice afterwards');
  t.same(await messages(bob), seen, 'the sender too');
});

t.test('demo - a spectator cannot post and is told why', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const viewer = await joinAs(t, browser, server, 'Vera', 'lobby', { spectator: true });
  await send(viewer, 'let me in');
  await viewer.waitForSelector('#notice:not([hidden])');
  t.match(await viewer.textContent('#notice'), /PERMISSION_ERROR/);
  t.equal(await viewer.inputValue('#text'), 'let me in', 'the text is kept for another try');
});

t.test('demo - the page, SDK bundle and token route are dev-only', async (t) => {
  const server = await startServer(t);
  t.equal((await fetch(`${server.httpUrl}/`)).status, 404);
  t.equal((await fetch(`${server.httpUrl}/dev/token`, { method: 'POST', body: '{}' })).status, 404);
  t.equal((await fetch(`${server.httpUrl}/sdk/tidings.js`)).status, 200, 'the SDK bundle is always served');
  const dev = await startServer(t, { config: { dev: true } });
  for (const [body, message] of [['{nope', /JSON/], [JSON.stringify({ name: '', room: 'lobby' }), /name/], [JSON.stringify({ name: 'Ada', room: 'x-input' }), /room/]] as const) {
    const bad = await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body });
    t.equal(bad.status, 400, body);
    t.match((await bad.json()).error, { code: 'INVALID_ARGUMENT_ERROR', message }, 'a typed refusal naming the fault');
  }
  const minted = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Ada', room: 'lobby' }) })).json();
  t.match(minted, { cache: 'chat', room: 'lobby', tokenId: /^Ada#[0-9a-f]{6}$/ }, 'the cache of the terminal examples; a tokenId unique per visitor');
  const again = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Ada', room: 'lobby', tokenId: minted.tokenId }) })).json();
  t.equal(again.tokenId, minted.tokenId, 'a refresh keeps its tokenId');
  const other = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Eve', room: 'lobby', tokenId: minted.tokenId }) })).json();
  t.not(other.tokenId, minted.tokenId, 'another name cannot take it');
  const made = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Ada', room: 'lobby', tokenId: 'Ada#chosen' }) })).json();
  t.match(made.tokenId, /^Ada#[0-9a-f]{6}$/, 'nor one the page made up: only a tokenId this route minted is taken back');
  // /demo/{file} serves the page's own files, not the terminal examples beside them in demo/, nor
  // what an encoded separator would reach.
  for (const path of ['/demo/moderator.ts', '/demo/..%2Fpackage.json']) {
    const refused = await fetch(`${dev.httpUrl}${path}`);
    await refused.arrayBuffer();
    t.equal(refused.status, 404, path);
  }
});

/** The room shows who is here (presence), and offers notifications where the browser has Web Push. */
async function joinLobby(t: Test, browser: Browser, server: TidingsServer, name: string): Promise<Page> {
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  page.on('pageerror', (err) => { throw err; });
  await page.goto(`${server.httpUrl}/`);
  await page.fill('#name', name);
  await page.fill('#room', 'lobby');
  await page.click('#join-form button[type=submit]');
  await page.waitForSelector('#status[data-state="open"]');
  return page;
}

const here = (page: Page, text: string) => page.waitForFunction((want) => document.querySelector('#here')?.textContent === want, text, { timeout: 10_000 });

t.test('demo - the room shows who is here, and offers notifications', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true, presence: { leaveGraceMs: 0 } } });
  const ada = await joinLobby(t, browser, server, 'Ada');
  await here(ada, 'Here: Ada');
  const bob = await joinLobby(t, browser, server, 'Bob');
  await here(bob, 'Here: Ada, Bob');
  await here(ada, 'Here: Ada, Bob');
  t.pass('both see both');
  await bob.click('#leave');
  await here(ada, 'Here: Ada');
  t.pass('Ada sees Bob leave');
  t.equal(await ada.isVisible('#notify'), true, 'Chromium has Web Push: the page offers notifications');
});

/** The demo room's header and who-is-here line are laid out like the rest of the card, on a desktop
 * and at phone width: the "Here:" line starts where the room title does (not at the card's edge),
 * the header's buttons keep their labels on one line, and a room name of the longest allowed
 * length fits the screen. */
/** Left edge of an element's text (its box may include padding). */
const textLeft = (page: Page, selector: string) => page.$eval(selector, (el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return range.getBoundingClientRect().left;
});
const height = async (page: Page, selector: string) => (await page.locator(selector).boundingBox())!.height;

t.test('demo - the room header and the who-is-here line, desktop and phone', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const room = 'a-room-name-of-forty-characters-exactly0';
  for (const mobile of [false, true]) {
    const page = await joinAs(t, browser, server, 'Ada', mobile ? room : 'lobby', { mobile });
    await page.waitForFunction(() => document.querySelector('#here')?.textContent === 'Here: Ada', undefined, { timeout: 10_000 });
    const label = mobile ? 'phone' : 'desktop';
    t.ok(Math.abs(await textLeft(page, '#here') - await textLeft(page, '#room-title')) <= 1, `${label}: "Here:" lines up with the room title`);
    t.equal(await height(page, '#notify'), await height(page, '#leave'), `${label}: "Notify me" on one line, like "Leave"`);
    t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${label}: nothing wider than the screen`);
    await screenshot(page, `demo-room-header-${label}`);
  }
});

/** The demo page, served on the same origin as the operators' dashboard (/admin, where the admin
 * key is typed), runs no script but its own files: markup injected into it (an inline script, an
 * event-handler attribute) does not run, the browser reports the attempt as a Content-Security-
 * Policy violation, and the page refuses to be framed. The demo itself keeps working under that
 * policy (test/browser/demo*.ts use pages that fail on any console error). */
t.test('demo - markup injected into the page runs no script', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const page = await newPage(browser);
  t.teardown(() => page.context().close().catch(() => {}));
  await page.goto(`${server.httpUrl}/`);
  await page.evaluate(() => {
    const w = window as unknown as { violations: string[]; ran: string[] };
    w.violations = [];
    w.ran = [];
    document.addEventListener('securitypolicyviolation', (e) => w.violations.push(e.effectiveDirective));
    // What an injection flaw would add: an event-handler attribute and an inline script.
    const box = document.createElement('div');
    box.innerHTML = '<svg><image href="data:image/gif;base64,R0lGODlhAQABAAAAACw=" onload="window.ran.push(\'handler\')" onerror="window.ran.push(\'handler\')"></image></svg>';
    document.body.append(box);
    const script = document.createElement('script');
    script.textContent = "window.ran.push('inline script')";
    document.body.append(script);
  });
  // Settled once both were refused (two violations) or both ran.
  await page.waitForFunction(() => {
    const w = window as unknown as { violations: string[]; ran: string[] };
    return w.violations.filter((d) => d.startsWith('script-src')).length + w.ran.length >= 2;
  }, undefined, { timeout: 10_000 });
  t.same(await page.evaluate(() => (window as unknown as { ran: string[] }).ran), [], 'neither the handler nor the inline script ran');

  const res = await fetch(`${server.httpUrl}/`);
  t.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/, 'the page may not be framed');
});
