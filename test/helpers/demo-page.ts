/** Driving the demo page in Chromium: open it, join a room, send, read what is shown. */
import type { Browser, Page } from 'playwright-core';
import type { Test } from 'tap';
import { DESKTOP, PHONE, strictPage } from './browser.js';
import type { TidingsServer } from '../../src/index.js';

export async function openDemo(t: Test, browser: Browser, server: TidingsServer, viewport = DESKTOP): Promise<Page> {
  const page = await strictPage(t, browser, viewport);
  await page.goto(`${server.httpUrl}/`);
  return page;
}

export async function joinAs(t: Test, browser: Browser, server: TidingsServer, name: string, room: string, options: { spectator?: boolean; mobile?: boolean } = {}): Promise<Page> {
  const page = await openDemo(t, browser, server, options.mobile ? PHONE : DESKTOP);
  await page.fill('#name', name);
  await page.fill('#room', room);
  if (options.spectator) await page.check('#spectator');
  await page.click('#join-form button[type=submit]');
  await page.waitForSelector('#status[data-state="open"]');
  return page;
}

export async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/** Texts of the accepted messages shown, with their authors. */
export function messages(page: Page): Promise<string[]> {
  return page.$$eval('#messages .msg:not(.rejected)', (els) => els.map((el) => `${el.querySelector('.author')?.textContent}: ${el.querySelector('.text')?.textContent}`));
}

export async function waitForMessages(page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((n) => document.querySelectorAll('#messages .msg:not(.rejected)').length >= n, count, { timeout: 10_000 });
  return messages(page);
}

/** Whether the element is rendered and lies wholly inside the viewport horizontally. */
export async function onScreen(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).boundingBox();
  const width = page.viewportSize()!.width;
  return box !== null && box.width > 0 && box.x >= 0 && box.x + box.width <= width;
}

