/** The moderation-input pattern end to end over real sockets: token scopes, moderator groups
 * (load sharing, death, ack timeout), accept / reject with the sender's identity, the no-moderator
 * behaviour (bounded buffer, then group_buffer_limit_exceeded), and take-downs. */

import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes, type TidingsServer } from '../../src/index.js';

import { CACHE, RawModerator, SUFFIX, acceptAll, participant } from '../helpers/moderator.js';
import { waitFor } from '../helpers/wait.js';

const errOf = (reply: Frame) => (reply['t'] === 'err' ? reply['e'] : undefined);

/** Two members of group "mods" that settle nothing by themselves, sender alice, and bob on room1. */
async function twoModeratorsAndChat(server: TidingsServer, first: string, second: string): Promise<[RawModerator, RawModerator, RawClient, RawClient]> {
  const m1 = await RawModerator.join(server, { tokenId: first });
  const m2 = await RawModerator.join(server, { tokenId: second });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });
  return [m1, m2, alice, bob];
}

testEachEngine('moderation - a chat participant token allows exactly the pattern', async (t, engine) => {
  const server = await startServer(t, { engine });
  const alice = await participant(server, 'alice');
  const denied = async (frame: Frame, what: string) => t.equal(errOf(await alice.request(frame))?.code, 'PERMISSION_ERROR', what);

  await denied({ t: 'pub', cache: CACHE, topic: 'room1', value: 'skip the moderator' }, 'cannot publish to <chat>');
  await denied({ t: 'sub', cache: CACHE, topic: 'room1-input' }, 'cannot subscribe to <chat>-input');
  await denied({ t: 'listPushBack', cache: CACHE, list: 'room1', value: 'forged history' }, 'cannot write the history');
  await denied({ t: 'pubAppend', cache: CACHE, topic: 'room1', list: 'room1', value: 'forged' }, 'cannot pubAppend to the chat');
  await denied({ t: 'pub', cache: CACHE, topic: 'room2-input', value: 'x' }, 'cannot publish to another chat');
  await denied({ t: 'sub', cache: CACHE, topic: 'room2' }, 'cannot subscribe to another chat');
  await denied({ t: 'gsub', cache: CACHE, group: 'g', pattern: SUFFIX }, 'cannot join a moderator group');
  await denied({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: 1, seq: 1 } }, 'cannot take messages down');

  t.match(await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hi' }), { seq: 1 }, 'may publish raw input');
  t.match(await alice.ok({ t: 'sub', cache: CACHE, topic: 'room1' }), { seq: 0 }, 'may subscribe to the moderated stream');
  t.same(await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1' }), { hit: false }, 'may read the history');

  t.throws(() => PermissionScopes.chatParticipant(CACHE, 'a-input'), /must not end with/, 'a chat id may not look like an input topic');
  alice.close();
});

testEachEngine('moderation - accept publishes and appends as the original sender; a moderator cannot attribute to someone else', async (t, engine) => {
  const server = await startServer(t, { engine });
  const [mod, other, alice, bob] = await twoModeratorsAndChat(server, 'mod-1', 'mod-2');

  // Round-robin: the first item goes to the first member.
  const sent = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello' });
  await mod.received(1);
  const d = mod.deliveries[0]!;
  t.match(d, { t: 'delivery', cache: CACHE, group: 'mods', topic: 'room1-input', output: 'room1', value: 'hello', tokenId: 'alice', page: sent['page'], seq: sent['seq'], attempt: 1 });
  t.equal(other.deliveries.length, 0, 'only one member got it');

  const spoof = await mod.client.request({ t: 'accept', delivery: d['delivery'], value: 'hi from bob', tokenId: 'bob' });
  t.equal(errOf(spoof)?.code, 'INVALID_ARGUMENT_ERROR', 'an accept cannot name a tokenId');
  const stolen = await other.client.request({ t: 'accept', delivery: d['delivery'], value: 'hijacked' });
  t.equal(errOf(stolen)?.code, 'FAILED_PRECONDITION_ERROR', "another member cannot settle someone else's delivery");
  // Reject and nack have no separate ownership check before the engine's (accept has held()).
  const rejected = await other.client.request({ t: 'reject', delivery: d['delivery'], reason: 'not mine' });
  t.equal(errOf(rejected)?.code, 'FAILED_PRECONDITION_ERROR', 'nor reject it');
  const nacked = await other.client.request({ t: 'nack', delivery: d['delivery'] });
  t.equal(errOf(nacked)?.code, 'FAILED_PRECONDITION_ERROR', 'nor nack it');

  const accepted = await mod.client.ok({ t: 'accept', delivery: d['delivery'], value: 'HELLO' });
  const [item] = await bob.items(1);
  t.match(item, { t: 'item', topic: 'room1', value: 'HELLO', tokenId: 'alice', page: accepted['page'], seq: accepted['seq'] }, 'transformed value, stamped with the sender');
  const history = await bob.ok({ t: 'listFetch', cache: CACHE, list: 'room1', withMeta: true });
  t.match(history['items'], [{ value: 'HELLO', tokenId: 'alice', page: accepted['page'], seq: accepted['seq'] }], 'history carries the same (page, seq, tokenId)');

  const again = await mod.client.request({ t: 'accept', delivery: d['delivery'] });
  t.equal(errOf(again)?.code, 'FAILED_PRECONDITION_ERROR', 'a delivery settles once');

  // Publishing directly is stamped with the moderator's own identity, never the sender's.
  await mod.client.ok({ t: 'pub', cache: CACHE, topic: 'room1', value: 'announcement' });
  t.match((await bob.items(1))[0], { value: 'announcement', tokenId: 'mod-1' });
  for (const c of [mod.client, other.client, alice, bob]) c.close();
});

testEachEngine('moderation - pubAppend to an input topic is refused; nothing reaches the moderator or the list', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawModerator.join(server, { tokenId: 'mod' });
  const writer = await RawClient.open(server, await tokenFor(server, PermissionScopes.allDataReadWrite(), { tokenId: 'w' }));
  await writer.ok({ t: 'sub', cache: CACHE, topic: 'room1-input' });
  const refused = await writer.request({ t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'drafts', value: 'unmoderated' });
  t.match(errOf(refused), { code: 'FAILED_PRECONDITION_ERROR', message: /input of a moderator group/ }, 'refused with the reason');
  t.same(await writer.ok({ t: 'listFetch', cache: CACHE, list: 'drafts' }), { hit: false }, 'nothing appended');
  t.same(await writer.drain('item', 200), [], 'nothing published');
  t.equal(mod.deliveries.length, 0, 'nothing delivered to the moderator');
  t.match(await writer.ok({ t: 'pubAppend', cache: CACHE, topic: 'room1-notes', list: 'drafts', value: 'fine' }), { seq: 1, length: 1 }, 'a topic no group reads is fine');
  for (const c of [mod.client, writer]) c.close();
});

