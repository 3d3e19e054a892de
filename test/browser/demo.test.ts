import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, launchChromium } from '../helpers/browser.js';
import type { TidingsServer } from '../../src/index.js';

buildSdkBundle();

async function joinAs(browser: Browser, server: TidingsServer, name: string, room: string, options: { spectator?: boolean; mobile?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext(options.mobile ? { viewport: { width: 390, height: 780 } } : { viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => { throw err; });
  await page.goto(`${server.httpUrl}/`);
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

t.test('demo - two people chat through the moderator; late joiners get history; rejections go to the sender only', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(browser, server, 'Ada', 'lobby');
  const bob = await joinAs(browser, server, 'Bob', 'lobby', { mobile: true });

  await send(ada, 'Hello Bob!');
  await send(bob, 'Hi   Ada,   nice to see you');
  const expected = ['Ada: Hello Bob!', 'Bob: Hi Ada, nice to see you'];
  t.same(await waitForMessages(ada, 2), expected, 'Ada sees both, authors stamped by the server, whitespace tidied by the moderator');
  t.same(await waitForMessages(bob, 2), expected, 'Bob sees the same');

  await send(ada, 'this is spam');
  await ada.waitForSelector('#messages .msg.rejected');
  t.match(await ada.textContent('#messages .msg.rejected .why'), /Not posted: the word "spam" is not allowed/);
  await send(ada, 'sorry about that');
  await waitForMessages(bob, 3);
  t.equal(await bob.$$eval('#messages .msg.rejected', (els) => els.length), 0, 'Bob never sees the rejected text nor its notice');
  t.notOk((await messages(bob)).some((m) => m.includes('spam')));

  const cleo = await joinAs(browser, server, 'Cleo', 'lobby');
  t.same(await waitForMessages(cleo, 3), [...expected, 'Ada: sorry about that'], 'a late joiner sees the history');
  await send(cleo, 'hi all');
  t.same((await waitForMessages(ada, 4)).at(-1), 'Cleo: hi all', 'and then chats live');
  t.same(await messages(cleo), [...expected, 'Ada: sorry about that', 'Cleo: hi all'], 'history and live meet with no duplicate');

  if (process.env['UPDATE_SCREENSHOT'] === '1') {
    await ada.screenshot({ path: 'docs/demo.png' });
    await bob.screenshot({ path: 'docs/demo-mobile.png' });
  } else {
    await ada.screenshot({ path: join(mkdtempSync(join(tmpdir(), 'tidings-')), 'demo.png') });
  }
});

t.test('demo - cutting the connection mid-conversation loses and duplicates nothing', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(browser, server, 'Ada', 'resilient');
  const bob = await joinAs(browser, server, 'Bob', 'resilient');
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
  const viewer = await joinAs(browser, server, 'Vera', 'lobby', { spectator: true });
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
});
