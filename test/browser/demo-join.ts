/** Joining the demo room: the join page alone (desktop and phone) with a working room pattern;
 * visitors with the same name told apart; the terminal example and the page in one room; and a
 * Leave while the join is still loading (its own guarantee is stated above its test). One Chromium
 * for every browser test (chromium.test.ts runs this module), a browser context per page. */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { startServer } from '../helpers/server.js';
import { DESKTOP, PHONE, buildSdkBundle, sharedChromium, screenshot, strictPage } from '../helpers/browser.js';
import { joinAs, messages, onScreen, openDemo, send, waitForMessages } from '../helpers/demo-page.js';
import { decodeFrames } from '../../src/protocol/index.js';

buildSdkBundle();
const chromium = sharedChromium();

t.test('demo - the join page shows only the join card, on a desktop and on a phone, with a working room pattern', async (t) => {
  const browser = await chromium(t);
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

t.test('demo - two visitors with the same name each see only their own messages as theirs', async (t) => {
  const browser = await chromium(t);
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

t.test('demo - one room from the terminal and the browser: examples/chat.ts and the page see each other', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(t, browser, server, 'Ada', 'lobby');
  const chat = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/chat.ts', '--room', 'lobby', ...args], {
    env: { ...process.env, TIDINGS_URL: server.httpUrl, TIDINGS_API_KEY: server.adminApiKey }, timeout: 30_000,
  });
  const alice = await chat('--name', 'alice', 'hello   from the terminal');
  t.match(alice.stdout, /^<alice> hello from the terminal$/m, 'the dev server\'s moderator answered the terminal');
  t.same(await waitForMessages(ada, 1), ['alice: hello from the terminal'], 'the browser sees the terminal\'s message');
  await send(ada, 'hello from the browser');
  await waitForMessages(ada, 2);
  const bob = await chat('--name', 'bob');
  t.match(bob.stdout, /^history <Ada> hello from the browser$/m, 'the terminal sees the browser\'s message, by name');
});

/** Leaving the demo room while it is still loading ends that join quietly: the join card shows no
 * error, its button is usable, and the next join (another room) is not touched by the first one's
 * late steps. */
t.test('demo - Leave while the history is loading, then join another room', async (t) => {
  const browser = await chromium(t);
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

/** A room whose history is empty gives the page no position to resume from, so its subscription
 * starts where the topic is when the `sub` arrives: a message posted between the history fetch and
 * the `sub` is in the history only (the moderator's pubAppend). Bob's `sub` is held until Ada's first
 * message is shown on her page; Bob must see it too (the page reads the history again once
 * subscribed, demo/app.js join()), once, before his own. */
t.test('demo - a message posted between an empty history and the subscription is shown', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true } });
  const ada = await joinAs(t, browser, server, 'Ada', 'gap');
  await waitForMessages(ada, 0);
  const bob = await strictPage(t, browser);
  let releaseSub: (() => void) | undefined;
  const subHeld = new Promise<void>((resolve) => {
    void bob.routeWebSocket(/\/v1\/ws$/, (ws) => {
      const upstream = ws.connectToServer();
      const held: Array<string | Buffer> = [];
      let holding = false;
      ws.onMessage((message) => {
        if (!holding && typeof message !== 'string' && decodeFrames(message).some((f) => f['t'] === 'sub')) {
          holding = true;
          releaseSub = () => { holding = false; for (const m of held.splice(0)) upstream.send(m); };
          resolve();
        }
        if (holding) held.push(message);
        else upstream.send(message);
      });
    });
  });
  await bob.goto(`${server.httpUrl}/`);
  await bob.fill('#name', 'Bob');
  await bob.fill('#room', 'gap');
  await bob.click('#join-form button[type=submit]');
  await subHeld; // Bob's history fetch (empty) is answered; his `sub` waits
  await send(ada, 'Hello Bob!');
  t.same(await waitForMessages(ada, 1), ['Ada: Hello Bob!']);
  releaseSub!();
  await bob.waitForSelector('#status[data-state="open"]');
  await send(bob, 'Hi Ada');
  t.same(await waitForMessages(bob, 2), ['Ada: Hello Bob!', 'Bob: Hi Ada'], 'the message posted before the subscription, then his own');
});
