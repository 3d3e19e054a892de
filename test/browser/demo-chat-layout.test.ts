/** The demo room's header and who-is-here line are laid out like the rest of the card, on a desktop
 * and at phone width: the "Here:" line starts where the room title does (not at the card's edge),
 * the header's buttons keep their labels on one line, and a room name of the longest allowed
 * length fits the screen. */
import t from 'tap';
import type { Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, launchChromium, screenshot } from '../helpers/browser.js';
import { joinAs } from '../helpers/demo-page.js';

buildSdkBundle();

/** Left edge of an element's text (its box may include padding). */
const textLeft = (page: Page, selector: string) => page.$eval(selector, (el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return range.getBoundingClientRect().left;
});
const height = async (page: Page, selector: string) => (await page.locator(selector).boundingBox())!.height;

t.test('demo - the room header and the who-is-here line, desktop and phone', async (t) => {
  const browser = await launchChromium(t);
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
