/** Leaving the demo room while it is still loading ends that join quietly: the join card shows no
 * error, its button is usable, and the next join (another room) is not touched by the first one's
 * late steps. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { buildSdkBundle, launchChromium, screenshot, strictPage } from '../helpers/browser.js';

buildSdkBundle();

t.test('demo - Leave while the history is loading, then join another room', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const page = await strictPage(t, browser);
  // Hold every frame after hello on the first connection: the join waits on its history fetch.
  let connections = 0;
  await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    const first = ++connections === 1;
    let frames = 0;
    ws.onMessage((message) => { if (!first || ++frames === 1) upstream.send(message); });
  });
  await page.goto(`${server.httpUrl}/`);
  await page.fill('#name', 'Ada');
  await page.fill('#room', 'first');
  await page.click('#join-form button[type=submit]');
  await page.waitForSelector('#status[data-state="open"]');
  await page.waitForSelector('#chat:not([hidden])');
  t.equal(await page.isDisabled('#join-form button[type=submit]'), true, 'the join is still under way');

  await page.click('#leave');
  await page.waitForSelector('#join-form button[type=submit]:not([disabled])', { timeout: 10_000 });
  t.equal(await page.textContent('#join-error'), '', 'no error on the join card');
  t.equal(await page.isVisible('#join'), true);
  t.equal(await page.getAttribute('#status', 'data-state'), 'idle');

  await page.fill('#room', 'second');
  await page.click('#join-form button[type=submit]');
  await page.waitForSelector('#messages #empty');
  await page.waitForSelector('#status[data-state="open"]');
  await page.waitForFunction(() => document.querySelector('#here')?.textContent === 'Here: Ada', undefined, { timeout: 10_000 });
  t.equal(await page.textContent('#room-title'), '#second');
  t.equal(await page.isVisible('#notice'), false, 'no notice left over from the first room');
  t.same(await page.$$eval('#messages li', (els) => els.map((e) => e.textContent)), ['No messages yet. Say hello!'], 'only the second room\'s own lines');
  await screenshot(page, 'demo-second-room');
});