testEachEngine('moderation - two moderators share the load and each item is moderated exactly once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const m1 = await RawModerator.join(server, { tokenId: 'm1', policy: acceptAll });
  const m2 = await RawModerator.join(server, { tokenId: 'm2', policy: acceptAll });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  const N = 60;
  await Promise.all(Array.from({ length: N }, (_, i) => alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` })));
  const items = await bob.items(N);
  t.same(items.map((f) => f['value']).sort(), Array.from({ length: N }, (_, i) => `m${i}`).sort(), 'every input appears once on <chat>');
  t.same(await bob.drain('item'), [], 'and nothing twice');
  t.equal(m1.deliveries.length + m2.deliveries.length, N, 'exactly one delivery per item');
  t.ok(m1.deliveries.length > 0 && m2.deliveries.length > 0, `both members worked (${m1.deliveries.length} / ${m2.deliveries.length})`);
  const history = await bob.ok({ t: 'listFetch', cache: CACHE, list: 'room1' });
  t.equal(history['values'].length, N, 'history holds each once');
  for (const c of [m1.client, m2.client, alice, bob]) c.close();
});

testEachEngine('moderation - a moderator killed with items in flight loses nothing: the survivor moderates each once', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { ackTimeoutMs: 60_000 } } });
  const victim = await RawModerator.join(server, { tokenId: 'victim', maxInFlight: 5 });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  for (let i = 0; i < 5; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `a${i}` });
  await victim.received(5);
  const survivor = await RawModerator.join(server, { tokenId: 'survivor', policy: acceptAll });
  for (let i = 0; i < 5; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `b${i}` });
  await survivor.received(5);
  t.equal(victim.deliveries.length, 5, 'the victim was full, so new items went to the survivor');

  victim.client.ws.terminate(); // no close handshake, no ack: like a crashed process
  await survivor.received(10);
  const items = await bob.items(10);
  t.same(items.map((f) => f['value']).sort(), [...['a0', 'a1', 'a2', 'a3', 'a4'], ...['b0', 'b1', 'b2', 'b3', 'b4']].sort(), 'all ten moderated');
  t.same(await bob.drain('item'), [], 'none twice');
  const redelivered = survivor.deliveries.filter((d) => String(d['value']).startsWith('a'));
  t.same(redelivered.map((d) => d['attempt']), [2, 2, 2, 2, 2], 'the victim\'s items came back as second attempts');
  t.ok(redelivered.every((d) => d['tokenId'] === 'alice'), 'still attributed to the sender');
  if (engine === 'memory') {
    const { registry } = server.engine.groups as import('../../src/moderation/memory-moderation.js').MemoryModerationEngine;
    t.equal(registry['memberships'].size, 1, "only the survivor's memberships are held: the closed connection left no entry");
  }
  for (const c of [survivor.client, alice, bob]) c.close();
});

testEachEngine('moderation - a delivery not acknowledged in time goes to another member; the late accept is refused', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { moderation: { ackTimeoutMs: 60_000 } } });
  const slow = await RawModerator.join(server, { tokenId: 'slow' });
  const fast = await RawModerator.join(server, { tokenId: 'fast' });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'one' });
  await slow.received(1);
  fast.policy = acceptAll;
  clock.advance(59_000);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(fast.deliveries.length, 0, 'not redelivered before the ack timeout');
  clock.advance(1000);
  await fast.received(1, 5000);
  t.match(fast.deliveries[0], { value: 'one', attempt: 2 }, 'redelivered after the ack timeout');
  // Engine redis: a node's stats list its view of the groups it has members of.
  if (engine === 'memory') t.match(server.engine.groups.stats()[0]!.counters, { timedOut: 1, redelivered: 1 }, 'the timeout is counted');
  t.match((await bob.items(1))[0], { value: 'one', tokenId: 'alice' });
  const late = await slow.client.request({ t: 'accept', delivery: slow.deliveries[0]!['delivery'] });
  t.equal(errOf(late)?.code, 'FAILED_PRECONDITION_ERROR', 'the timed-out member can no longer settle it');
  t.same(await bob.drain('item'), [], 'moderated once');

  // nack hands an item straight back; the other member gets it.
  slow.policy = () => ({ t: 'nack' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'two' });
  t.match((await bob.items(1))[0], { value: 'two' });
  const toSlow = slow.deliveries.filter((d) => d['value'] === 'two');
  const toFast = fast.deliveries.filter((d) => d['value'] === 'two');
  t.equal(toFast.length, 1, 'accepted once, by the member that did not nack');
  t.equal(toFast[0]!['attempt'], toSlow.length + 1, 'a nacked delivery counts as an attempt');
  t.same(await bob.drain('item'), [], 'moderated once');
  for (const c of [slow.client, fast.client, alice, bob]) c.close();
});

testEachEngine('moderation - a redelivery goes to another member with room, even where the round-robin points at the one that had it', async (t, engine) => {
  const server = await startServer(t, { engine });
  const a = await RawModerator.join(server, { tokenId: 'a', maxInFlight: 2 });
  const b = await RawModerator.join(server, { tokenId: 'b', maxInFlight: 2 });
  const alice = await participant(server, 'alice');
  t.teardown(() => { for (const c of [a.client, b.client, alice]) c.close(); });
  // X to a, Y to b: the round-robin points at a again, and both have room for one more.
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'X' });
  await a.received(1, 10_000);
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'Y' });
  await b.received(1, 10_000);
  t.match([a.deliveries[0], b.deliveries[0]], [{ value: 'X' }, { value: 'Y' }], 'one each, in turn');
  t.match(await a.client.request({ t: 'nack', delivery: a.deliveries[0]!['delivery'] }), { t: 'ok' });
  await b.received(2, 10_000);
  t.match(b.deliveries[1], { value: 'X', attempt: 2 }, 'the member that did not have X gets it');
  t.equal(a.deliveries.length, 1, 'not back to the member that handed it back');
});

testEachEngine('moderation - a member cannot settle a delivery another member holds', async (t, engine) => {
  const server = await startServer(t, { engine });
  const [m1, m2, alice, bob] = await twoModeratorsAndChat(server, 'm1', 'm2');
  t.teardown(() => { for (const c of [m1.client, m2.client, alice, bob]) c.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'one' });
  await waitFor('the delivery', () => m1.deliveries.length + m2.deliveries.length === 1);
  const [holder, other] = m1.deliveries.length === 1 ? [m1, m2] : [m2, m1];
  const delivery = holder.deliveries[0]!['delivery'];
  // Delivery ids are small sequential numbers: easy to guess.
  for (const settle of [{ t: 'accept', value: 'forged' }, { t: 'reject', reason: 'mine now' }, { t: 'nack' }]) {
    t.equal(errOf(await other.client.request({ ...settle, delivery }))?.code, 'FAILED_PRECONDITION_ERROR', `${settle.t} by the other member is refused`);
  }
  await holder.client.ok({ t: 'accept', delivery });
  t.match((await bob.items(1))[0], { value: 'one', tokenId: 'alice' }, 'the holder\'s accept publishes the item as sent');
  t.same(await alice.drain('rejected', 0), [], 'the sender was never told of a rejection');
});

testEachEngine('moderation - a member whose token may not publish the result cannot accept', async (t, engine) => {
  const server = await startServer(t, { engine });
  // Subscribe on the whole input pattern (so it may join) and nothing else.
  const token = await tokenFor(server, { permissions: [{ role: 'subscribeonly', cache: { name: CACHE }, topic: { nameSuffix: SUFFIX.nameSuffix } }] }, { tokenId: 'watcher' });
  const watcher = await RawModerator.join(server, { token });
  const alice = await participant(server, 'alice');
  t.teardown(() => { watcher.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hi' });
  await watcher.received(1);
  const refused = await watcher.client.request({ t: 'accept', delivery: watcher.deliveries[0]!['delivery'] });
  t.match(errOf(refused), { code: 'PERMISSION_ERROR', message: /publish to topic "room1"/ }, 'accept needs publish on the output topic');
  t.same(await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1' }), { hit: false }, 'nothing reached the chat\'s history');
}, ['memory']);

testEachEngine('moderation - a member holds at most moderation.maxInFlightPerMember deliveries, whatever its gsub asks', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { maxInFlightPerMember: 2 } } });
  const mod = await RawModerator.join(server, { maxInFlight: 10 });
  const alice = await participant(server, 'alice');
  t.teardown(() => { for (const c of [mod.client, alice]) c.close(); });
  for (let i = 0; i < 4; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` });
  await mod.received(2);
  await waitFor('2 buffered behind the full member', () => server.engine.groups.stats()[0]?.buffered === 2, 5000);
  t.same(mod.deliveries.map((d) => d['value']), ['m0', 'm1'], 'two handed out');
  mod.client.send({ t: 'accept', delivery: mod.deliveries[0]!['delivery'] });
  await mod.received(3);
  t.equal(mod.deliveries[2]!['value'], 'm2', 'a settle frees one place');
});

