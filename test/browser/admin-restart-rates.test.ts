/** The dashboard's per-second lines (limit events, slow consumers, cut-off links) are measured only
 * between samples of the same server run: across a restart, or a reconnect to another node, the
 * counters start again from 0 and the page draws no point rather than a negative rate. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor } from '../helpers/sdk.js';
import { RawClient } from '../helpers/raw-client.js';
import { buildSdkBundle, launchChromium, strictPage } from '../helpers/browser.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

buildSdkBundle();

const opsKey = async (server: TidingsServer) => (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;

t.test('admin page - no negative rates across a server restart', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const config = { admin: { tokenIds: ['ops'] } };
  const before = await startServer(t, { config });
  const after = await startServer(t, { config });
  // Two limit events on the first run.
  const user = await RawClient.open(before, await opsKey(before));
  for (let i = 0; i < 2; i++) await user.request({ t: 'pub', cache: 'c', topic: 't', value: 'x'.repeat(70 * 1024) });
  const sample = async (server: TidingsServer) => (await sdkFor(t, server, { token: await opsKey(server) })).connection.request({ t: 'adminStats' });
  const first = await sample(before);
  t.equal(Object.values(first.limitEvents as Record<string, number>).reduce((a, b) => a + b, 0), 2);
  const sameRun = await new Promise((r) => setTimeout(r, 600)).then(() => sample(before));
  const restarted = await sample(after);

  const page = await strictPage(t, browser);
  await page.goto(`${before.httpUrl}/admin`);
  const rows = await page.evaluate(async ([previous, sameRun, restarted]) => {
    const { chartRows } = await import('/admin/points.js' as string);
    return { sameRun: chartRows(sameRun, previous)[3], restarted: chartRows(restarted, previous)[3] };
  }, [first, sameRun, restarted]);
  t.same(rows.sameRun, [0, 0, 0], 'the same run: rates from the difference');
  t.same(rows.restarted, [null, null, null], 'another run: no point, not -2 limit events per second');
});
