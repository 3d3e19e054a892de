import net from 'node:net';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { ManualClock, type Scope, type TidingsServer } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const CACHE = 'chat';
const ROOM = 'room1';
/** May subscribe to the room, see who is there and publish to it. */
const member: Scope = { permissions: [{ role: 'publishsubscribe', cache: CACHE, topic: ROOM, presence: true }] };
/** May subscribe and publish, but not see who is there. */
const blind: Scope = { permissions: [{ role: 'publishsubscribe', cache: CACHE, topic: ROOM }] };

async function join(server: TidingsServer, tokenId: string, options: { presence?: boolean; scope?: Scope } = {}): Promise<RawClient> {
  const c = await RawClient.open(server, await tokenFor(server, options.scope ?? member, { tokenId }));
  await c.ok({ t: 'sub', cache: CACHE, topic: ROOM, ...(options.presence ? { presence: true } : {}) });
  return c;
}

/** The two grace cases run on a manual clock the test moves past the grace itself: on the real
 * clock a loaded machine could let a short grace run out before the reconnect it must cover. */
const GRACE = 1000;

/** Asks until the reply matches: a close reaches presence a moment after the client closed. */
async function until(c: RawClient, want: Record<string, number>): Promise<void> {
  const wanted = JSON.stringify(Object.entries(want).sort());
  let got: Record<string, number> = {};
  await waitFor(`members ${wanted}`, async () => JSON.stringify(Object.entries(got = await members(c)).sort()) === wanted)
    .catch((e: Error) => { throw new Error(`${e.message}, last ${JSON.stringify(got)}`); });
}

/** Events reach a watcher in order, so a leave decided when the clock moved arrives before the sentinel's join. */
async function sentinel(server: TidingsServer, watcher: RawClient): Promise<void> {
  await join(server, 'sentinel');
  await watcher.next(presenceEvent('join', 'sentinel'));
}

const presenceEvent = (kind: 'join' | 'leave', tokenId: string) => (f: Frame) => f['t'] === kind && f['tokenId'] === tokenId && f['topic'] === ROOM;

async function members(c: RawClient): Promise<Record<string, number>> {
  const r = await c.ok({ t: 'presence', cache: CACHE, topic: ROOM });
  return Object.fromEntries((r['members'] as Array<{ tokenId: string; connections: number }>).map((m) => [m.tokenId, m.connections]));
}

testEachEngine('presence - two tabs of one user: one member with two connections, leaves only with the last tab', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { presence: { leaveGraceMs: GRACE } } });
  const watcher = await join(server, 'watcher', { presence: true });
  await watcher.next(presenceEvent('join', 'watcher'));
  const tab1 = await join(server, 'alice');
  await watcher.next(presenceEvent('join', 'alice'));
  const tab2 = await join(server, 'alice');
  t.same(await members(watcher), { watcher: 1, alice: 2 });
  tab1.close();
  await until(watcher, { watcher: 1, alice: 1 });
  clock.advance(GRACE + 1); // past the grace: still no leave, one tab is open
  await sentinel(server, watcher);
  t.same((await watcher.drain('leave', 0)), [], 'closing one of two tabs is not a leave');
  t.same(await members(watcher), { watcher: 1, alice: 1, sentinel: 1 });
  tab2.close();
  await until(watcher, { watcher: 1, alice: 0, sentinel: 1 });
  clock.advance(GRACE + 1);
  const left = await watcher.next(presenceEvent('leave', 'alice'));
  t.same(left, { t: 'leave', cache: CACHE, topic: ROOM, tokenId: 'alice' });
  t.same(await members(watcher), { watcher: 1, sentinel: 1 });
  t.same(await watcher.drain('join', 0), [], 'the second tab made no second join');
  watcher.close();
});

testEachEngine('presence - a reconnect within the grace is neither a leave nor a join', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { presence: { leaveGraceMs: GRACE } } });
  const watcher = await join(server, 'watcher', { presence: true });
  const bob = await join(server, 'bob');
  await watcher.next(presenceEvent('join', 'bob'));
  bob.close();
  // Within the grace the member is still listed, with no connection.
  await until(watcher, { watcher: 1, bob: 0 });
  t.pass('listed as reconnecting');
  const again = await join(server, 'bob');
  clock.advance(GRACE + 1); // past the original grace: the leave was cancelled
  await sentinel(server, watcher);
  t.same(await watcher.drain('leave', 0), [], 'no leave');
  t.same((await watcher.drain('join', 0)).filter((f) => f['tokenId'] === 'bob'), [], 'no second join');
  t.same(await members(watcher), { watcher: 1, bob: 1, sentinel: 1 });
  again.close();
  watcher.close();
});

