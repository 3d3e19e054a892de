import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, type MemoryEngine } from '../../src/index.js';
import { ErrorCode, topicKey } from '../../src/protocol/index.js';
import { TidingsError } from '../../src/core/errors.js';

const all = PermissionScopes.topicPublishSubscribe('chat', '*');

testEachEngine('pubsub - the server stamps the publisher tokenId and a client cannot spoof it', async (t, engine) => {
  const server = await startServer(t, { engine });
  const alice = await RawClient.open(server, await tokenFor(server, all, { tokenId: 'alice' }));
  const anon = await RawClient.open(server, await tokenFor(server, all));
  const watcher = await RawClient.open(server, await tokenFor(server, all, { tokenId: 'watcher' }));
  await watcher.ok({ t: 'sub', cache: 'chat', topic: 'r' });
  await alice.ok({ t: 'pub', cache: 'chat', topic: 'r', value: 'from alice', tokenId: 'bob' });
  await anon.ok({ t: 'pub', cache: 'chat', topic: 'r', value: 'from anon', tokenId: 'bob' });
  const [a, b] = await watcher.items(2);
  t.equal(a!['tokenId'], 'alice', 'stamped from the verified token, not the frame');
  t.equal(b!['tokenId'], undefined, 'a token without tokenId publishes without one');
  t.equal(b!['value'], 'from anon');
});

testEachEngine('pubsub - 1:1, 1:N and N:N delivery, per-topic order', async (t, engine) => {
  const server = await startServer(t, { engine });
  const token = await tokenFor(server, all);
  const subs = await Promise.all([1, 2, 3].map(() => RawClient.open(server, token)));
  for (const s of subs) await s.ok({ t: 'sub', cache: 'chat', topic: 'fan' });
  // Subscribed the same way, the three hold one shared ref: an idle subscriber holds no copy of its own.
  const refs = [...server.broker.sessions.values()].map((s) => s.subscriptions.get(topicKey('chat', 'fan'))).filter((r) => r !== undefined);
  t.equal(refs.length, 3);
  t.equal(new Set(refs).size, 1, 'one engaged ref for the three subscriptions');
  const pubs = await Promise.all([1, 2].map(() => RawClient.open(server, token)));
  // N:N: two publishers interleave 50 items each; every subscriber sees all 100 in one order.
  const sent = pubs.flatMap((p, pi) => Array.from({ length: 50 }, (_, i) => p.ok({ t: 'pub', cache: 'chat', topic: 'fan', value: `p${pi}-${i}` })));
  await Promise.all(sent);
  const seen = await Promise.all(subs.map((s) => s.items(100)));
  const first = seen[0]!.map((f) => f['value']);
  for (const items of seen) {
    t.same(items.map((f) => f['seq']), Array.from({ length: 100 }, (_, i) => i + 1), 'seq 1..100 in order');
    t.same(items.map((f) => f['value']), first, 'same order for every subscriber');
  }
  for (const p of [0, 1]) {
    const mine = first.filter((v) => String(v).startsWith(`p${p}-`));
    t.same(mine, Array.from({ length: 50 }, (_, i) => `p${p}-${i}`), `publisher ${p}'s items keep their order`);
  }
  // 1:1 on another topic: only its subscriber gets it.
  await subs[0]!.ok({ t: 'sub', cache: 'chat', topic: 'solo' });
  await pubs[0]!.ok({ t: 'pub', cache: 'chat', topic: 'solo', value: 'just you' });
  t.equal((await subs[0]!.items(1, (f) => f['topic'] === 'solo'))[0]!['value'], 'just you');
  t.same(await subs[1]!.drain('item'), [], 'others get nothing from a topic they did not subscribe to');
});

testEachEngine('pubsub - text stays text and binary stays bytes', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, all));
  await c.ok({ t: 'sub', cache: 'chat', topic: 'kinds' });
  const bytes = new Uint8Array([0, 1, 2, 254, 255]);
  await c.ok({ t: 'pub', cache: 'chat', topic: 'kinds', value: 'héllo ✓' });
  await c.ok({ t: 'pub', cache: 'chat', topic: 'kinds', value: bytes });
  await c.ok({ t: 'pub', cache: 'chat', topic: 'kinds', value: '' });
  const [text, bin, empty] = await c.items(3);
  t.equal(text!['value'], 'héllo ✓');
  t.ok(bin!['value'] instanceof Uint8Array, 'binary arrives as bytes');
  t.same([...bin!['value']], [...bytes]);
  t.equal(empty!['value'], '', 'an empty text value is kept');
});

testEachEngine('pubsub - topics are namespaced by cache', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('*', '*')));
  await c.ok({ t: 'sub', cache: 'a', topic: 'x' });
  await c.ok({ t: 'pub', cache: 'b', topic: 'x', value: 'other cache' });
  await c.ok({ t: 'pub', cache: 'a', topic: 'x', value: 'mine' });
  const [item] = await c.items(1);
  t.match(item, { cache: 'a', topic: 'x', value: 'mine', seq: 1 });
});

