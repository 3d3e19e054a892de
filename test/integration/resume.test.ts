import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

async function publish(c: RawClient, topic: string, values: string[]): Promise<void> {
  for (const value of values) await c.ok({ t: 'pub', cache: 'chat', topic, value });
}

testEachEngine('resume - a subscriber that drops and comes back gets exactly the missed items', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = await tokenFor(server, scope);
  const pub = await RawClient.open(server, token);
  const sub = await RawClient.open(server, token);
  await sub.ok({ t: 'sub', cache: 'chat', topic: 'r' });
  await publish(pub, 'r', ['1', '2', '3']);
  const got = await sub.items(3);
  const last = got.at(-1)!;
  sub.close();
  await sub.waitClosed();
  await publish(pub, 'r', ['4', '5', '6', '7']);

  const back = await RawClient.open(server, token);
  const reply = await back.ok({ t: 'sub', cache: 'chat', topic: 'r', after: { page: last['page'], seq: last['seq'] } });
  t.same(reply, { page: last['page'], seq: 7 });
  await pub.ok({ t: 'pub', cache: 'chat', topic: 'r', value: '8' });
  const resumed = await back.items(5);
  t.same(resumed.map((f) => f['value']), ['4', '5', '6', '7', '8'], 'missed items, then live, in order');
  t.same(resumed.map((f) => f['seq']), [4, 5, 6, 7, 8]);
  t.same(await back.drain('item'), [], 'no duplicates');
  t.same(await back.drain('disc', 0), [], 'no discontinuity when the window covers the gap');
});

testEachEngine('resume - up to date subscriber gets nothing replayed', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const r = await c.ok({ t: 'pub', cache: 'chat', topic: 'x', value: 'a' });
  const reply = await c.ok({ t: 'sub', cache: 'chat', topic: 'x', after: { page: r['page'], seq: r['seq'] } });
  t.equal(reply['seq'], 1);
  t.same(await c.drain('item'), []);
});

