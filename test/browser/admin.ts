/** The admin dashboard in Chromium: signed out, a refused key, then signed in with live charts fed
 * over the SDK; big figures fit their tiles and axes; no negative rates across a server restart; a
 * store without a limit reads "no limit" (guarantees stated above each test). One Chromium for every
 * browser test (chromium.test.ts runs this module), a browser context per page. */
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { proxiedRedis, requireRedis } from '../helpers/redis.js';
import { sdkFor } from '../helpers/sdk.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { DESKTOP, PHONE, buildSdkBundle, sharedChromium, screenshot, strictPage } from '../helpers/browser.js';
import { PermissionScopes, decodeFrames, encodeFrame, type TidingsServer } from '../../src/index.js';

buildSdkBundle();
const chromium = sharedChromium();
// Run alone (`node --import tsx test/browser/admin.ts`) the module took ~30 s on a busy machine, tap's
// default for a whole file; chromium.test.ts sets its own, longer, after importing this.
t.setTimeout(120_000);
const MAX_TOPICS = 24;

t.test('admin page - signed out, a refused key, then signed in with live charts fed over the SDK', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { dev: true, admin: { tokenIds: ['ops'] }, topics: { maxTopics: MAX_TOPICS } } });
  const opsKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;
  const otherKey = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'dev' })).token;

  // Traffic to watch: a moderator group with a second member, a subscriber, publishes every 100 ms.
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'mod-eu' }));
  await moderator.ok({ t: 'gsub', cache: 'chat', group: 'moderators', pattern: { nameSuffix: '-input' }, maxInFlight: 1 });
  const user = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'load' }));
  await user.ok({ t: 'sub', cache: 'chat', topic: 'lobby' });
  // More subscriber-less topics than the table holds: the oldest are evicted to make room.
  for (let i = 0; i < MAX_TOPICS + 4; i++) await user.ok({ t: 'pub', cache: 'chat', topic: `burst-${i}`, value: 'x' });
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
  // Until a poll shows all the traffic below (a rate needs two samples, so the rate charts have
  // lines to draw), rather than a fixed 3.5 s: each figure is asserted on its own after.
  await page.waitForFunction(() => {
    const text = (id: string) => document.getElementById(id)!.textContent ?? '';
    return Number(text('t-publishes')) >= 5 && Number(text('t-connections')) >= 3 && /chat \/ moderators.*mod-eu/s.test(text('groups'))
      && /chat \/ lobby/.test(text('top')) && /value_size_limit_exceeded\s*1/.test(text('limits'));
  }, undefined, { timeout: 10_000 });
  t.equal(await page.getAttribute('#status', 'data-state'), 'open');
  t.ok(Number(await page.textContent('#t-connections')) >= 3, 'live connections');
  t.ok(Number(await page.textContent('#t-publishes')) >= 5, 'publishes per second');
  t.match(await page.textContent('#groups'), /chat \/ moderators.*mod-eu/s, 'the moderator group with its members by name');
  t.match(await page.textContent('#top'), /chat \/ lobby/, 'top topics by rate');
  t.match(await page.textContent('#limits'), /value_size_limit_exceeded\s*1/, 'limit events by cause');
  const errors = await page.textContent('#errors');
  t.match(errors, /adminStats\s*PERMISSION_ERROR\s*1/, 'refused requests: the key not listed in admin.tokenIds');
  t.match(errors, /hello\s*AUTHENTICATION_ERROR\s*1/, 'the malformed key');
  t.match(errors, /pub\s*LIMIT_EXCEEDED_ERROR\s*1/, 'the publish too large');
  t.match(await page.textContent('#closes'), /authentication failed\s*1/, 'connections the server ended: the malformed key\'s');
  t.match(await page.textContent('#t-topics-sub'), new RegExp(`^of ${MAX_TOPICS} · [1-9]\\d* evicted$`), 'topics evicted at topics.maxTopics, beside the limit');
  t.equal(await page.locator('.uplot').count(), 4, 'four uPlot charts');
  t.ok(await page.locator('#c-rate .uplot canvas').count() > 0, 'drawn on canvases');
  t.notOk(requests.some((url) => url.includes(opsKey) || url.includes('key=')), 'the key never appears in a URL');
  await screenshot(page, 'admin-dashboard', 'admin.png', { fullPage: true });

  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300);
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'on a phone nothing is wider than the screen');
  t.ok(await page.evaluate(() => { const card = document.getElementById('groups-table')!.closest('.card')!; return card.scrollWidth <= card.clientWidth + 1; }),
    'and the groups table fits its card: no column cut off at its edge');
  t.equal(await page.getAttribute('#groups tr td:nth-child(3)', 'data-label'), 'members', 'each figure labelled by its column');
  await screenshot(page, 'admin-dashboard-phone', undefined, { fullPage: true });

  await page.click('#logout');
  t.ok(await page.isVisible('#login'), 'signing out returns to the sign-in card');
  t.equal(await page.textContent('#status'), 'not signed in');
  // A poll in flight when signing out fails with "closed by the client"; it must not show that.
  await page.waitForTimeout(300);
  t.equal(await page.textContent('#status'), 'not signed in', 'and stays so once a poll in flight has failed');
});