testEachEngine('pubsub - many subscriptions on one connection, each acknowledged or refused on its own', async (t, engine) => {
  const server = await startServer(t, { engine, config: { topics: { maxSubscriptionsPerConnection: 3 } } });
  const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicSubscribeOnly('chat', { namePrefix: 'ok-' })));
  const replies = await Promise.all(['ok-1', 'no-2', 'ok-3', 'ok-1', 'ok-4', 'ok-5'].map((topic) => c.request({ t: 'sub', cache: 'chat', topic })));
  t.same(replies.map((r) => r['t'] === 'ok' ? 'ok' : r['e']['code']), [
    'ok', 'PERMISSION_ERROR', 'ok', 'ALREADY_EXISTS_ERROR', 'ok', 'LIMIT_EXCEEDED_ERROR',
  ]);
  t.equal(replies[5]!['e']['cause'], 'topic_subscriptions_limit_exceeded');
  t.ok((await c.ok({ t: 'unsub', cache: 'chat', topic: 'ok-1' })), 'unsubscribe frees a slot');
  t.equal((await c.request({ t: 'sub', cache: 'chat', topic: 'ok-5' }))['t'], 'ok');
  const again = await c.request({ t: 'unsub', cache: 'chat', topic: 'ok-1' });
  t.equal(again['e']['code'], 'FAILED_PRECONDITION_ERROR');
});

testEachEngine('pubsub - unsubscribed topics stop delivering', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, all));
  await c.ok({ t: 'sub', cache: 'chat', topic: 'u' });
  await c.ok({ t: 'unsub', cache: 'chat', topic: 'u' });
  await c.ok({ t: 'pub', cache: 'chat', topic: 'u', value: 'after unsub' });
  t.same(await c.drain('item'), []);
});

testEachEngine('pubsub - an unsub sent right behind its sub leaves no subscription, whichever the server finished first', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, all, { tokenId: 'quitter' }));
  // Pipelined: on the Redis engine the unsub arrives while the sub waits for Redis.
  const [sub, unsub] = await Promise.all([c.request({ t: 'sub', cache: 'chat', topic: 'left' }), c.request({ t: 'unsub', cache: 'chat', topic: 'left' })]);
  t.equal(unsub!['t'], 'ok', 'the unsub ended the subscription (or the reservation) it found');
  t.ok(sub!['t'] === 'ok' || sub!['e']['code'] === 'CANCELLED_ERROR', `the sub: ok, or CANCELLED_ERROR (${JSON.stringify(sub)})`);
  t.comment(`sub answered ${sub!['t'] === 'ok' ? 'ok' : sub!['e']['code']}`);
  const session = [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'quitter')!;
  t.equal(session.subscriptions.size, 0, 'the connection holds no subscription');
  // A sub answered ok after its reservation ended would leave a catch-up that never ends (and a
  // shutdown waiting for it until shutdownGraceMs).
  t.equal(session.catchUps?.size ?? 0, 0, 'and no catch-up');
  // Subscribed only now: the sub above had to set the topic up on the engine itself.
  const watcher = await RawClient.open(server, await tokenFor(server, all));
  await watcher.ok({ t: 'sub', cache: 'chat', topic: 'left' });
  await c.ok({ t: 'pub', cache: 'chat', topic: 'left', value: 'after unsub' });
  // Fanned out to every subscriber on this node at once; the ping's reply follows it on the socket.
  await watcher.items(1);
  await c.ok({ t: 'ping' });
  t.same(c.frames.filter((f) => f['t'] === 'item'), [], 'no item of the unsubscribed topic');
  t.equal((await c.request({ t: 'sub', cache: 'chat', topic: 'left' }))['t'], 'ok', 'the topic can be subscribed again');
});

t.test('pubsub - a sub that fails after it was unsubscribed leaves the next sub to the topic alone', async (t) => {
  // Memory engine on purpose: the fault injection holds its first subscribe, then fails it.
  const server = await startServer(t, { engine: 'memory' });
  const engine = server.broker['deps'].engine as MemoryEngine;
  const subscribe = engine.topics.subscribe.bind(engine.topics);
  let fail: (() => void) | undefined;
  engine.topics.subscribe = (cache, topic, who) => {
    if (fail) return subscribe(cache, topic, who);
    return new Promise((_resolve, reject) => { fail = () => reject(new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'fault injection')); });
  };
  const c = await RawClient.open(server, await tokenFor(server, all));
  const first = c.request({ t: 'sub', cache: 'chat', topic: 'again' });
  await c.ok({ t: 'unsub', cache: 'chat', topic: 'again' });
  await c.ok({ t: 'sub', cache: 'chat', topic: 'again' });
  fail!();
  t.match((await first)['e'], { code: 'SERVER_UNAVAILABLE' }, 'the first sub fails');
  await c.ok({ t: 'pub', cache: 'chat', topic: 'again', value: 'still subscribed' });
  t.match(await c.items(1), [{ value: 'still subscribed' }], 'the second one goes on');
});

testEachEngine('pubsub - heartbeats arrive on idle connections', async (t, engine) => {
  const server = await startServer(t, { engine, config: { server: { heartbeatMs: 50 } } });
  const c = await RawClient.open(server, await tokenFor(server, all));
  await c.ok({ t: 'sub', cache: 'chat', topic: 'quiet' });
  const hb = await c.next((f) => f['t'] === 'hb', 10_000);
  t.same(hb, { t: 'hb' });
});

testEachEngine('pubsub - /metrics and /healthz report the live state', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, all));
  await c.ok({ t: 'sub', cache: 'chat', topic: 'm1' });
  await c.ok({ t: 'sub', cache: 'chat', topic: 'm2' });
  await c.ok({ t: 'pub', cache: 'chat', topic: 'm1', value: 'x' });
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const text = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
  t.match(text, /^tidings_connections 1$/m);
  t.match(text, /^tidings_subscriptions 2$/m);
  t.match(text, /^tidings_topics 2$/m);
  t.match(text, /^tidings_published_items_total 1$/m);
  t.same(await (await fetch(`${server.httpUrl}/healthz`)).json(), { status: 'ok' });
  t.equal((await fetch(`${server.httpUrl}/nope`)).status, 404);
});