testEachEngine('resume - beyond the window gets a discontinuity, then what the window holds', async (t, engine) => {
  const server = await startServer(t, { engine, config: { topics: { windowItems: 3 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const first = await c.ok({ t: 'pub', cache: 'chat', topic: 'w', value: '1' });
  await publish(c, 'w', ['2', '3', '4', '5', '6']);
  await c.ok({ t: 'sub', cache: 'chat', topic: 'w', after: { page: first['page'], seq: 1 } });
  const disc = await c.next((f) => f['t'] === 'disc');
  t.same(disc, { t: 'disc', cache: 'chat', topic: 'w', lastSeq: 1, newSeq: 4, page: first['page'] });
  t.same((await c.items(3)).map((f) => f['value']), ['4', '5', '6']);
});

testEachEngine('resume - a topic reset (idle drop) starts a new page and resuming reports it', async (t, engine) => {
  const clock = new ManualClock();
  const server = await startServer(t, { engine, clock, config: { topics: { idleTopicMs: 1000 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope, { expiresInSec: 3600 }));
  const before = await c.ok({ t: 'pub', cache: 'chat', topic: 'idle', value: 'old' });
  clock.advance(5000);
  const memory = server.broker['deps'].engine as import('../../src/index.js').MemoryEngine;
  t.equal(memory.topics.registry.sweep(), 1, 'the idle topic is dropped');
  t.equal(memory.topics.stats().windowBytes, 0, "its window's bytes are released with it");
  t.equal(memory.topics.stats().windowEvictions.idle, 1, 'its item is counted as dropped for idleness');
  const after = await c.ok({ t: 'pub', cache: 'chat', topic: 'idle', value: 'new' });
  t.equal(after['seq'], 1, 'numbering restarts');
  t.ok(after['page'] > before['page'], 'under a larger page');
  await c.ok({ t: 'sub', cache: 'chat', topic: 'idle', after: { page: before['page'], seq: before['seq'] } });
  t.same(await c.next((f) => f['t'] === 'disc'), { t: 'disc', cache: 'chat', topic: 'idle', lastSeq: 1, newSeq: 1, page: after['page'] });
  t.same((await c.items(1)).map((f) => f['value']), ['new']);
}, ['memory']); // memory engine internals (sweep, global budget); the Redis counterpart: redis-topics.test.ts

testEachEngine("resume - a topic's idle time counts from its last use: its last subscriber leaving, or its last publish", async (t, engine) => {
  const clock = new ManualClock();
  const server = await startServer(t, { engine, clock, config: { topics: { idleTopicMs: 1000 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope, { expiresInSec: 3600 }));
  const memory = server.broker['deps'].engine as import('../../src/index.js').MemoryEngine;
  await c.ok({ t: 'sub', cache: 'chat', topic: 'left' });
  clock.advance(1800);
  await c.ok({ t: 'unsub', cache: 'chat', topic: 'left' });
  memory.topics.registry.sweep();
  t.ok(memory.topics.position('chat', 'left'), 'left just now (subscribed 1800 ms ago): kept');
  await c.ok({ t: 'pub', cache: 'chat', topic: 'published', value: 'a' });
  clock.advance(900);
  const last = await c.ok({ t: 'pub', cache: 'chat', topic: 'published', value: 'b' });
  clock.advance(900);
  memory.topics.registry.sweep();
  t.notOk(memory.topics.position('chat', 'left'), 'left 1800 ms ago: dropped');
  t.ok(memory.topics.position('chat', 'published'), 'published to 900 ms ago (created 1800 ms ago): kept');
  await c.ok({ t: 'sub', cache: 'chat', topic: 'published', after: { page: last['page'], seq: 1 } });
  t.same((await c.items(1)).map((f) => f['value']), ['b'], 'a resume on it gets what it missed');
  t.same(await c.drain('disc', 0), [], 'with no discontinuity');
}, ['memory']);

testEachEngine('resume - the global window budget skips what a topic already dropped itself', async (t, engine) => {
  // Three window entries of ~750 bytes (400-byte values, their frames and entry overhead) fit the budget, four do not.
  const server = await startServer(t, { engine, config: { topics: { windowItems: 2, windowBytes: 100_000, windowTotalBytes: 2600 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const big = (v: string) => v.repeat(400);
  const a1 = await c.ok({ t: 'pub', cache: 'chat', topic: 'A', value: big('1') });
  const c1 = await c.ok({ t: 'pub', cache: 'chat', topic: 'C', value: big('c') });
  await publish(c, 'A', [big('2'), big('3')]); // A's own bound (2 items) drops its first
  await c.ok({ t: 'pub', cache: 'chat', topic: 'D', value: big('d') }); // one entry over the budget
  await c.ok({ t: 'sub', cache: 'chat', topic: 'A', after: { page: a1['page'], seq: 1 } });
  t.same((await c.items(2)).map((f) => f['seq']), [2, 3], "A's two newest items are still held");
  t.same(await c.drain('disc', 0), [], 'A lost nothing to the budget');
  await c.ok({ t: 'sub', cache: 'chat', topic: 'C', after: { page: c1['page'], seq: 0 } });
  t.match(await c.next((f) => f['t'] === 'disc'), { topic: 'C', lastSeq: 0, newSeq: 2 }, "C's item, the oldest held anywhere, made room");
}, ['memory']); // memory engine internals (global budget); the Redis counterpart: redis-topics.test.ts

testEachEngine('resume - a topic with subscribers is never dropped as idle', async (t, engine) => {
  const clock = new ManualClock();
  const server = await startServer(t, { engine, clock, config: { topics: { idleTopicMs: 1000 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope, { expiresInSec: 3600 }));
  await c.ok({ t: 'sub', cache: 'chat', topic: 'kept' });
  clock.advance(5000);
  const memory = server.broker['deps'].engine as import('../../src/index.js').MemoryEngine;
  t.equal(memory.topics.registry.sweep(), 0);
});

testEachEngine('resume - page 0 asks for everything the window still has', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const p = await c.ok({ t: 'pub', cache: 'chat', topic: 'all', value: 'a' });
  await c.ok({ t: 'pub', cache: 'chat', topic: 'all', value: 'b' });
  await c.ok({ t: 'sub', cache: 'chat', topic: 'all', after: { page: 0, seq: 0 } });
  t.same(await c.next((f) => f['t'] === 'disc'), { t: 'disc', cache: 'chat', topic: 'all', lastSeq: 0, newSeq: 1, page: p['page'] });
  t.same((await c.items(2)).map((f) => f['value']), ['a', 'b']);
});

testEachEngine('resume - the global window budget drops the oldest items first', async (t, engine) => {
  const server = await startServer(t, { engine, config: { topics: { windowTotalBytes: 1500, windowBytes: 100_000 } } });
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const big = 'x'.repeat(400);
  const a = await c.ok({ t: 'pub', cache: 'chat', topic: 'A', value: big });
  for (let i = 0; i < 6; i++) await c.ok({ t: 'pub', cache: 'chat', topic: 'B', value: big });
  const memory = server.broker['deps'].engine as import('../../src/index.js').MemoryEngine;
  t.ok(memory.topics.stats().windowBytes <= 1500, `window bytes ${memory.topics.stats().windowBytes} within budget`);
  await c.ok({ t: 'sub', cache: 'chat', topic: 'A', after: { page: a['page'], seq: 0 } });
  t.match(await c.next((f) => f['t'] === 'disc'), { lastSeq: 0, newSeq: 2 }, "topic A's old item was evicted by B's newer ones");
}, ['memory']); // memory engine internals (sweep, global budget); the Redis counterpart: redis-topics.test.ts