testEachEngine('moderation - groups fed by one input together hold at most moderation.totalBufferBytes', async (t, engine) => {
  // Each group may buffer 10 bytes, all groups together 10: two 4-byte copies fit, a third does not.
  const server = await startServer(t, { engine, config: { moderation: { bufferBytes: 10, totalBufferBytes: 10, groupIdleMs: 600_000 } } });
  for (const group of ['g1', 'g2']) {
    const mod = await RawModerator.join(server, { group });
    await mod.client.ok({ t: 'gunsub', cache: CACHE, group });
    mod.client.close();
  }
  const alice = await participant(server, 'alice');
  t.teardown(() => alice.close());
  const taken = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'abcd' });
  const refused = await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'efgh' });
  t.match(errOf(refused), { code: 'LIMIT_EXCEEDED_ERROR', cause: 'group_buffer_limit_exceeded', message: /-wide maximum of 10 unassigned bytes/ }, 'each group would take it, the sum would not');
  // Two 1-byte copies still fit. The refusal came before anything changed: it took no seq.
  const next = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'x' });
  t.same([next['page'], next['seq']], [taken['page'], taken['seq'] + 1], 'the next publish follows the last one taken, with no hole');
});

testEachEngine('moderation - a group buffers items up to exactly moderation.bufferBytes', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { bufferBytes: 8, groupIdleMs: 600_000 } } });
  const mod = await RawModerator.join(server);
  await mod.client.ok({ t: 'gunsub', cache: CACHE, group: 'mods' });
  mod.client.close();
  const alice = await participant(server, 'alice');
  t.teardown(() => alice.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'abcd' });
  t.match(await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'efgh' }), { seq: 2 }, 'the item that fills the buffer exactly is taken');
  const refused = await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'i' });
  t.match(errOf(refused), { code: 'LIMIT_EXCEEDED_ERROR', cause: 'group_buffer_limit_exceeded', message: /no moderator/ }, 'one byte more is not');
  // Engine redis: a node's stats list the groups it has members of.
  if (engine === 'memory') t.match(server.engine.groups.stats(), [{ group: 'mods', buffered: 2, counters: { offered: 2, refused: 1 } }], 'the refusal is counted');
});

