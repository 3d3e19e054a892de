/** Moderator groups across nodes (engine redis): three Tidings nodes on one real redis-server
 * behave as one group. A moderator on one node moderates what users publish on another for
 * subscribers on a third; members on different nodes share the input exactly once; what a lost
 * member (closed connection, or a whole node killed with SIGKILL) held goes to a member on another
 * node; a nack goes to another member wherever it is; a connection closed while its join is under
 * way is no member. */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../helpers/server.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { CACHE, SUFFIX, RawModerator, acceptAll, participant } from '../helpers/moderator.js';
import { ManualClock, PermissionScopes, generateSigningKey, type TidingsServer } from '../../src/index.js';

const NODE_TIMEOUT_MS = 1000;

/** `n` nodes of one deployment: one Redis, one key prefix, one signing key. */
async function cluster(t: Test, n: number): Promise<{ nodes: TidingsServer[]; url: string; prefix: string; signingKey: string }> {
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('groups');
  t.teardown(() => deletePrefix(url, prefix));
  const signingKey = generateSigningKey();
  const config = { auth: { signingKeys: [signingKey] }, moderation: { nodeTimeoutMs: NODE_TIMEOUT_MS, ackTimeoutMs: 60_000 } };
  const nodes: TidingsServer[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config }));
  return { nodes, url, prefix, signingKey };
}

async function user(t: Test, node: TidingsServer, tokenId: string): Promise<RawClient> {
  const c = await participant(node, tokenId);
  t.teardown(() => c.close());
  return c;
}

async function moderator(t: Test, node: Pick<TidingsServer, 'wsUrl'>, options: Parameters<typeof RawModerator.join>[1]): Promise<RawModerator> {
  const m = await RawModerator.join(node, options);
  t.teardown(() => m.client.close());
  return m;
}

