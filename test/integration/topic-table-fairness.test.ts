/** At topics.maxTopics the memory engine's topic table makes room as a cache would: a client
 * publishing to many distinct topic names with no subscriber does not lock other users out of new
 * topics, because the least recently used subscriber-less topic is dropped. Topics with subscribers
 * are never dropped (their subscribers keep receiving contiguous seqs), a new topic is refused only
 * when every topic has subscribers, a subscriber resuming a dropped topic gets a `disc` announcing
 * the new page (never a silent gap), and the table never holds more than maxTopics topics. What
 * lives beside the table (a moderator group, the history list in the cache store) keeps working
 * for a topic evicted from it. */
import t, { type Test } from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';
import { CACHE, RawModerator, acceptAll, participant } from '../helpers/moderator.js';

const MAX_TOPICS = 50;
const FLOOD = 10 * MAX_TOPICS;

const metric = async (server: TidingsServer, sample: string): Promise<number> => {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (line === undefined) throw new Error(`no ${sample} in /metrics`);
  return Number(line.slice(sample.length + 1));
};

async function setup(t: Test, maxTopics = MAX_TOPICS, engine: 'memory' | 'redis' = 'memory') {
  const server = await startServer(t, { engine, config: { server: { metricsAccess: 'open' }, topics: { maxTopics } } });
  const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
  const attacker = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'flooder' }));
  const user = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'user' }));
  t.teardown(() => { attacker.close(); user.close(); });
  return { server, attacker, user };
}

/** Publishes to `count` distinct names nobody subscribes to; returns the replies that were errors
 * and the largest table size /metrics showed meanwhile. */
async function flood(server: TidingsServer, client: RawClient, count: number): Promise<{ refused: Frame[]; maxSeen: number }> {
  const refused: Frame[] = [];
  let maxSeen = 0;
  for (let i = 0; i < count; i++) {
    const reply = await client.request({ t: 'pub', cache: 'chat', topic: `spam-${i}`, value: `x${i}` });
    if (reply['t'] !== 'ok') refused.push(reply);
    if (i % 50 === 49) maxSeen = Math.max(maxSeen, await metric(server, 'tidings_topics'));
  }
  return { refused, maxSeen };
}

t.test('a flood of new topic names does not deny new topics to another user; the table stays bounded', async (t) => {
  const { server, attacker, user } = await setup(t);
  const { refused, maxSeen } = await flood(server, attacker, FLOOD);
  t.same(refused, [], 'every flood publish is taken (the oldest subscriber-less topics make room)');
  t.ok(maxSeen <= MAX_TOPICS, `the table held at most ${maxSeen} topics during the flood (maxTopics ${MAX_TOPICS})`);
  t.ok(await metric(server, 'tidings_topics') <= MAX_TOPICS, 'and after it');
  t.equal(await metric(server, 'tidings_topics_evicted_total'), FLOOD - MAX_TOPICS, 'each topic past the bound evicted one');

  const sub = await user.request({ t: 'sub', cache: 'chat', topic: 'user-room' });
  t.equal(sub['t'], 'ok', 'the other user subscribes to a new topic');
  const pub = await user.request({ t: 'pub', cache: 'chat', topic: 'user-room', value: 'hello' });
  t.equal(pub['t'], 'ok', 'and publishes to it');
  const [item] = await user.items(1, (f) => f['topic'] === 'user-room');
  t.match(item, { value: 'hello', seq: 1 });
  const other = await user.request({ t: 'pub', cache: 'chat', topic: 'user-news', value: 'n' });
  t.equal(other['t'], 'ok', 'and publishes to another new topic nobody subscribes to');
});