testEachEngine('moderation - an item handed back goes out again before the items waiting in the buffer', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawModerator.join(server, { tokenId: 'mod', maxInFlight: 1 });
  const alice = await participant(server, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  for (const value of ['first', 'second']) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value });
  await mod.received(1);
  await mod.client.ok({ t: 'nack', delivery: mod.deliveries[0]!['delivery'] });
  await mod.received(2);
  t.match(mod.deliveries.map((d) => [d['value'], d['attempt']]), [['first', 1], ['first', 2]], 'the nacked item, ahead of the one waiting since');
});

testEachEngine('moderation - moderation.maxGroups counts live groups: one forgotten when idle frees its place and its name', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { moderation: { groupIdleMs: 60_000, maxGroups: 1 } } });
  const mod = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'mod', expiresInSec: 3600 }));
  t.teardown(() => mod.close());
  await mod.ok({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX });
  t.match(errOf(await mod.request({ t: 'gsub', cache: CACHE, group: 'other', pattern: SUFFIX })), { code: 'LIMIT_EXCEEDED_ERROR', cause: 'groups_limit_exceeded' }, 'a second group is refused while the first lives');
  await mod.ok({ t: 'gunsub', cache: CACHE, group: 'mods' });
  clock.advance(60_000);
  t.match(await mod.ok({ t: 'gsub', cache: CACHE, group: 'mods', pattern: { nameSuffix: 'x-input' } }), { members: 1 }, "the forgotten group's name takes another pattern");
  await mod.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'the old pattern is not moderated' });
  t.equal(errOf(await mod.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: { nameSuffix: 'x-input' } }))?.code, 'ALREADY_EXISTS_ERROR', 'the new group is still the one of its name');
  await mod.ok({ t: 'gunsub', cache: CACHE, group: 'mods' });
  clock.advance(60_000);
  t.match(await mod.ok({ t: 'gsub', cache: CACHE, group: 'other', pattern: SUFFIX }), { members: 1 }, 'and its place goes to another group');
});

