import t from 'tap';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { DESKTOP, PHONE, buildSdkBundle, launchChromium, screenshot, strictPage } from '../helpers/browser.js';
import { PermissionScopes } from '../../src/index.js';

buildSdkBundle();

t.test('admin page - signed out, a refused key, then signed in with live charts fed over the SDK', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true, admin: { tokenIds: ['ops'] } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const otherKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'dev' })).token;

  // Traffic to watch: a moderator group with a second member, a subscriber, publishes every 100 ms.
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'mod-eu' }));
  await moderator.ok({ t: 'gsub', cache: 'chat', group: 'moderators', pattern: { nameSuffix: '-input' }, maxInFlight: 1 });
  const user = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'load' }));
  await user.ok({ t: 'sub', cache: 'chat', topic: 'lobby' });
  // One refused publish, to show up under limit events.
  user.send({ t: 'pub', cache: 'chat', topic: 'lobby', value: 'x'.repeat(70 * 1024) });
  let n = 0;
  const traffic = setInterval(() => {
    user.send({ t: 'pub', cache: 'chat', topic: 'lobby', value: `tick ${n++}` });
    if (n % 3 === 0) user.send({ t: 'pub', cache: 'chat', topic: 'sports', value: 'goal' });
    if (n % 5 === 0) user.send({ t: 'pub', cache: 'chat', topic: 'lobby-input', value: `to moderate ${n}` });
  }, 100);
  t.teardown(() => clearInterval(traffic));

  const page = await strictPage(t, browser, DESKTOP);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${server.httpUrl}/admin`);
  t.ok(await page.isVisible('#login'), 'signed out: the sign-in card');
  t.notOk(await page.isVisible('#dashboard'), 'and no dashboard');
  t.notOk(await page.isVisible('#logout'));
  await screenshot(page, 'admin-signed-out', 'admin-signed-out.png');

  await page.fill('#key', otherKey);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:not(:empty)');
  t.match(await page.textContent('#login-error'), /may not open the dashboard/, 'a key not listed in admin.tokenIds is refused, with the reason');
  t.notOk(await page.isVisible('#dashboard'));

  await page.fill('#key', 'not-a-token');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => /Sign-in failed/.test(document.getElementById('login-error')!.textContent ?? ''), undefined, { timeout: 10_000 });
  t.pass('a malformed key is refused at hello');

  await page.fill('#key', opsKey);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  t.equal(await page.inputValue('#key'), '', 'the key is cleared from the form');
  // Enough samples for the rate charts to draw lines.
  await page.waitForFunction(() => Number(document.getElementById('t-publishes')!.textContent) > 0, undefined, { timeout: 10_000 });
  await page.waitForTimeout(3500);
  t.equal(await page.getAttribute('#status', 'data-state'), 'open');
  t.ok(Number(await page.textContent('#t-connections')) >= 3, 'live connections');
  t.ok(Number(await page.textContent('#t-publishes')) >= 5, 'publishes per second');
  t.match(await page.textContent('#groups'), /chat \/ moderators.*mod-eu/s, 'the moderator group with its members by name');
  t.match(await page.textContent('#top'), /chat \/ lobby/, 'top topics by rate');
  t.match(await page.textContent('#limits'), /value_size_limit_exceeded\s*1/, 'limit events by cause');
  t.equal(await page.locator('.uplot').count(), 4, 'four uPlot charts');
  t.ok(await page.locator('#c-rate .uplot canvas').count() > 0, 'drawn on canvases');
  t.notOk(requests.some((url) => url.includes(opsKey) || url.includes('key=')), 'the key never appears in a URL');
  await screenshot(page, 'admin-dashboard', 'admin.png', { fullPage: true });

  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300);
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'on a phone nothing is wider than the screen');
  await screenshot(page, 'admin-dashboard-phone');

  await page.click('#logout');
  t.ok(await page.isVisible('#login'), 'signing out returns to the sign-in card');
  t.equal(await page.textContent('#status'), 'not signed in');
  // A poll in flight when signing out fails with "closed by the client"; it must not show that.
  await page.waitForTimeout(300);
  t.equal(await page.textContent('#status'), 'not signed in', 'and stays so once a poll in flight has failed');
});