/** The dashboard stays readable with big figures (a busy broker: millions of deliveries a second,
 * 100,000 connections, terabytes): every tile's figure fits inside its tile, and every chart's
 * y-axis label, for any magnitude up to 10^12, fits the room the axis leaves for it (wider labels
 * were cut at the chart's left edge: "00,000"). */
t.test('admin page - big figures fit their tiles and axes', async (t) => {
  const browser = await chromium(t);
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
        r['topics'] = { live: 999_999, limit: 1_000_000, evicted: 987_654_321 };
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
      const clockFits = await page.evaluate(async () => {
        const { AXIS, clock } = await import('/admin/format.js' as string);
        const context = document.createElement('canvas').getContext('2d')!;
        context.font = AXIS.font;
        // The widest digits, at the chart's right edge: half the label must fit the room there.
        return [0, 1, 2].map((h) => context.measureText(clock(new Date(2026, 0, 1, 10 + h * 8, 58, 58).getTime() / 1000) as string).width / 2)
          .every((half) => half <= AXIS.right);
      });
      t.ok(clockFits, 'a time at the x-axis\'s right edge is not cut off');
    }
  }
});

/** The dashboard's per-second lines (limit events, slow consumers, cut-off links) are measured only
 * between samples of the same server run: across a restart, or a reconnect to another node, the
 * counters start again from 0 and the page draws no point rather than a negative rate. */
const mintOpsKey = async (server: TidingsServer) => (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId: 'ops' })).token;