testEachEngine('moderation - rejected input reaches its sender with the reason, never <chat> or its history', async (t, engine) => {
  const server = await startServer(t, { engine });
  await RawModerator.join(server, {
    policy: (d) => (String(d['value']).includes('darn') ? { t: 'reject', reason: 'profanity' } : { t: 'accept' }),
  });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  const bad = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'darn it' });
  const rejected = await alice.next((f) => f['t'] === 'rejected');
  t.same(rejected, { t: 'rejected', cache: CACHE, topic: 'room1-input', page: bad['page'], seq: bad['seq'], reason: 'profanity', by: 'moderator' });
  t.same(await bob.drain('rejected'), [], 'only the sender is told');

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'nice day' });
  const [item] = await bob.items(1);
  t.equal(item!['value'], 'nice day', 'the first thing on <chat> is the clean message');
  t.same((await bob.ok({ t: 'listFetch', cache: CACHE, list: 'room1' }))['values'], ['nice day'], 'history never saw the rejected one');
});

testEachEngine('moderation - an item no member settles in maxAttempts is given up and its sender told', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { moderation: { ackTimeoutMs: 60_000, maxAttempts: 2 } } });
  const mute = await RawModerator.join(server);
  const alice = await participant(server, 'alice');
  const sent = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'poison' });
  await mute.received(1);
  clock.advance(60_000);
  await mute.received(2);
  clock.advance(60_000);
  const rejected = await alice.next((f) => f['t'] === 'rejected');
  t.match(rejected, { topic: 'room1-input', seq: sent['seq'], by: 'server', reason: /2 delivery attempts/ });
  t.same(mute.deliveries.map((d) => d['attempt']), [1, 2]);
});

testEachEngine('moderation - a pattern subscription is refused unless the scope covers the whole pattern', async (t, engine) => {
  const server = await startServer(t, { engine });
  let groups = 0;
  const join = async (scope: Parameters<typeof tokenFor>[1], pattern: unknown, cache = CACHE, group = `g${groups++}`) => {
    const c = await RawClient.open(server, await tokenFor(server, scope));
    const reply = await c.request({ t: 'gsub', cache, group, pattern });
    c.close();
    return reply['t'] === 'ok' ? 'ok' : reply['e']['code'];
  };
  const suffixSub = PermissionScopes.topicSubscribeOnly(CACHE, { nameSuffix: '-input' });
  t.equal(await join(suffixSub, SUFFIX, CACHE, 'same'), 'ok', 'the exact pattern');
  t.equal(await join(PermissionScopes.topicSubscribeOnly(CACHE, '*'), { nameSuffix: 'x-input' }, CACHE, 'same'), 'FAILED_PRECONDITION_ERROR', 'a group keeps its pattern');
  t.equal(await join(suffixSub, { nameSuffix: 'x-input' }, CACHE), 'ok', 'a narrower pattern');
  t.equal(await join(suffixSub, { nameSuffix: 'input' }), 'PERMISSION_ERROR', 'a wider suffix');
  t.equal(await join(suffixSub, { namePrefix: 'room' }), 'PERMISSION_ERROR', 'another shape');
  t.equal(await join(suffixSub, SUFFIX, 'other'), 'PERMISSION_ERROR', 'another cache');
  t.equal(await join(PermissionScopes.topicSubscribeOnly(CACHE, 'room1-input'), SUFFIX), 'PERMISSION_ERROR', 'one matching topic is not the pattern');
  t.equal(await join(PermissionScopes.topicPublishOnly(CACHE, '*'), SUFFIX), 'PERMISSION_ERROR', 'publish-only does not allow consuming');
  t.equal(await join(PermissionScopes.topicNamePrefixSubscribeOnly(CACHE, 'in-'), { namePrefix: 'in-' }), 'ok', 'prefix patterns too');
  t.equal(await join(PermissionScopes.topicSubscribeOnly(CACHE, '*'), SUFFIX), 'ok', 'all topics covers any pattern');
  for (const bad of [{ nameSuffix: '' }, { foo: 'x' }, { nameSuffix: 'a', namePrefix: 'b' }, 'x-input', null]) {
    t.equal(await join(suffixSub, bad), 'INVALID_ARGUMENT_ERROR', `bad pattern ${JSON.stringify(bad)}`);
  }
});

testEachEngine('moderation - one moderator serves every chat of a cache and learns the chat from each item', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawModerator.join(server, { policy: acceptAll });
  const alice = await participant(server, 'alice', 'room1');
  const carol = await participant(server, 'carol', 'lobby');
  await alice.ok({ t: 'sub', cache: CACHE, topic: 'room1' });
  await carol.ok({ t: 'sub', cache: CACHE, topic: 'lobby' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'in room1' });
  await carol.ok({ t: 'pub', cache: CACHE, topic: 'lobby-input', value: 'in lobby' });
  t.match((await alice.items(1))[0], { topic: 'room1', value: 'in room1', tokenId: 'alice' });
  t.match((await carol.items(1))[0], { topic: 'lobby', value: 'in lobby', tokenId: 'carol' });
  t.same(mod.deliveries.map((d) => [d['topic'], d['output']]).sort(), [['lobby-input', 'lobby'], ['room1-input', 'room1']]);
  // A name whose output would itself be an input is not an input (no moderator loops).
  const admin = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*')));
  await mod.client.drain('delivery', 0);
  await admin.ok({ t: 'pub', cache: CACHE, topic: 'x-input-input', value: 'not an input' });
  await admin.ok({ t: 'pub', cache: CACHE, topic: '-input', value: 'blank output' });
  t.same(await mod.client.drain('delivery'), [], 'neither is delivered');
  t.equal(mod.deliveries.length, 2);
});