testEachEngine('presence - unsubscribe is a leave; join/leave take no seq and reach only subscribers that asked', async (t, engine) => {
  const server = await startServer(t, { engine, config: { presence: { leaveGraceMs: 0 } } });
  const watcher = await join(server, 'watcher', { presence: true });
  const quiet = await join(server, 'quiet');
  const carol = await join(server, 'carol');
  await watcher.next(presenceEvent('join', 'carol'));
  await carol.ok({ t: 'unsub', cache: CACHE, topic: ROOM });
  await watcher.next(presenceEvent('leave', 'carol'));
  t.same(await members(watcher), { watcher: 1, quiet: 1 });
  // Three joins and a leave happened; the first item is still seq 1, so none took a slot.
  const pub = await quiet.ok({ t: 'pub', cache: CACHE, topic: ROOM, value: 'hi' });
  t.equal(pub['seq'], 1);
  const [item] = await watcher.items(1);
  t.equal(item!['seq'], 1);
  t.same(await quiet.drain('join', 100), [], 'a subscriber that did not ask gets no join events');
  t.same(await quiet.drain('leave', 0), []);
  // Presence is for subscribers with a tokenId: an anonymous subscriber is not listed.
  const anon = await RawClient.open(server, (await server.auth.mintDisposableToken({ scope: member, expiresInSec: 60 })).token);
  await anon.ok({ t: 'sub', cache: CACHE, topic: ROOM });
  t.same(await members(watcher), { watcher: 1, quiet: 1 });
  for (const c of [watcher, quiet, carol, anon]) c.close();
});

testEachEngine('presence - a busy topic lists at most maxMembersPerTopic users and counts the rest', async (t, engine) => {
  const server = await startServer(t, { engine, config: { presence: { leaveGraceMs: 0, maxMembersPerTopic: 5 } } });
  const clients: RawClient[] = [];
  for (let i = 0; i < 8; i++) clients.push(await join(server, `user${i}`, { presence: i === 0 }));
  const r = await clients[0]!.ok({ t: 'presence', cache: CACHE, topic: ROOM });
  t.equal(r['members'].length, 5, 'bounded');
  t.equal(r['untracked'], 3, 'the others are counted');
  const joins = await clients[0]!.drain('join', 100);
  t.equal(joins.length, 5, 'no events for untracked users');
  // An untracked connection leaving changes the count, never a tracked member.
  clients[7]!.close();
  await clients[7]!.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const after = await clients[0]!.ok({ t: 'presence', cache: CACHE, topic: ROOM });
  t.equal(after['untracked'], 2);
  t.equal(after['members'].length, 5);
  for (const c of clients) c.close();
});

testEachEngine('presence - a user counted untracked stays untracked while any of its connections is, and never takes a listed one', async (t, engine) => {
  const server = await startServer(t, { engine, config: { presence: { leaveGraceMs: 0, maxMembersPerTopic: 2 } } });
  const watcher = await join(server, 'watcher', { presence: true });
  const alice = await join(server, 'alice');
  const bobFirst = await join(server, 'bob'); // the topic is full: counted, not listed
  t.teardown(() => { for (const c of [watcher, alice, bobFirst]) c.close(); });
  const state = async () => {
    const r = await watcher.ok({ t: 'presence', cache: CACHE, topic: ROOM });
    return JSON.stringify({ members: Object.fromEntries((r['members'] as Array<{ tokenId: string; connections: number }>).map((m) => [m.tokenId, m.connections])), untracked: r['untracked'] });
  };
  t.equal(await state(), JSON.stringify({ members: { watcher: 1, alice: 1 }, untracked: 1 }));
  alice.close();
  await waitFor('alice\'s leave', async () => await state() === JSON.stringify({ members: { watcher: 1 }, untracked: 1 }));
  // Room again, but bob is untracked: his second connection is too (with engine redis a node
  // could not tell which of his connections ended, so his list entry would depend on the node).
  const bobSecond = await join(server, 'bob');
  t.teardown(() => bobSecond.close());
  t.equal(await state(), JSON.stringify({ members: { watcher: 1 }, untracked: 2 }), 'bob\'s second connection is counted, not listed');
  const carol = await join(server, 'carol');
  t.teardown(() => carol.close());
  t.equal(await state(), JSON.stringify({ members: { watcher: 1, carol: 1 }, untracked: 2 }), 'there was room: carol is listed');
  bobSecond.close();
  await waitFor('one of bob\'s connections to go', async () => (JSON.parse(await state()) as { untracked: number }).untracked === 1);
  t.equal(await state(), JSON.stringify({ members: { watcher: 1, carol: 1 }, untracked: 1 }), 'the listed members keep their connections');
  bobFirst.close();
  await waitFor('bob\'s last connection to go', async () => (JSON.parse(await state()) as { untracked: number }).untracked === 0);
  const again = await join(server, 'bob');
  t.teardown(() => again.close());
  t.equal(await state(), JSON.stringify({ members: { watcher: 1, carol: 1 } , untracked: 1 }), 'the topic is full again: bob\'s new connection is untracked');
  t.same((await watcher.drain('join', 100)).map((f) => f['tokenId']).sort(), ['alice', 'carol', 'watcher'], 'bob never joined');
  t.same((await watcher.drain('leave', 0)).map((f) => f['tokenId']), ['alice'], 'and never left');
});

