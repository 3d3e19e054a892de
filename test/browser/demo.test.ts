import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { PHONE, DESKTOP, buildSdkBundle, launchChromium, screenshot, strictPage } from '../helpers/browser.js';
import type { TidingsServer } from '../../src/index.js';

buildSdkBundle();

type Test = import('tap').Test;

async function openDemo(t: Test, browser: Browser, server: TidingsServer, viewport = DESKTOP): Promise<Page> {
  const page = await strictPage(t, browser, viewport);
  await page.goto(`${server.httpUrl}/`);
  return page;
}

async function joinAs(t: Test, browser: Browser, server: TidingsServer, name: string, room: string, options: { spectator?: boolean; mobile?: boolean } = {}): Promise<Page> {
  const page = await openDemo(t, browser, server, options.mobile ? PHONE : DESKTOP);
  await page.fill('#name', name);
  await page.fill('#room', room);
  if (options.spectator) await page.check('#spectator');
  await page.click('#join-form button[type=submit]');
  await page.waitForSelector('#status[data-state="open"]');
  return page;
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Texts of the accepted messages shown, with their authors. */
function messages(page: Page): Promise<string[]> {
  return page.$$eval('#messages .msg:not(.rejected)', (els) => els.map((el) => `${el.querySelector('.author')?.textContent}: ${el.querySelector('.text')?.textContent}`));
}

async function waitForMessages(page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((n) => document.querySelectorAll('#messages .msg:not(.rejected)').length >= n, count, { timeout: 10_000 });
  return messages(page);
}

/** Whether the element is rendered and lies wholly inside the viewport horizontally. */
async function onScreen(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).boundingBox();
  const width = page.viewportSize()!.width;
  return box !== null && box.width > 0 && box.x >= 0 && box.x + box.width <= width;
}

t.test('demo - the join page shows only the join card, on a desktop and on a phone, with a working room pattern', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  for (const [viewport, name] of [[DESKTOP, 'demo-join'], [PHONE, 'demo-join-phone']] as const) {
    const page = await openDemo(t, browser, server, viewport);
    t.ok(await page.isVisible('#join'), `${name}: the join card is shown`);
    t.notOk(await page.isVisible('#chat'), `${name}: the chat panel (Leave, Send) is not shown before joining`);
    t.ok(await onScreen(page, '#join'), `${name}: the join card fits the screen`);
    t.equal(await page.textContent('#status'), 'not connected');
    await screenshot(page, name, name === 'demo-join' ? undefined : 'demo-join-mobile.png');
  }
  const page = await openDemo(t, browser, server);
  await page.fill('#room', 'Not A Room');
  t.ok(await page.$eval('#room', (el) => (el as HTMLInputElement).validity.patternMismatch), 'the room pattern compiles and refuses a bad name');
  await page.fill('#room', 'room-2');
  t.notOk(await page.$eval('#room', (el) => (el as HTMLInputElement).validity.patternMismatch), 'and accepts a good one');
});

t.test('demo - two people chat through the moderator; late joiners get history; rejections go to the sender only', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(t, browser, server, 'Ada', 'lobby');
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

t.test('demo - two visitors with the same name each see only their own messages as theirs', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const first = await joinAs(t, browser, server, 'Sam', 'twins');
  const second = await joinAs(t, browser, server, 'Sam', 'twins');
  await send(first, 'from the first Sam');
  await waitForMessages(second, 1);
  await send(second, 'from the second Sam');
  await waitForMessages(first, 2);
  const mine = (page: Page) => page.$$eval('#messages .msg.mine .text', (els) => els.map((e) => e.textContent));
  t.same(await mine(first), ['from the first Sam']);
  t.same(await mine(second), ['from the second Sam']);
  t.same(await messages(first), ['Sam: from the first Sam', 'Sam: from the second Sam'], 'both show the name, not the tokenId suffix');
});

t.test('demo - cutting the connection mid-conversation loses and duplicates nothing', async (t) => {
  const browser = await launchChromium(t);
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
  const browser = await launchChromium(t);
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
  const bad = await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: '', room: 'x-input' }) });
  t.equal(bad.status, 400);
  t.match((await bad.json()).error, { code: 'INVALID_ARGUMENT_ERROR' });
  const minted = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Ada', room: 'lobby' }) })).json();
  t.match(minted, { cache: 'chat', room: 'lobby', tokenId: /^Ada#[0-9a-f]{6}$/ }, 'the cache of the terminal examples; a tokenId unique per visitor');
  const again = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Ada', room: 'lobby', tokenId: minted.tokenId }) })).json();
  t.equal(again.tokenId, minted.tokenId, 'a refresh keeps its tokenId');
  const other = await (await fetch(`${dev.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ name: 'Eve', room: 'lobby', tokenId: minted.tokenId }) })).json();
  t.not(other.tokenId, minted.tokenId, 'another name cannot take it');
});