testEachEngine('moderation - with no moderator: bounded buffering, then LIMIT_EXCEEDED to publishers; buffered items survive', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { moderation: { bufferItems: 3, groupIdleMs: 60_000 } } });
  const first = await RawModerator.join(server);
  await first.client.ok({ t: 'gunsub', cache: CACHE, group: 'mods' });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  for (let i = 0; i < 3; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `kept${i}` });
  const refused = await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'too many' });
  t.match(errOf(refused), { code: 'LIMIT_EXCEEDED_ERROR', cause: 'group_buffer_limit_exceeded', message: /no moderator/ });

  clock.advance(2 * 60_000); // past groupIdleMs, within the tokens' lifetime
  const stillRefused = await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'later' });
  t.equal(errOf(stillRefused)?.cause, 'group_buffer_limit_exceeded', 'a group holding items is never forgotten');

  const second = await RawModerator.join(server, { policy: acceptAll });
  await second.received(3);
  t.same((await bob.items(3)).map((f) => f['value']), ['kept0', 'kept1', 'kept2'], 'what was acknowledged is moderated once a moderator comes');
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'flowing' });
  t.match((await bob.items(1))[0], { value: 'flowing' });

  // A memberless, empty group is forgotten after groupIdleMs: its pattern is no longer moderated.
  second.client.close();
  await second.client.waitClosed();
  let probes = 0;
  for (;;) {
    const r = await alice.request({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `probe${probes}` });
    if (r['t'] === 'err') { t.equal(r['e']['cause'], 'group_buffer_limit_exceeded', 'memberless again: the buffer fills'); break; }
    probes++;
  }
  t.ok(probes >= 3, `${probes} probes were buffered`);
  const third = await RawModerator.join(server, { policy: acceptAll });
  t.same((await bob.items(probes)).map((f) => f['value']), Array.from({ length: probes }, (_, i) => `probe${i}`));
  t.same((await third.client.ok({ t: 'gunsub', cache: CACHE, group: 'mods' })), { requeued: 0 });
  clock.advance(60_000);
  for (let i = 0; i < 5; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `unmoderated${i}` });
  t.pass('after groupIdleMs the group is gone and publishes are no longer held');
});

testEachEngine('moderation - a take-down removes the message from history and tells subscribers, live and resuming', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawModerator.join(server, { tokenId: 'mod', policy: acceptAll });
  const alice = await participant(server, 'alice');
  const bob = await participant(server, 'bob');
  const sub = await bob.ok({ t: 'sub', cache: CACHE, topic: 'room1' });

  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'buy cheap stuff' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello all' });
  const [spam, ok] = await bob.items(2);
  t.equal(spam!['value'], 'buy cheap stuff');

  const denied = await alice.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: spam!['seq'] } });
  t.equal(errOf(denied)?.code, 'PERMISSION_ERROR', 'a participant cannot take messages down');
  const future = await mod.client.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: 99 } });
  t.equal(errOf(future)?.code, 'INVALID_ARGUMENT_ERROR', 'an item never published cannot be retracted');
  const before = await mod.client.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: 0 } });
  t.equal(errOf(before)?.code, 'INVALID_ARGUMENT_ERROR', 'nor seq 0, the position before the first item');
  const pageZero = await mod.client.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: 0, seq: spam!['seq'] } });
  t.equal(errOf(pageZero)?.code, 'INVALID_ARGUMENT_ERROR', 'nor page 0, which no topic ever had');
  const long = await mod.client.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: spam!['seq'] }, reason: 'x'.repeat(1025) });
  t.match(errOf(long), { code: 'INVALID_ARGUMENT_ERROR', message: /at most 1024 bytes/ }, 'a reason past moderation.maxReasonBytes is refused');
  const publisher = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'), { tokenId: 'publisher' }));
  const unlisted = await publisher.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: spam!['seq'] } });
  t.match(errOf(unlisted), { code: 'PERMISSION_ERROR', message: /write the history list "room1"/ }, 'publish on the topic without write on its list is not enough');
  publisher.close();

  const r = await mod.client.ok({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: spam!['seq'] }, reason: 'spam' });
  t.same(r, { page: sub['page'], seq: 3, removed: true });
  const notice = await bob.next((f) => f['t'] === 'retract');
  t.match(notice, { t: 'retract', cache: CACHE, topic: 'room1', seq: 3, page: sub['page'], target: { page: spam!['page'], seq: spam!['seq'] }, reason: 'spam', tokenId: 'mod' });
  const history = await bob.ok({ t: 'listFetch', cache: CACHE, list: 'room1', withMeta: true });
  t.match(history['items'], [{ value: 'hello all', seq: ok!['seq'] }], 'only the good message remains');
  t.equal(history['items'].length, 1);

  // A subscriber resuming from before the take-down gets it in order.
  const carol = await participant(server, 'carol');
  await carol.ok({ t: 'sub', cache: CACHE, topic: 'room1', after: { page: sub['page'], seq: ok!['seq'] } });
  t.match(await carol.next((f) => f['t'] === 'retract'), { seq: 3, target: { seq: spam!['seq'] } });
  const again = await mod.client.ok({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: spam!['seq'] }, reason: 'x'.repeat(1024) });
  t.equal(again['removed'], false, 'retracting twice (with a reason of exactly maxReasonBytes) finds nothing left to remove');
  t.match(await mod.client.ok({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: spam!['page'], seq: spam!['seq'] }, reason: null }), { removed: false }, 'a null reason is no reason');
});