t.test('admin page - no negative rates across a server restart', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const config = { admin: { tokenIds: ['ops'] } };
  const before = await startServer(t, { config });
  const after = await startServer(t, { config });
  // Two limit events on the first run.
  const user = await RawClient.open(before, await mintOpsKey(before));
  for (let i = 0; i < 2; i++) await user.request({ t: 'pub', cache: 'c', topic: 't', value: 'x'.repeat(70 * 1024) });
  const sample = async (server: TidingsServer) => (await sdkFor(t, server, { token: await mintOpsKey(server) })).connection.request({ t: 'adminStats' });
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

/** The dashboard shows a cache store with no bound as unbounded: on the Redis engine with no
 * `maxmemory` the store's limit is 0 (docs/operations.md), which is "no limit", not "of 0 B", and
 * no percentage of it is drawn. */
t.test('admin page - a cache store without a limit reads "no limit"', async (t) => {
  if (!requireRedis(t)) return;
  const browser = await chromium(t);
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

/** Every figure the dashboard shows is the server's own: each tile against GET /metrics scraped at
 * the same moment (nothing moving), and against the activity the test made. Its empty state says
 * so in words ("No moderator groups.", "1 item", not "1 items"), and when the server goes away the
 * page says the figures are no longer live rather than keep showing them as current. */
t.test('admin page - every figure matches /metrics; the empty, loaded and server-gone states', async (t) => {
  const browser = await chromium(t);
  if (!browser) return;
  const server = await startServer(t, { config: { admin: { tokenIds: ['ops'] }, server: { metricsAccess: 'open' }, topics: { maxTopics: 4 } } });
  const opsKey = await mintOpsKey(server);
  const page = await strictPage(t, browser, DESKTOP);
  await page.goto(`${server.httpUrl}/admin`);
  await page.fill('#key', opsKey);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  const text = (id: string) => page.textContent(`#${id}`).then((s) => (s ?? '').trim());

  // Empty: nothing but the dashboard's own connection.
  t.equal(await text('t-connections'), '1', 'the dashboard\'s own connection');
  t.equal(await text('t-topics'), '0');
  t.equal(await text('t-store-sub'), 'of 256 MiB · 0 items');
  for (const id of ['groups-empty', 'top-empty', 'limits-empty']) t.ok(await page.isVisible(`#${id}`), `${id} shown`);
  t.equal(await page.isVisible('#scope'), server.config.engine === 'redis', 'the "this node\'s figures" note only with engine redis');
  t.notOk(await page.isVisible('#redis-down'), 'no link-down warning');
  await screenshot(page, 'admin-empty', undefined, { fullPage: true });

  // Known activity: two subscribers of one topic, 5 publishes to it and 5 topics more than
  // topics.maxTopics, one item in the cache, one refused publish.
  const token = await mintOpsKey(server);
  const [a, b] = [await RawClient.open(server, token), await RawClient.open(server, token)];
  await a.ok({ t: 'sub', cache: 'c', topic: 'room' });
  await b.ok({ t: 'sub', cache: 'c', topic: 'room' });
  for (let i = 0; i < 5; i++) await a.ok({ t: 'pub', cache: 'c', topic: 'room', value: `m${i}` });
  for (let i = 0; i < 5; i++) await a.ok({ t: 'pub', cache: 'c', topic: `burst-${i}`, value: 'x' });
  await a.ok({ t: 'set', cache: 'c', key: 'k', value: 'v' });
  t.match(await a.request({ t: 'pub', cache: 'c', topic: 'room', value: 'x'.repeat(70 * 1024) }), { t: 'err', e: { cause: 'value_size_limit_exceeded' } });
  await a.items(5); await b.items(5);
  // Two polls after the last of it (both samples see it all, and the rates have come down to 0).
  await page.waitForFunction(() => document.getElementById('t-published')!.textContent === '10 since start', undefined, { timeout: 10_000 });
  const at = await page.evaluate(() => document.getElementById('status')!.textContent);
  t.equal(at, 'live');
  await page.waitForFunction(() => document.getElementById('t-publishes')!.textContent === '0', undefined, { timeout: 10_000 });

  const metrics = new Map<string, number>();
  for (const line of (await (await fetch(`${server.httpUrl}/metrics`)).text()).split('\n')) {
    const m = /^(tidings_[a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) metrics.set(m[1]! + (m[2] ?? ''), (metrics.get(m[1]! + (m[2] ?? '')) ?? 0) + Number(m[3]));
  }
  const sum = (prefix: string) => [...metrics].filter(([k]) => k === prefix || k.startsWith(`${prefix}{`)).reduce((s, [, v]) => s + v, 0);
  const n = (v: number) => v.toLocaleString('en');
  const bytes = async (v: number) => page.evaluate(async (v) => (await import('/admin/format.js' as string)).bytes(v), v);

  t.equal(await text('t-connections'), n(sum('tidings_connections')), 'connections: tidings_connections');
  t.equal(sum('tidings_connections'), 3, '= the dashboard and the two clients');
  t.equal(await text('t-connections-sub'), `of ${n(sum('tidings_connections_limit'))}`);
  t.equal(await text('t-subscriptions'), n(sum('tidings_subscriptions')), 'subscriptions: tidings_subscriptions');
  t.equal(sum('tidings_subscriptions'), 2);
  t.equal(await text('t-topics'), n(sum('tidings_topics')), 'topics: tidings_topics');
  t.equal(sum('tidings_topics'), 4, 'at topics.maxTopics');
  t.equal(await text('t-topics-sub'), `of ${n(sum('tidings_topics_limit'))} · ${n(sum('tidings_topics_evicted_total'))} evicted`);
  t.equal(sum('tidings_topics_evicted_total'), 2, 'six topics in four places');
  t.equal(await text('t-published'), `${n(sum('tidings_published_items_total'))} since start`, 'published: tidings_published_items_total');
  t.equal(await text('t-delivered'), `${n(sum('tidings_delivered_items_total'))} since start`, 'delivered: tidings_delivered_items_total');
  t.equal(sum('tidings_delivered_items_total'), 10, '5 items to 2 subscribers');
  t.equal(await text('t-window'), await bytes(sum('tidings_window_bytes')), 'resume windows: tidings_window_bytes');
  t.equal(await text('t-window-sub'), `of ${await bytes(sum('tidings_window_limit_bytes'))}`);
  t.equal(await text('t-store'), await bytes(sum('tidings_store_bytes')), 'cache store: tidings_store_bytes');
  t.equal(await text('t-store-sub'), `of ${await bytes(sum('tidings_store_limit_bytes'))} · 1 item`, 'one item, singular');
  t.equal(sum('tidings_store_items'), 1);
  t.equal(await text('t-slow'), n(sum('tidings_slow_consumer_detaches_total')));
  t.equal(await text('t-slow-sub'), `${n(sum('tidings_slow_consumers'))} catching up now`);
  t.equal(await text('t-cutoff'), n(sum('tidings_connections_cut_off_total')));
  t.equal(await text('t-refused'), `${n(sum('tidings_connections_refused_total'))} upgrades refused`);
  t.equal(await text('t-limits'), n(sum('tidings_limit_exceeded_total')), 'limit events: tidings_limit_exceeded_total');
  t.equal(sum('tidings_limit_exceeded_total'), 1);
  t.equal(await text('t-evictions'), `${n(sum('tidings_window_evictions_total'))} window evictions`);
  t.match(await text('limits'), /value_size_limit_exceeded\s*1/);
  t.match(await text('errors'), /^pub\s*LIMIT_EXCEEDED_ERROR\s*1$/, 'refused requests: tidings_request_errors_total by operation and code');
  t.equal(metrics.get('tidings_request_errors_total{op="pub",code="LIMIT_EXCEEDED_ERROR"}'), 1);
  t.ok(await page.isVisible('#closes-empty'), 'no connection ended by the server yet');
  t.equal(sum('tidings_connections_closed_total'), 0);
  await screenshot(page, 'admin-loaded', undefined, { fullPage: true });

  // The server goes away: the figures are marked as no longer live. (Chromium logs each refused
  // reconnect as a console error: expected from here on; uncaught page errors still fail.)
  page.removeAllListeners('console');
  await server.close();
  await page.waitForFunction(() => document.getElementById('status')!.dataset['state'] !== 'open', undefined, { timeout: 10_000 });
  t.not(await page.getAttribute('#status', 'data-state'), 'open', 'the status no longer says live');
  t.equal(await page.getAttribute('#dashboard', 'data-stale'), 'true', 'the figures are marked stale');
  t.match(await text('stale'), /^Not live: the figures below are from .+, when the server last answered\.$/);
  await screenshot(page, 'admin-server-gone', undefined, { fullPage: true });
  await page.context().close();
});

/** Engine redis with two nodes: the dashboard on node a says its figures are that node's (they are:
 * its connections, not b's), lists the busiest admin.topGroups groups of all, and, when a's link to
 * Redis is down, says so and what it means until the link is back. */
t.test('admin page - engine redis, two nodes: this node\'s view, the busiest groups, a link down', async (t) => {
  if (!requireRedis(t)) return;
  const browser = await chromium(t);
  if (!browser) return;
  const { prefix, proxy } = await proxiedRedis(t, 'adminnodes');
  const config = { admin: { tokenIds: ['ops'], topGroups: 2 }, redis: { commandTimeoutMs: 300, linkTimeoutMs: 600, reconnectMinMs: 20, reconnectMaxMs: 100 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisKeyPrefix: prefix, config: { ...config, auth: { signingKeys: a.config.auth.signingKeys } } });
  const moderator = await RawClient.open(a, await tokenFor(a, PermissionScopes.moderator('chat'), { tokenId: 'mod-a' }));
  for (const group of ['alpha', 'beta', 'gamma']) await moderator.ok({ t: 'gsub', cache: 'chat', group, pattern: { nameSuffix: `-${group}-input` }, maxInFlight: 1 });
  const onB = await Promise.all([0, 1, 2].map(async () => RawClient.open(b, await tokenFor(b, PermissionScopes.topicPublishSubscribe('chat', '*')))));
  t.teardown(() => { moderator.close(); for (const c of onB) c.close(); });
  await onB[0]!.ok({ t: 'pub', cache: 'chat', topic: 'room-gamma-input', value: 'g' });

  const page = await strictPage(t, browser, DESKTOP);
  await page.goto(`${a.httpUrl}/admin`);
  await page.fill('#key', await mintOpsKey(a));
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  await page.waitForFunction(() => /busiest 2 of 3/.test(document.getElementById('groups-title')!.textContent ?? ''), undefined, { timeout: 10_000 });
  t.ok(await page.isVisible('#scope'), 'engine redis: the page says the figures are this node\'s');
  t.equal((await page.textContent('#t-connections'))?.trim(), '2', 'they are: the moderator and the dashboard on a, not the three on b');
  t.match(await page.textContent('#groups'), /gamma/, 'the group holding an item is among the two listed');
  t.notOk(await page.isVisible('#redis-down'));
  await screenshot(page, 'admin-redis-node', undefined, { fullPage: true });

  proxy.reset();
  proxy.blackhole();
  await page.waitForSelector('#redis-down:not([hidden])', { timeout: 10_000 });
  t.match(await page.textContent('#redis-down'), /This node's link to Redis is down: .*SERVER_UNAVAILABLE/, 'a link down is said, with what it means');
  t.equal(await page.textContent('#status'), 'live', 'the page itself is still live: the node answers');
  await screenshot(page, 'admin-redis-link-down');
  proxy.heal();
  await page.waitForSelector('#redis-down', { state: 'hidden', timeout: 15_000 });
  t.pass('the warning goes once the link is back');
});
