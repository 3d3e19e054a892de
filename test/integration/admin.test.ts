import t from 'tap';
import { startServer } from '../helpers/server.js';
import { sdkFor } from '../helpers/sdk.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes } from '../../src/index.js';
import type { TidingsClientError } from '../../src/client/index.js';

const adminKey = async (server: Awaited<ReturnType<typeof startServer>>, tokenId: string) =>
  (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null, tokenId })).token;

async function refusal(promise: Promise<unknown>): Promise<TidingsClientError> {
  try { await promise; } catch (err) { return err as TidingsClientError; }
  throw new Error('expected a refusal');
}

t.test('admin - off by default: no page, and adminStats is refused even for a full API key', async (t) => {
  const server = await startServer(t);
  t.equal((await fetch(`${server.httpUrl}/admin`)).status, 404);
  t.equal((await fetch(`${server.httpUrl}/admin/uplot.js`)).status, 404);
  const sdk = await sdkFor(t, server, { token: await adminKey(server, 'admin') });
  const err = await refusal(sdk.connection.request({ t: 'adminStats' }));
  t.match(err, { code: 'PERMISSION_ERROR', message: /dashboard is off/ });
});

t.test('admin - only an API key whose tokenId is listed may read the stats; the page and uPlot are served', async (t) => {
  const server = await startServer(t, { config: { admin: { tokenIds: ['ops'] } } });
  const page = await fetch(`${server.httpUrl}/admin`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /text\/html/);
  t.equal(page.headers.get('x-frame-options'), 'DENY', 'the page is never framed');
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /(^|; )script-src 'self'(;|$)/, 'the page runs only its own script files (the browser test proves the page works under it)');
  t.notMatch(csp, /unsafe-inline|unsafe-eval/);
  t.match(csp, /(^|; )default-src 'none'(;|$)/);
  t.equal(page.headers.get('referrer-policy'), 'no-referrer', 'the page\'s URL never leaks onwards');
  t.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const script = await fetch(`${server.httpUrl}/admin/app.js`);
  t.equal(script.headers.get('x-content-type-options'), 'nosniff', 'the page\'s files get the page\'s headers too');
  t.equal(script.headers.get('content-security-policy'), csp);
  const uplot = await fetch(`${server.httpUrl}/admin/uplot.js`);
  t.equal(uplot.status, 200);
  t.match(await uplot.text(), /export \{[^}]*as default/, 'uPlot is served as an ES module from its npm package');
  t.equal((await fetch(`${server.httpUrl}/admin/../package.json`)).status, 404);
  t.equal((await fetch(`${server.httpUrl}/admin/secrets.json`)).status, 404, 'only the listed files');

  const stranger = await sdkFor(t, server, { token: await adminKey(server, 'someone') });
  t.match(await refusal(stranger.connection.request({ t: 'adminStats' })), { code: 'PERMISSION_ERROR', message: /admin\.tokenIds/ });
  const disposable = (await server.auth.mintDisposableToken({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: 60, tokenId: 'ops' })).token;
  const borrowed = await sdkFor(t, server, { token: disposable });
  t.match(await refusal(borrowed.connection.request({ t: 'adminStats' })), { code: 'PERMISSION_ERROR' }, 'a disposable token with the same tokenId does not qualify');

  const ops = await sdkFor(t, server, { token: await adminKey(server, 'ops') });
  const stats = await ops.connection.request({ t: 'adminStats' });
  t.match(stats, { connections: { open: 3, limit: 100_000 }, topics: { live: 0, evicted: 0 }, rates: null, window: { limit: 256 * 1024 * 1024 } });
});