testEachEngine('presence - permission: a token without presence may not ask, over WebSocket or HTTP', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await RawClient.open(server, await tokenFor(server, blind, { tokenId: 'dave' }));
  const ask = await c.request({ t: 'presence', cache: CACHE, topic: ROOM });
  t.equal(ask['e']?.['code'], 'PERMISSION_ERROR');
  const sub = await c.request({ t: 'sub', cache: CACHE, topic: ROOM, presence: true });
  t.equal(sub['e']?.['code'], 'PERMISSION_ERROR', 'join/leave events need the permission too');
  const bad = await c.request({ t: 'sub', cache: CACHE, topic: ROOM, presence: 'yes' });
  t.equal(bad['e']?.['code'], 'INVALID_ARGUMENT_ERROR');
  await c.ok({ t: 'sub', cache: CACHE, topic: ROOM });

  const url = `${server.httpUrl}/v1/presence/${CACHE}/${ROOM}`;
  const sessions = server.broker.sessions.size;
  const refused = await fetch(url, { headers: { authorization: `Bearer ${await tokenFor(server, blind, { tokenId: 'x' })}` } });
  t.equal(refused.status, 403);
  t.equal((await refused.json() as { error: { code: string } }).error.code, 'PERMISSION_ERROR');
  const anonymous = await fetch(url);
  t.equal(anonymous.status, 401);
  t.match(await anonymous.json(), { error: { code: 'AUTHENTICATION_ERROR', message: /Authorization: Bearer/ } }, 'the refusal says how to send the credential');
  const ok = await fetch(url, { headers: { authorization: `Bearer ${await tokenFor(server, member, { tokenId: 'erin' })}` } });
  t.equal(ok.status, 200);
  t.same(await ok.json(), { members: [{ tokenId: 'dave', connections: 1 }], untracked: 0 });
  const other = await fetch(`${server.httpUrl}/v1/presence/${CACHE}/elsewhere`, { headers: { authorization: `Bearer ${await tokenFor(server, member, { tokenId: 'erin' })}` } });
  t.equal(other.status, 403, 'presence on one topic is not presence on another');
  t.equal(server.broker.sessions.size, sessions, 'each call\'s session ended with it, answered or refused');
  // A minted token may ask for presence only where its minter has it.
  const narrow = await server.auth.mintApiKey({ scope: blind, expiresInSec: null });
  const mint = await fetch(`${server.httpUrl}/v1/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${narrow.token}` },
    body: JSON.stringify({ scope: member, expiresInSeconds: 60 }),
  });
  t.equal(mint.status, 403);
  c.close();
});

testEachEngine('presence - a refreshed token without the presence right ends a subscription that streams join/leave', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await join(server, 'fay', { presence: true });
  const reply = await c.ok({ t: 'auth', token: await tokenFor(server, blind, { tokenId: 'fay' }) });
  t.same(reply['ended'], [{ cache: CACHE, topic: ROOM }]);
  const end = await c.next((f) => f['t'] === 'end');
  t.equal(end['e']['code'], 'AUTHENTICATION_ERROR');
  c.close();
});

testEachEngine('presence - an SSE stream or a waiting long-poll whose socket is killed (reset, never closed) leaves; a WebSocket too', async (t, engine) => {
  const server = await startServer(t, { engine, config: { presence: { leaveGraceMs: 0 } } });
  const watcher = await join(server, 'watcher', { presence: true });
  t.teardown(() => watcher.close());
  const request = async (tokenId: string, path: string) => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${await tokenFor(server, member, { tokenId })}\r\n\r\n`);
    return socket;
  };
  for (const [tokenId, path] of [['sse-user', `/v1/sse?cache=${CACHE}&topic=${ROOM}`], ['poll-user', `/v1/poll?cache=${CACHE}&topic=${ROOM}&waitMs=30000`]] as const) {
    const socket = await request(tokenId, path);
    await watcher.next(presenceEvent('join', tokenId));
    socket.resetAndDestroy();
    await watcher.next(presenceEvent('leave', tokenId));
    t.same(await members(watcher), { watcher: 1 }, `${tokenId} left with its socket`);
  }
  const ws = await join(server, 'ws-user');
  await watcher.next(presenceEvent('join', 'ws-user'));
  (ws.ws as unknown as { _socket: net.Socket })._socket.resetAndDestroy();
  await watcher.next(presenceEvent('leave', 'ws-user'));
  t.same(await members(watcher), { watcher: 1 });
});