t.test('topics with subscribers are never evicted: their subscribers keep contiguous seqs', async (t) => {
  const { server, attacker, user } = await setup(t);
  const kept = Array.from({ length: 10 }, (_, i) => `kept-${i}`);
  const pages = new Map<string, number>();
  for (const topic of kept) {
    await user.ok({ t: 'sub', cache: 'chat', topic });
    pages.set(topic, (await attacker.ok({ t: 'pub', cache: 'chat', topic, value: 'before' }))['page']);
  }
  const before = await user.items(kept.length, (f) => kept.includes(f['topic']));
  t.same(before.map((f) => f['seq']), kept.map(() => 1));

  const { refused } = await flood(server, attacker, FLOOD);
  t.same(refused, [], 'the flood is taken by evicting only the subscriber-less topics');
  t.equal(await metric(server, 'tidings_topics_evicted_total'), FLOOD - (MAX_TOPICS - kept.length));

  for (const topic of kept) {
    const r = await attacker.ok({ t: 'pub', cache: 'chat', topic, value: 'after' });
    t.same([r['page'], r['seq']], [pages.get(topic), 2], `${topic} kept its page and seq`);
  }
  const after = await user.items(kept.length, (f) => kept.includes(f['topic']));
  for (const f of after) t.match(f, { value: 'after', seq: 2, page: pages.get(f['topic']) }, `${f['topic']}: seq 2 right after seq 1`);
  t.same(user.frames.filter((f) => f['t'] === 'disc'), [], 'no subscriber got a discontinuity');
});

t.test('a new topic is refused (topics_limit_exceeded) only when every topic has subscribers', async (t) => {
  const maxTopics = 5;
  const { server, attacker, user } = await setup(t, maxTopics);
  for (let i = 0; i < maxTopics; i++) await user.ok({ t: 'sub', cache: 'chat', topic: `busy-${i}` });
  const reply = await attacker.request({ t: 'pub', cache: 'chat', topic: 'one-more', value: 'x' });
  t.equal(reply['t'], 'err');
  t.match(reply['e'], { code: 'LIMIT_EXCEEDED_ERROR', cause: 'topics_limit_exceeded' });
  t.equal(await metric(server, 'tidings_topics'), maxTopics);
  t.equal(await metric(server, 'tidings_topics_evicted_total'), 0, 'no subscribed topic was evicted');
  const refusedSub = await user.request({ t: 'sub', cache: 'chat', topic: 'one-more' });
  t.match(refusedSub['e'], { code: 'LIMIT_EXCEEDED_ERROR', cause: 'topics_limit_exceeded' }, 'so is a sub to it');
  // One subscriber leaves: its topic becomes the one to evict, and the refused publish goes through.
  await user.ok({ t: 'unsub', cache: 'chat', topic: 'busy-0' });
  t.equal((await attacker.request({ t: 'pub', cache: 'chat', topic: 'one-more', value: 'x' }))['t'], 'ok');
  t.equal(await metric(server, 'tidings_topics_evicted_total'), 1);
  t.match(await user.ok({ t: 'sub', cache: 'chat', topic: 'one-more' }), { seq: 1 }, 'the refused sub left no subscription behind: subscribing now works');
});

t.test('a subscriber resuming an evicted topic gets a disc announcing the new page, never a silent gap', async (t) => {
  const { server, attacker, user } = await setup(t);
  await user.ok({ t: 'sub', cache: 'chat', topic: 'resumed' });
  let last: { page: number; seq: number } = { page: 0, seq: 0 };
  for (let i = 1; i <= 3; i++) last = await attacker.ok({ t: 'pub', cache: 'chat', topic: 'resumed', value: `old${i}` }) as typeof last;
  const old = await user.items(3, (f) => f['topic'] === 'resumed');
  t.same(old.map((f) => f['seq']), [1, 2, 3]);
  await user.ok({ t: 'unsub', cache: 'chat', topic: 'resumed' });

  const { refused } = await flood(server, attacker, FLOOD);
  t.same(refused, []);
  // Published while the subscriber was away: the topic comes back under a new page.
  const fresh = await attacker.ok({ t: 'pub', cache: 'chat', topic: 'resumed', value: 'new1' });
  t.ok(fresh['page'] > last.page, 'the evicted topic starts a new page');
  t.equal(fresh['seq'], 1, 'whose seqs start at 1');

  const sub = await user.ok({ t: 'sub', cache: 'chat', topic: 'resumed', after: last });
  t.same([sub['page'], sub['seq']], [fresh['page'], 1]);
  const first = await user.next((f) => f['topic'] === 'resumed' && (f['t'] === 'disc' || f['t'] === 'item'));
  t.match(first, { t: 'disc', lastSeq: 3, newSeq: 1, page: fresh['page'] }, 'the resume starts with a disc for the new page');
  const [item] = await user.items(1, (f) => f['topic'] === 'resumed');
  t.match(item, { value: 'new1', seq: 1, page: fresh['page'] });
});

