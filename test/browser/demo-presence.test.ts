import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, launchChromium, newPage } from '../helpers/browser.js';
import type { TidingsServer } from '../../src/index.js';

buildSdkBundle();

async function joinAs(browser: Browser, server: TidingsServer, name: string): Promise<Page> {
  const page = await newPage(browser);
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
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true, presence: { leaveGraceMs: 0 } } });
  const ada = await joinAs(browser, server, 'Ada');
  await here(ada, 'Here: Ada');
  const bob = await joinAs(browser, server, 'Bob');
  await here(bob, 'Here: Ada, Bob');
  await here(ada, 'Here: Ada, Bob');
  t.pass('both see both');
  await bob.click('#leave');
  await here(ada, 'Here: Ada');
  t.pass('Ada sees Bob leave');
  t.equal(await ada.isVisible('#notify'), true, 'Chromium has Web Push: the page offers notifications');
});
