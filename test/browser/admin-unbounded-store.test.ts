/** The dashboard shows a cache store with no bound as unbounded: on the Redis engine with no
 * `maxmemory` the store's limit is 0 (docs/operations.md), which is "no limit", not "of 0 B", and
 * no percentage of it is drawn. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { requireRedis } from '../helpers/redis.js';
import { buildSdkBundle, launchChromium, screenshot, strictPage } from '../helpers/browser.js';
import { PermissionScopes } from '../../src/index.js';

buildSdkBundle();

t.test('admin page - a cache store without a limit reads "no limit"', async (t) => {
  if (!requireRedis(t)) return;
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { engine: 'redis', config: { admin: { tokenIds: ['ops'] } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const stats = await server.engine.cache.stats();
  t.equal(stats.maxBytes, 0, 'this Redis has no maxmemory');

  const page = await strictPage(t, browser);
  await page.goto(`${server.httpUrl}/admin`);
  await page.fill('#key', opsKey);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  t.match(await page.textContent('#t-store-sub'), /^no limit · \d+ items$/, 'the store tile says it has no limit');
  t.notMatch(await page.textContent('#t-store-sub'), /of 0 B/);
  t.equal(await page.getAttribute('#m-store', 'style'), null, 'no meter filled against a limit of 0');
  t.equal(await page.evaluate(() => document.querySelector('#m-store')!.parentElement!.hidden), true, 'and no empty meter shown');
  t.match(await page.textContent('#t-window-sub'), /^of 256 MiB$/, 'bounded figures keep their limit');
  await screenshot(page, 'admin-unbounded-store');
});