t.test('admin - the stats: rates and top topics between samples, groups with their members, limit events', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { admin: { tokenIds: ['ops'], topTopics: 2 }, moderation: { bufferItems: 1 } } });
  const ops = await sdkFor(t, server, { token: await adminKey(server, 'ops') });
  const sample = () => ops.connection.request({ t: 'adminStats' });
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'mod-1' }));
  await moderator.ok({ t: 'gsub', cache: 'chat', group: 'mods', pattern: { nameSuffix: '-input' }, maxInFlight: 1 });
  const user = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'), { tokenId: 'u' }));
  await user.ok({ t: 'sub', cache: 'chat', topic: 'busy' });

  await sample();
  clock.advance(2000);
  for (let i = 0; i < 6; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'busy', value: `b${i}` });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'quiet', value: 'q' });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'other', value: 'o' });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'room-input', value: 'held' });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'room-input', value: 'buffered' });
  t.match(await user.request({ t: 'pub', cache: 'chat', topic: 'room-input', value: 'refused' }), { t: 'err', e: { cause: 'group_buffer_limit_exceeded' } });
  const stats = await sample();
  t.same(stats.rates, { publishes: 5, deliveries: 3 }, '10 publishes in 2 s; the 6 to "busy" each reached its subscriber');
  t.same(stats.topTopics.map((x) => [x.topic, x.perSecond, x.subscribers]), [['busy', 3, 1], ['room-input', 1, 0]], 'the busiest first, at most admin.topTopics');
  t.match(stats.groups, [{ cache: 'chat', group: 'mods', pattern: { nameSuffix: '-input' }, members: [{ name: 'mod-1', inFlight: 1 }], buffered: 1, inFlight: 1, refused: 1 }]);
  t.same(stats.limitEvents, { group_buffer_limit_exceeded: 1 });
  t.equal(stats.subscriptions, 1);
  t.same(stats.slowConsumers, { detached: 0, detaches: 0 });
  t.equal(stats.connections.open, 3);
  t.same(await sample(), stats, 'samples closer than the interval are shared, so many dashboards cost one sample');
});

// Every group, with every member, went into each second's sample: with moderation.maxGroups
// (10,000) groups the dashboard got megabytes a second and a table it could not draw.
t.test('admin - the stats list the busiest admin.topGroups groups and count them all', async (t) => {
  const server = await startServer(t, { engine: 'memory', config: { admin: { tokenIds: ['ops'], topGroups: 2 } } });
  const ops = await sdkFor(t, server, { token: await adminKey(server, 'ops') });
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator('chat'), { tokenId: 'mod' }));
  for (const group of ['a', 'b', 'c', 'd']) await moderator.ok({ t: 'gsub', cache: 'chat', group, pattern: { nameSuffix: `-${group}-input` }, maxInFlight: 1 });
  const user = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*')));
  // c holds three items (one in flight, two buffered), b one, a and d none.
  for (let i = 0; i < 3; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'room-c-input', value: `c${i}` });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'room-b-input', value: 'b' });
  const stats = await ops.connection.request({ t: 'adminStats' });
  t.equal(stats.groupCount, 4, 'every group counted');
  t.same(stats.groups.map((g) => g.group), ['c', 'b'], 'the two holding the most, busiest first');
});

// A topic dropped (topics.maxTopics) and started again between two samples is on a new page, its
// seq counting from 0 again: its rate is what the new page holds, not the difference with the old
// page's seq (negative: the topic would vanish from the list while it is busy).
t.test('admin - a topic started again since the previous sample ranks by what its new page holds', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, engine: 'memory', config: { admin: { tokenIds: ['ops'] }, topics: { maxTopics: 2 } } });
  const ops = await sdkFor(t, server, { token: await adminKey(server, 'ops') });
  const sample = () => ops.connection.request({ t: 'adminStats' });
  const user = await RawClient.open(server, (await server.auth.mintApiKey({ scope: PermissionScopes.topicPublishSubscribe('chat', '*'), expiresInSec: null, tokenId: 'u' })).token);
  for (let i = 0; i < 6; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'again', value: `old${i}` });
  await sample();
  clock.advance(2000);
  // Two other topics take both places: 'again' is dropped; then it comes back, taking one.
  await user.ok({ t: 'pub', cache: 'chat', topic: 'b', value: 'b' });
  await user.ok({ t: 'pub', cache: 'chat', topic: 'c', value: 'c' });
  for (let i = 0; i < 4; i++) await user.ok({ t: 'pub', cache: 'chat', topic: 'again', value: `new${i}` });
  const stats = await sample();
  t.ok(stats.topics.evicted >= 2, 'the topic was dropped and another made room for its return');
  t.equal(stats.topTopics.find((x) => x.topic === 'again')?.perSecond, 2, 'its 4 items since it started again, in 2 s');
});