testEachEngine('moderation - a refused take-down leaves no topic behind', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawModerator.join(server, { tokenId: 'mod' });
  const topics = async () => {
    const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
    const text = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    return Number(/^tidings_topics (\d+)$/m.exec(text)?.[1]);
  };
  // Targets on pages no topic has had yet, of topics never published.
  for (const [i, page] of [Date.now() + 86_400_000, Number.MAX_SAFE_INTEGER].entries()) {
    const refused = await mod.client.request({ t: 'retract', cache: CACHE, topic: `never${i}`, target: { page, seq: 1 } });
    t.equal(errOf(refused)?.code, 'INVALID_ARGUMENT_ERROR', `page ${page}: nothing was published there to take down`);
  }
  t.equal(await topics(), 0, 'no per-topic state from refused requests');
});

/** A take-down removes the target from the history list named like the topic: a key of that name
 * holding something else refuses the whole step, as a list operation on it would (the Redis script's
 * kind check, scripts.ts tidingsRetract; the memory engine's checkList), and takes no seq. */
testEachEngine('moderation - a take-down on a topic whose history key holds a scalar is refused and takes no seq', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawModerator.join(server, { tokenId: 'mod' });
  const writer = await RawClient.open(server, await tokenFor(server, PermissionScopes.allDataReadWrite(), { tokenId: 'w' }));
  t.teardown(() => { mod.client.close(); writer.close(); });
  const first = await writer.ok({ t: 'pub', cache: CACHE, topic: 'room1', value: 'hello' });
  await writer.ok({ t: 'set', cache: CACHE, key: 'room1', value: 'a scalar' });
  const refused = await mod.client.request({ t: 'retract', cache: CACHE, topic: 'room1', target: { page: first['page'], seq: first['seq'] } });
  t.match(errOf(refused), { code: 'FAILED_PRECONDITION_ERROR', message: /holds a/ }, 'refused: the history key holds a scalar');
  const next = await writer.ok({ t: 'pub', cache: CACHE, topic: 'room1', value: 'next' });
  t.same([next['page'], next['seq']], [first['page'], first['seq'] + 1], 'the refused take-down took no seq');
  t.match(await writer.ok({ t: 'get', cache: CACHE, key: 'room1' }), { value: 'a scalar' }, 'the scalar is untouched');
});

/** Requests of one connection may be answered in any order, but a gunsub sent after a gsub leaves
 * the group that gsub joins, on both engines (the Moderator helper's stop() can follow a rejoin
 * still under way): else the connection stays a member that no one reads, and every item handed to
 * it waits for ackTimeoutMs. */