t.test('a moderated chat whose topics were evicted keeps its group and its history list', async (t) => {
  const { server, attacker } = await setup(t);
  t.equal(CACHE, 'chat', 'the flood and the chat share one cache');
  const mod = await RawModerator.join(server, { tokenId: 'mod', policy: acceptAll });
  const alice = await participant(server, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'first' });
  await mod.received(1);
  let history: Frame = {};
  for (let i = 0; i < 100 && !history['items']?.length; i++) history = await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1', withMeta: true });
  const [first] = history['items'];
  t.match(first, { value: 'first', seq: 1 }, 'the accepted item is in the history list');

  const { refused } = await flood(server, attacker, FLOOD);
  t.same(refused, [], 'the input and output topics were evicted like any other subscriber-less topic');

  const r = await mod.client.ok({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: first['page'], seq: first['seq'] }, reason: 'spam' });
  t.equal(r['removed'], true, 'an item of the evicted page can still be taken down from the history list');
  t.ok(r['page'] > first['page'], 'the retract opens the topic\'s new page');
  t.equal(r['seq'], 1);

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'second' });
  await mod.received(2);
  t.match(mod.deliveries[1], { topic: 'room1-input', value: 'second' }, 'the group still gets the chat\'s input');
  for (let i = 0; i < 100 && history['items']?.[0]?.['value'] !== 'second'; i++) history = await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1', withMeta: true });
  t.match(history['items'], [{ value: 'second', page: r['page'], seq: 2 }], 'the history holds the new item under the new page');
  t.ok(await metric(server, 'tidings_topics') <= MAX_TOPICS);
});

// With the Redis engine topics live in Redis: a node's table holds only its copies of the windows
// it serves to its own subscribers, which are never evicted, so the bound refuses a `sub` there and
// never a publish.
testEachEngine('redis engine: a flood of publishes leaves the node table alone; a full one refuses subs only', async (t) => {
  const maxTopics = 5;
  const { server, attacker, user } = await setup(t, maxTopics, 'redis');
  const { refused } = await flood(server, attacker, FLOOD);
  t.same(refused, [], 'publishes are never refused for the node table');
  t.equal(await metric(server, 'tidings_topics'), 0, 'publishes with no local subscriber add no window');
  for (let i = 0; i < maxTopics; i++) await user.ok({ t: 'sub', cache: 'chat', topic: `busy-${i}` });
  const reply = await user.request({ t: 'sub', cache: 'chat', topic: 'one-more' });
  t.match(reply, { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'topics_limit_exceeded' } });
  t.equal((await attacker.request({ t: 'pub', cache: 'chat', topic: 'one-more', value: 'x' }))['t'], 'ok', 'a publish to it is taken');
  await attacker.ok({ t: 'pub', cache: 'chat', topic: 'busy-0', value: 'still here' });
  t.match(await user.next((f) => f['t'] === 'item' && f['topic'] === 'busy-0'), { value: 'still here', seq: 1 }, 'the subscribed windows serve on');
  t.equal(await metric(server, 'tidings_topics_evicted_total'), 0);
}, ['redis']);