const values = (frames: Frame[]) => frames.map((f) => String(f['value'])).sort();
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`).sort();

t.test('a moderator on node C moderates what a user publishes on node A for a subscriber on node B', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b, c] } = await cluster(t, 3);
  const mod = await moderator(t, c!, { tokenId: 'mod', policy: (d) => (String(d['value']).includes('darn') ? { t: 'reject', reason: 'profanity' } : { t: 'accept', value: String(d['value']).toUpperCase() }) });
  const alice = await user(t, a!, 'alice');
  const bob = await user(t, b!, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  const sent = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello' });
  await mod.received(1);
  t.match(mod.deliveries[0], { t: 'delivery', group: 'mods', topic: 'room1-input', output: 'room1', value: 'hello', tokenId: 'alice', page: sent['page'], seq: sent['seq'], attempt: 1 }, 'node C got the item published on node A');
  const [item] = await bob.items(1);
  t.match(item, { topic: 'room1', value: 'HELLO', tokenId: 'alice' }, 'node B got the moderated result, stamped with the sender');
  const history = await bob.ok({ t: 'listFetch', cache: CACHE, list: 'room1', withMeta: true });
  t.match(history['items'], [{ value: 'HELLO', tokenId: 'alice', page: item!['page'], seq: item!['seq'] }], 'and its history');

  const bad = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'darn' });
  t.same(await alice.next((f) => f['t'] === 'rejected'), { t: 'rejected', cache: CACHE, topic: 'room1-input', page: bad['page'], seq: bad['seq'], reason: 'profanity', by: 'moderator' },
    'a reject on node C reaches the sender on node A');
  t.same(await bob.drain('item', 100), [], 'nothing of it on <chat>');
});

/** A node's copy of the cache's group directory learns of a group made on another node only when
 * the publish script says the copy is out of date (moderation-scripts.ts FED_PUBLISH checks its
 * version): a copy taken for current would feed the groups it knows and skip the new one. */
t.test('a publish from a node whose copy of the group directory predates a group made elsewhere feeds that group too', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b] } = await cluster(t, 2);
  const first = await moderator(t, a!, { tokenId: 'm1', group: 'mods', policy: acceptAll });
  const alice = await user(t, a!, 'alice');
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'before' });
  await first.received(1); // node a's copy lists "mods" (it fed it)
  const second = await moderator(t, b!, { tokenId: 'm2', group: 'audit', policy: acceptAll });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' });
  await first.received(2);
  await second.received(1, 10_000).catch(() => {});
  t.same(second.deliveries.map((d) => d['value']), ['after'], 'the group made on node b got the publish made on node a after it');
});

/** A node's pubAppend to a topic its copy of the group directory says feeds no group is checked
 * against the directory's version in Redis (scripts.ts tidingsPubAppend 'stale'): a node that never
 * loaded the directory (or loaded it before the group was made) would append and publish the input
 * unmoderated. */
t.test('a pubAppend to a group\'s input is refused on a node that never loaded the group directory', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b] } = await cluster(t, 2);
  await moderator(t, b!, { tokenId: 'm' }); // group "mods" made on node b
  const writer = await RawClient.open(a!, await tokenFor(a!, PermissionScopes.allDataReadWrite(), { tokenId: 'w' }));
  t.teardown(() => writer.close());
  const refused = await writer.request({ t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'drafts', value: 'unmoderated' });
  t.match(refused, { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR', message: /input of a moderator group/ } }, 'refused on node a as on node b');
  t.same(await writer.ok({ t: 'listFetch', cache: CACHE, list: 'drafts' }), { hit: false }, 'nothing appended');
});

t.test('two members on two nodes share the input: every item to exactly one, none lost', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b, c] } = await cluster(t, 3);
  const m1 = await moderator(t, a!, { tokenId: 'm1', maxInFlight: 2, policy: acceptAll });
  const m2 = await moderator(t, c!, { tokenId: 'm2', maxInFlight: 2, policy: acceptAll });
  const alice = await user(t, b!, 'alice');
  const carol = await user(t, a!, 'carol');
  const bob = await user(t, c!, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  const N = 60;
  await Promise.all([
    ...Array.from({ length: N / 2 }, (_, i) => alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` })),
    ...Array.from({ length: N / 2 }, (_, i) => carol.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${N / 2 + i}` })),
  ]);
  const items = await bob.items(N, () => true, 10_000);
  t.same(values(items), range('m', N), 'every input appears once on <chat>');
  t.same(await bob.drain('item', 200), [], 'nothing twice');
  t.equal(m1.deliveries.length + m2.deliveries.length, N, 'exactly one delivery per item');
  t.same([...m1.deliveries, ...m2.deliveries].filter((d) => d['attempt'] !== 1), [], 'all first attempts');
  t.ok(m1.deliveries.length > 0 && m2.deliveries.length > 0, `both members worked (${m1.deliveries.length} on node a / ${m2.deliveries.length} on node c)`);
  t.equal((await bob.ok({ t: 'listFetch', cache: CACHE, list: 'room1' }))['values'].length, N, 'history holds each once');
});

t.test('a member closed with items in flight: they go to the member on another node; nack goes there too', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b, c] } = await cluster(t, 3);
  const victim = await moderator(t, a!, { tokenId: 'victim', maxInFlight: 5 });
  const alice = await user(t, b!, 'alice');
  const bob = await user(t, b!, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });
  for (let i = 0; i < 5; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `a${i}` });
  await victim.received(5);
  const survivor = await moderator(t, c!, { tokenId: 'survivor', policy: acceptAll });
  for (let i = 0; i < 3; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `b${i}` });
  await survivor.received(3);
  t.equal(victim.deliveries.length, 5, 'the victim was full, so new items went to the survivor on node c');

  victim.client.ws.terminate(); // no close handshake, no settle
  await survivor.received(8);
  t.same(values(await bob.items(8)), [...range('a', 5), ...range('b', 3)].sort(), 'all eight moderated');
  t.same(await bob.drain('item', 100), [], 'none twice');
  t.same(survivor.deliveries.filter((d) => String(d['value']).startsWith('a')).map((d) => d['attempt']), [2, 2, 2, 2, 2], 'the victim\'s items came back as second attempts');

  // nack on node a: the item goes to the other member (node c), not back to the one that nacked.
  const nacker = await moderator(t, a!, { tokenId: 'nacker', policy: () => ({ t: 'nack' }) });
  survivor.policy = undefined;
  const before = survivor.deliveries.length;
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'n0' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'n1' });
  await survivor.received(before + 2);
  const toNacker = nacker.deliveries.map((d) => d['value']);
  const toSurvivor = survivor.deliveries.slice(before);
  t.same(toSurvivor.map((d) => d['value']).sort(), ['n0', 'n1'], 'both reached the member on node c');
  t.same(toSurvivor.map((d) => d['attempt']), toSurvivor.map((d) => (toNacker.includes(d['value']) ? 2 : 1)), 'a nacked delivery counts as an attempt');
  t.ok(nacker.deliveries.every((d) => d['attempt'] === 1), 'none went back to the member that nacked it');
  for (const d of toSurvivor) await survivor.client.ok({ t: 'accept', delivery: d['delivery'] });
  t.same(values(await bob.items(2)), ['n0', 'n1']);
});

t.test('a connection that closes while its gsub is under way is no member: the items go to the live one', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a] } = await cluster(t, 1);
  const quitter = await RawClient.open(a!, await tokenFor(a!, PermissionScopes.moderator(CACHE), { tokenId: 'quitter' }));
  // The close reaches the node while the join waits for Redis: the join must not outlive it.
  quitter.send({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX });
  quitter.close();
  const live = await moderator(t, a!, { tokenId: 'live', policy: acceptAll });
  const alice = await user(t, a!, 'alice');
  for (const value of ['x0', 'x1']) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value });
  await live.received(2, 10_000);
  t.same(values(live.deliveries), ['x0', 'x1'], 'both to the live member, none held by the closed connection');
  t.same(a!.engine.groups.stats().map((g) => g.members), [1], 'the group has one member');
});

t.test('a node killed with SIGKILL: after moderation.nodeTimeoutMs what its member held goes to a member on another node', async (t) => {
  if (!requireRedis(t)) return;
  const { nodes: [a, b], url, prefix, signingKey } = await cluster(t, 2);
  // The third node is a process of its own, so it can die without any shutdown work.
  const dir = mkdtempSync(join(tmpdir(), 'tidings-node-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({
    engine: 'redis', redis: { url, keyPrefix: prefix }, server: { port: 0, host: '127.0.0.1' },
    auth: { signingKeys: [signingKey] }, moderation: { nodeTimeoutMs: NODE_TIMEOUT_MS, ackTimeoutMs: 60_000 },
  }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'PORT' && !k.startsWith('TIDINGS_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', configPath], {
    env: { ...env, TIDINGS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let port: number | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    port = Number(/listening on http:\/\/[^:]+:(\d+)/.exec(line)?.[1] ?? NaN);
    if (port > 0) break;
  }
  t.ok(port! > 0, `the third node listens on port ${port}`);
  const killed = { wsUrl: `ws://127.0.0.1:${port}/v1/ws` };

  const token = await tokenFor(a!, PermissionScopes.moderator(CACHE), { tokenId: 'doomed' });
  const doomed = await moderator(t, killed, { token, maxInFlight: 3 });
  const alice = await user(t, a!, 'alice');
  const bob = await user(t, b!, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });
  for (let i = 0; i < 3; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `k${i}` });
  await doomed.received(3);
  const survivor = await moderator(t, b!, { tokenId: 'survivor', policy: acceptAll });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'k3' });
  await survivor.received(1);

  child.kill('SIGKILL');
  await survivor.received(4, 10 * NODE_TIMEOUT_MS);
  t.same(values(await bob.items(4)), range('k', 4), 'everything the dead node held was moderated by the survivor');
  t.same(survivor.deliveries.slice(1).map((d) => d['attempt']), [2, 2, 2], 'as second attempts');
  t.same(await bob.drain('item', 100), [], 'once each');
});