testEachEngine('moderation - a gunsub sent right after a gsub leaves the group', async (t, engine) => {
  const server = await startServer(t, { engine });
  const steady = await RawModerator.join(server, { tokenId: 'steady', policy: acceptAll });
  t.equal(errOf(await steady.client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }))?.code, 'ALREADY_EXISTS_ERROR', 'a member\'s second gsub of its group is refused');
  const quitter = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'quitter' }));
  const joined = quitter.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX });
  const left = quitter.request({ t: 'gunsub', cache: CACHE, group: 'mods' });
  t.match(await joined, { t: 'ok', r: { members: 2 } });
  t.match(await left, { t: 'ok', r: { requeued: 0 } }, 'the gunsub left what the gsub joined');
  const alice = await participant(server, 'alice');
  for (let i = 0; i < 4; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` });
  await steady.received(4);
  t.same(await quitter.drain('delivery', 0), [], 'nothing was handed to the connection that left');
  t.same(server.engine.groups.stats()[0]!.members, 1);
  for (const c of [steady.client, quitter, alice]) c.close();
});

testEachEngine('moderation - maxGroupsPerConnection holds for gsubs sent at once', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { maxGroupsPerConnection: 2 } } });
  const client = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'greedy' }));
  const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => client.request({ t: 'gsub', cache: CACHE, group: `g${i}`, pattern: SUFFIX })));
  t.equal(replies.filter((r) => r['t'] === 'ok').length, 2, 'two joined');
  t.ok(replies.filter((r) => r['t'] === 'err').every((r) => r['e']['cause'] === 'groups_limit_exceeded'), 'the rest refused');
  t.equal(server.engine.groups.stats().reduce((n, g) => n + g.members, 0), 2, 'two memberships');
  const joined = replies.flatMap((r, i) => (r['t'] === 'ok' ? [`g${i}`] : []));
  await client.ok({ t: 'gunsub', cache: CACHE, group: joined[0] });
  t.match(await client.ok({ t: 'gsub', cache: CACHE, group: 'g5', pattern: SUFFIX }), { members: 1 }, 'a group left frees its place');
  client.close();
});

/** tidings_moderation_buffered_items (and the dashboard) read stats().buffered: it must follow the
 * group's queue as it grows and drains (engine redis: as the node last saw it, within a tick of
 * nodeTimeoutMs / 4), not stay at what it was when the node's first member joined. */
/** Two gsubs of one connection to one group sent at once: the second is refused as the memory
 * engine refuses it, whether it reaches the engine before the first is done (on Redis: the join
 * script finds the connection listed already) or after. */
testEachEngine('moderation - a connection joining a group twice at once is a member once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'mod' }));
  const alice = await participant(server, 'alice');
  t.teardown(() => { mod.close(); alice.close(); });
  const gsub = { t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX };
  const replies = await Promise.all([mod.request(gsub), mod.request(gsub)]);
  t.same(replies.map((r) => (r['t'] === 'ok' ? 'ok' : errOf(r)?.code)).sort(), ['ALREADY_EXISTS_ERROR', 'ok'], 'one join, one refusal');
  t.same(await mod.ok({ t: 'gunsub', cache: CACHE, group: 'mods' }), { requeued: 0 }, 'one gunsub leaves');
  t.match(errOf(await mod.request({ t: 'gunsub', cache: CACHE, group: 'mods' })), { code: 'FAILED_PRECONDITION_ERROR' }, 'and no second membership is left behind');
});

/** A member asking for more in-flight items than moderation.maxInFlightPerMember holds that many. */
testEachEngine('moderation - a member holds at most maxInFlightPerMember items, whatever it asks for', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { maxInFlightPerMember: 1 } } });
  const greedy = await RawModerator.join(server, { tokenId: 'greedy', maxInFlight: 5 });
  const alice = await participant(server, 'alice');
  t.teardown(() => { greedy.client.close(); alice.close(); });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p0' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'p1' });
  await greedy.received(1);
  // p1 is still queued (greedy has no room): a member joining now gets it.
  const other = await RawModerator.join(server, { tokenId: 'other' });
  t.teardown(() => other.client.close());
  await other.received(1, 10_000).catch(() => {});
  t.same(other.deliveries.map((d) => d['value']), ['p1'], 'the second item waited for a member with room');
  t.same(greedy.deliveries.map((d) => d['value']), ['p0'], 'the first member holds one');
});

testEachEngine('moderation - a group\'s buffered count follows its backlog, growing and draining', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { nodeTimeoutMs: 1000 } } });
  const mod = await RawModerator.join(server, { maxInFlight: 1 });
  const alice = await participant(server, 'alice');
  const buffered = () => server.engine.groups.stats()[0]?.buffered;
  for (let i = 0; i < 4; i++) await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: `m${i}` });
  await mod.received(1);
  await waitFor('3 buffered behind the busy member', () => buffered() === 3, 5000).catch(() => {});
  t.equal(buffered(), 3, 'the backlog is shown');
  mod.policy = acceptAll;
  mod.client.send({ t: 'accept', delivery: mod.deliveries[0]!['delivery'] });
  await mod.received(4);
  await waitFor('the backlog drained', () => buffered() === 0, 5000).catch(() => {});
  t.equal(buffered(), 0, 'and its draining');
  for (const c of [mod.client, alice]) c.close();
});

/** A group forgotten after groupIdleMs no longer moderates its pattern (docs/moderation.md): its
 * input is an ordinary topic again, for pubAppend too. Engine redis: a node's copy of the group
 * directory lists the group until something touches it, and it refused the pubAppend from it. */
testEachEngine('moderation - pubAppend to the input of a group forgotten when idle is an ordinary pubAppend', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { moderation: { groupIdleMs: 60_000 } } });
  const mod = await RawModerator.join(server);
  await mod.client.ok({ t: 'gunsub', cache: CACHE, group: 'mods' });
  const writer = await RawClient.open(server, await tokenFor(server, PermissionScopes.allDataReadWrite(), { tokenId: 'w', expiresInSec: 3600 }));
  const pubAppend = { t: 'pubAppend', cache: CACHE, topic: 'room1-input', list: 'notes', value: new Uint8Array([1, 2, 3]) };
  t.equal(errOf(await writer.request(pubAppend))?.code, 'FAILED_PRECONDITION_ERROR', 'refused while the group lives (memberless, within groupIdleMs)');
  clock.advance(60_000);
  t.match(await writer.ok(pubAppend), { seq: 1, length: 1 }, 'taken once the group is forgotten');
  t.same((await writer.ok({ t: 'listFetch', cache: CACHE, list: 'notes' }))['values'], [new Uint8Array([1, 2, 3])], 'the value as sent');
  for (const c of [mod.client, writer]) c.close();
});
