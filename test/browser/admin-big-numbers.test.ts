/** The dashboard stays readable with big figures (a busy broker: millions of deliveries a second,
 * 100,000 connections, terabytes): every tile's figure fits inside its tile, and every chart's
 * y-axis label, for any magnitude up to 10^12, fits the room the axis leaves for it (wider labels
 * were cut at the chart's left edge: "00,000"). */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { DESKTOP, PHONE, buildSdkBundle, launchChromium, screenshot, strictPage } from '../helpers/browser.js';
import { PermissionScopes, decodeFrames, encodeFrame } from '../../src/index.js';

buildSdkBundle();

t.test('admin page - big figures fit their tiles and axes', async (t) => {
  const browser = await launchChromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { admin: { tokenIds: ['ops'] } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;

  for (const viewport of [DESKTOP, PHONE]) {
    const page = await strictPage(t, browser, viewport);
    // The stats a busy broker would send: the server's real replies, scaled up on the way.
    let n = 0;
    await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
      const upstream = ws.connectToServer();
      upstream.onMessage((message) => {
        const frames = typeof message === 'string' ? [] : decodeFrames(new Uint8Array(message));
        const reply = frames.length === 1 ? frames[0] as { t?: string; r?: Record<string, any> } : undefined;
        if (reply?.t !== 'ok' || !reply.r?.['connections']) return ws.send(message);
        const r = reply.r;
        const k = ++n;
        r['connections'].open = 99_999; r['connections'].cutOff = 123_456_789; r['subscriptions'] = 7_654_321 * k;
        r['rates'] = { publishes: 2_345_678.9 * k, deliveries: 1_234_567_890 * k };
        r['totals'] = { published: 98_765_432_109, delivered: 987_654_321_098 };
        r['window'].bytes = 3 * 1024 ** 4; r['window'].limit = 4 * 1024 ** 4;
        ws.send(Buffer.from(encodeFrame(reply)));
      });
    });
    await page.goto(`${server.httpUrl}/admin`);
    await page.fill('#key', opsKey);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#dashboard:not([hidden])');
    await page.waitForFunction(() => document.getElementById('t-deliveries')!.textContent !== '…', undefined, { timeout: 10_000 });
    const label = viewport === PHONE ? 'phone' : 'desktop';
    const overflowing = await page.$$eval('.tile', (tiles) => tiles.flatMap((tile) => {
      const inner = tile.getBoundingClientRect().right - parseFloat(getComputedStyle(tile).paddingRight);
      return Array.from(tile.children).filter((child) => child.getBoundingClientRect().right > inner + 0.5).map((child) => child.id || child.className);
    }));
    t.same(overflowing, [], `${label}: every tile's figures stay inside the tile`);
    t.match(await page.textContent('#t-deliveries'), /^\d+(\.\d)?B$/, 'a billion deliveries a second reads 1.2B');
    t.equal(await page.textContent('#t-connections'), '99,999', 'below a million, the exact figure');
    await screenshot(page, `admin-big-numbers-${label}`, undefined, { fullPage: true });

    if (viewport === DESKTOP) {
      const tooWide = await page.evaluate(async () => {
        const { AXIS, axisNumber } = await import('/admin/format.js' as string);
        const context = document.createElement('canvas').getContext('2d')!;
        context.font = AXIS.font;
        const room = AXIS.size - AXIS.gap - AXIS.ticks;
        const values = [0, 0.5, 1.5, 12, 99.5, 999, 9_999];
        for (let e = 4; e <= 12; e++) for (const m of [1, 2.5, 5.55, 9.99]) values.push(m * 10 ** e);
        return values.map((v) => axisNumber(v) as string).filter((text) => context.measureText(text).width > room);
      });
      t.same(tooWide, [], 'every y-axis label fits the axis');
    }
  }
});