t.test('moderation.maxGroups bounds the deployment; idle groups are forgotten to make room', async (t) => {
  if (!requireRedis(t)) return;
  const clock = new ManualClock(Date.now());
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('maxgroups');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { moderation: { maxGroups: 1, groupIdleMs: 60_000 } };
  const [a, b] = [await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, clock, config }), await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, clock, config })];
  const first = await moderator(t, a, { group: 'g1' });
  const second = await moderator(t, b, { group: 'g1' });
  t.pass('the group exists once for the deployment: joining it on node b makes no second group');
  const c = await RawClient.open(b, await tokenFor(b, PermissionScopes.moderator(CACHE)));
  t.teardown(() => c.close());
  const g2 = { t: 'gsub', cache: CACHE, group: 'g2', pattern: { nameSuffix: 'x-input' } };
  t.match(await c.request(g2), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'groups_limit_exceeded' } }, 'a second group is refused on node b');
  await first.client.ok({ t: 'gunsub', cache: CACHE, group: 'g1' });
  await second.client.ok({ t: 'gunsub', cache: CACHE, group: 'g1' });
  t.match(await c.request(g2), { t: 'err', e: { cause: 'groups_limit_exceeded' } }, 'an idle group still counts within groupIdleMs');
  clock.advance(60_000);
  t.match(await c.request(g2), { t: 'ok', r: { members: 1 } }, 'past groupIdleMs the idle group is forgotten and the new one fits');
});
