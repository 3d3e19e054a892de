/** The SDK's Moderator helper against a real server: it accepts (transformed) and rejects, the result
 * carries the sender's identity into the chat and its history, it hands failed items back, rejoins
 * after a reconnect without losing what it held, takes messages down, and stops (saying why) when a
 * token refresh ends its membership. */
import { type Test } from 'tap';
import WebSocket from 'ws';
import { startServer, testEachEngine } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { CloseCode, ManualClock, PermissionScopes, type TidingsServer } from '../../src/index.js';
import { Connection, Moderator, TopicClient, type ModerationInput, type TopicItem, type TopicRetraction, type WebSocketConstructor } from '../../src/client/index.js';

const CACHE = 'chat';

/** Collects events and awaits a count of them with a deadline. */
class Collector<T> {
  readonly seen: T[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  push = (value: T): void => {
    this.seen.push(value);
    this.waiters = this.waiters.filter((w) => (this.seen.length >= w.count ? (w.resolve(), false) : true));
  };
  async count(count: number, timeoutMs = 5000): Promise<T[]> {
    if (this.seen.length < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${this.seen.length} of ${count} within ${timeoutMs} ms`)), timeoutMs);
        this.waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    }
    return this.seen.slice(0, count);
  }
}

/** A promise a moderate() can wait on, and what opens it: a decision held back until the test says. */
function decisionGate(): { closed: Promise<void>; open: () => void } {
  let open!: () => void;
  const closed = new Promise<void>((r) => { open = r; });
  return { closed, open };
}

async function sdkConnection(t: Test, server: TidingsServer, token: string): Promise<Connection> {
  const connection = new Connection({ url: server.wsUrl, token, webSocket: WebSocket as unknown as WebSocketConstructor, reconnectBaseMs: 20, reconnectMaxMs: 100 });
  t.teardown(() => connection.close());
  await connection.ready();
  return connection;
}

async function chatSubscriber(t: Test, server: TidingsServer, tokenId: string) {
  const connection = await sdkConnection(t, server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId }));
  const items = new Collector<TopicItem>();
  const retractions = new Collector<TopicRetraction>();
  const topics = new TopicClient({ connection });
  const sub = await topics.subscribe(CACHE, 'room1', { onItem: items.push, onRetraction: retractions.push });
  t.equal(sub.type, 'Subscription');
  return { items, retractions };
}

async function moderatorConnection(t: Test, server: TidingsServer): Promise<Connection> {
  return sdkConnection(t, server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'sdk-mod' }));
}

testEachEngine('moderator helper - accept (transformed) and reject; the chat and its history show the sender', async (t, engine) => {
  const server = await startServer(t, { engine });
  const moderator = await Moderator.start({
    connection: await moderatorConnection(t, server),
    cache: CACHE,
    moderate: ({ value }) => (String(value).includes('darn') ? { reject: 'language' } : { accept: String(value).toUpperCase() }),
  });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));

  const bad = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'darn' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello' });
  const [item] = await bob.items.count(1);
  t.equal(item!.valueString(), 'HELLO', 'transformed by the moderator');
  t.equal(item!.tokenId(), 'alice', 'attributed to the sender, not the moderator');
  t.match(await alice.next((f) => f['t'] === 'rejected'), { seq: bad['seq'], reason: 'language', by: 'moderator' });
  const history = await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1', withMeta: true });
  t.match(history['items'], [{ value: 'HELLO', tokenId: 'alice', page: item!.sequencePage(), seq: item!.sequenceNumber() }]);
  t.same(moderator.stats, { accepted: 1, rejected: 1, failed: 0, joins: 1 });
  await moderator.stop();
  alice.close();
});

testEachEngine('moderator helper - a moderate() that throws hands the item back; it is moderated on the next attempt', async (t, engine) => {
  const server = await startServer(t, { engine });
  const errors = new Collector<unknown>();
  const attempts: number[] = [];
  await Moderator.start({
    connection: await moderatorConnection(t, server),
    cache: CACHE,
    moderate: ({ attempt }) => {
      attempts.push(attempt);
      if (attempt === 1) throw new Error('classifier unavailable');
      return { accept: true };
    },
    onError: errors.push,
  });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'retry me' });
  t.equal((await bob.items.count(1))[0]!.valueString(), 'retry me');
  t.match((await errors.count(1))[0], { message: 'classifier unavailable' });
  t.same(attempts, [1, 2]);
  alice.close();
});

testEachEngine('moderator helper - rejoins after a reconnect; what it held and what came meanwhile is moderated once', async (t, engine) => {
  const server = await startServer(t, { engine });
  const calls = new Collector<ModerationInput>();
  const gate = decisionGate();
  const moderator = await Moderator.start({
    connection: await moderatorConnection(t, server),
    cache: CACHE,
    moderate: async (input) => {
      calls.push(input);
      if (input.value === 'held' && input.attempt === 1) await gate.closed; // still deciding when the link drops
      return { accept: true };
    },
  });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'held' });
  await calls.count(1);

  // The server drops the moderator's connection (4000: reconnect); its delivery goes back to the group.
  const session = [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'sdk-mod')!;
  server.broker.bye(session, CloseCode.SHUTDOWN, 'test: drop the moderator');
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'meanwhile' });

  const values = (await bob.items.count(2)).map((i) => i.valueString()).sort();
  t.same(values, ['held', 'meanwhile'], 'both moderated after the rejoin');
  gate.open(); // the stale decision on the old delivery is refused by the server, not published again
  t.match(calls.seen.find((c) => c.value === 'held' && c.attempt === 2), { tokenId: 'alice' }, 'the held item came back as attempt 2');
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' });
  t.equal((await bob.items.count(3))[2]!.valueString(), 'after');
  t.equal(bob.items.seen.length, 3, 'nothing twice');
  t.equal(moderator.stats.joins, 2, 'joined again after the reconnect');
  alice.close();
});

testEachEngine('moderator helper - retract takes a message down for subscribers and history', async (t, engine) => {
  const server = await startServer(t, { engine });
  const moderator = await Moderator.start({ connection: await moderatorConnection(t, server), cache: CACHE, moderate: () => ({ accept: true }) });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'regrettable' });
  const [item] = await bob.items.count(1);
  const r = await moderator.retract('room1', item!.position(), 'rule 3');
  t.equal(r.removed, true);
  const [retraction] = await bob.retractions.count(1);
  t.same(retraction!.target, item!.position());
  t.equal(retraction!.reason, 'rule 3');
  t.same(await alice.ok({ t: 'listFetch', cache: CACHE, list: 'room1' }), { hit: false }, 'the only message is gone from history');
  alice.close();
});

testEachEngine('moderator helper - start() rejects when the token may not join the pattern', async (t, engine) => {
  const server = await startServer(t, { engine });
  const connection = await sdkConnection(t, server, await tokenFor(server, PermissionScopes.topicSubscribeOnly(CACHE, 'room1-input')));
  await t.rejects(Moderator.start({ connection, cache: CACHE, moderate: () => ({ accept: true }) }), { code: 'PERMISSION_ERROR' });
});

/** The helper hears a refresh that ends its membership: it stops and reports PERMISSION_ERROR with
 * no input, rather than waiting for deliveries the server no longer sends it. */
testEachEngine('moderator helper - a token refresh that no longer covers the pattern stops it, with PERMISSION_ERROR', async (t, engine) => {
  const server = await startServer(t, { engine });
  // The provider's next token may only use another cache (same tokenId).
  const narrower = await tokenFor(server, PermissionScopes.topicPublishSubscribe('elsewhere', '*'), { tokenId: 'sdk-mod' });
  const connection = new Connection({
    url: server.wsUrl, token: await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'sdk-mod' }),
    tokenProvider: async () => narrower, webSocket: WebSocket as unknown as WebSocketConstructor,
  });
  t.teardown(() => connection.close());
  await connection.ready();
  const errors = new Collector<{ code: unknown; input: ModerationInput | undefined }>();
  const moderator = await Moderator.start({
    connection, cache: CACHE, moderate: () => ({ accept: true }),
    onError: (err, input) => errors.push({ code: (err as { code?: unknown }).code, input }),
  });
  const refreshed = new Promise<unknown>((resolve) => { connection.onTokenRefresh(resolve); });
  await connection.refreshToken();
  t.match(await refreshed, { ok: true, endedGroups: [{ cache: CACHE, group: 'moderators' }] }, 'the refresh event lists the ended membership');
  const [reported] = await errors.count(1);
  t.same(reported, { code: 'PERMISSION_ERROR', input: undefined }, 'onError: PERMISSION_ERROR, no input');
  t.equal(moderator.stats.joins, 1, 'it did not try to join again');
});

/** A decision the server refuses while the delivery stays held (a reason past maxReasonBytes, a
 * transformed value past maxValueBytes) is handed back at once, as onError's doc says, instead of
 * sitting in the moderator's in-flight slots until ackTimeoutMs (30 s by default, per attempt). */
testEachEngine('moderator helper - a settle the server refuses hands the item back at once', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { moderation: { maxReasonBytes: 16 } } });
  const errors = new Collector<unknown>();
  const attempts: number[] = [];
  const moderator = await Moderator.start({
    connection: await moderatorConnection(t, server),
    cache: CACHE,
    moderate: ({ attempt }) => {
      attempts.push(attempt);
      return attempt === 1 ? { reject: 'a reason much longer than sixteen bytes' } : { accept: true };
    },
    onError: errors.push,
  });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'long reason' });
  t.match((await errors.count(1))[0], { code: 'INVALID_ARGUMENT_ERROR' }, 'the refusal is reported');
  // The clock stands still: no ack timeout can hand it back, only the helper.
  t.equal((await bob.items.count(1))[0]!.valueString(), 'long reason', 'moderated on the next attempt');
  t.same(attempts, [1, 2]);
  t.match(moderator.stats, { accepted: 1, failed: 1 });
  alice.close();
});

/** Chats fail closed: a decision that is neither `{ accept }` nor `{ reject }` (a JS moderate()
 * that returns `{}`, `{ accept: undefined }`, nothing) is an error, not an accept of the raw input. */
testEachEngine('moderator helper - a decision that is neither accept nor reject publishes nothing; the item is handed back', async (t, engine) => {
  const server = await startServer(t, { engine });
  const errors = new Collector<unknown>();
  const bad: unknown[] = [{}, { accept: undefined }, undefined, { accept: null }];
  await Moderator.start({
    connection: await moderatorConnection(t, server),
    cache: CACHE,
    moderate: ({ attempt }) => (attempt <= bad.length ? bad[attempt - 1] as never : { accept: 'checked' }),
    onError: errors.push,
  });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'raw input' });
  const [item] = await bob.items.count(1);
  t.equal(item!.valueString(), 'checked', 'only the decided value reached the chat');
  t.equal(bob.items.seen.length, 1);
  t.match(await errors.count(bad.length), bad.map(() => ({ code: 'INVALID_ARGUMENT_ERROR' })), 'each bad decision is reported');
  alice.close();
});

/** stop() leaves the group (what the helper held goes to the other members): a decision that
 * finishes afterwards is dropped quietly, not reported to onError as a failure of the stopped helper. */
testEachEngine('moderator helper - a decision finishing after stop() is not reported as an error', async (t, engine) => {
  const server = await startServer(t, { engine });
  const errors = new Collector<unknown>();
  const started = new Collector<ModerationInput>();
  const gate = decisionGate();
  const moderator = await Moderator.connect(
    { url: server.wsUrl, token: await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'sdk-mod' }), webSocket: WebSocket as unknown as WebSocketConstructor },
    { cache: CACHE, moderate: async (input) => { started.push(input); await gate.closed; return { accept: true }; }, onError: errors.push },
  );
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'late decision' });
  await started.count(1);
  await moderator.stop();
  gate.open();
  await waitFor('the late settle to be refused', () => moderator.stats.failed === 1);
  t.same(errors.seen, [], 'nothing reported');
  alice.close();
});

/** Helpers on one connection each take only their own group's deliveries: a delivery names its
 * cache and group, and another group's item moderated by the wrong policy would reach its chat. */
testEachEngine('moderator helper - helpers on one connection: each moderates only its own cache and group\'s deliveries', async (t, engine) => {
  const server = await startServer(t, { engine });
  const scope = PermissionScopes.combine(PermissionScopes.moderator(CACHE), PermissionScopes.moderator(CACHE, '-raw'), PermissionScopes.moderator('other'));
  const connection = await sdkConnection(t, server, await tokenFor(server, scope, { tokenId: 'sdk-mod' }));
  // Two groups of one cache, and a group of the same name as the first in another cache.
  const helpers = { plain: { cache: CACHE, group: 'plain', suffix: '-input' }, raw: { cache: CACHE, group: 'raw', suffix: '-raw' }, other: { cache: 'other', group: 'plain', suffix: '-input' } };
  const seen: Record<string, string[]> = { plain: [], raw: [], other: [] };
  for (const [name, { cache, group, suffix }] of Object.entries(helpers)) {
    await Moderator.start({
      connection,
      cache,
      group,
      pattern: { nameSuffix: suffix },
      moderate: ({ topic, value }) => { seen[name]!.push(topic); return { accept: `${name}: ${String(value)}` }; },
    });
  }
  const bob = await chatSubscriber(t, server, 'bob');
  const carol = await sdkConnection(t, server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room2', '-raw'), { tokenId: 'carol' }));
  const room2 = new Collector<TopicItem>();
  t.equal((await new TopicClient({ connection: carol }).subscribe(CACHE, 'room2', { onItem: room2.push })).type, 'Subscription');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  const dave = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room2', '-raw'), { tokenId: 'dave' }));
  const erin = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant('other', 'room3'), { tokenId: 'erin' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello' });
  await dave.ok({ t: 'pub', cache: CACHE, topic: 'room2-raw', value: 'hi' });
  await erin.ok({ t: 'pub', cache: 'other', topic: 'room3-input', value: 'hey' });
  t.equal((await bob.items.count(1))[0]!.valueString(), 'plain: hello');
  t.equal((await room2.count(1))[0]!.valueString(), 'raw: hi');
  await waitFor('the other cache\'s input moderated', () => seen['other']!.length > 0);
  t.same(seen, { plain: ['room1-input'], raw: ['room2-raw'], other: ['room3-input'] }, 'each helper saw its own cache and group\'s input only');
  for (const client of [alice, dave, erin]) client.close();
});

/** A decision that finishes after the server's ack deadline handed the item to the next attempt is
 * refused FAILED_PRECONDITION: another attempt holds it now, so there is nothing to hand back and
 * nothing to report. */
testEachEngine('moderator helper - a decision finishing after the ack deadline is dropped quietly; the next attempt is published once', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock });
  const errors = new Collector<unknown>();
  const started = new Collector<ModerationInput>();
  const gate = decisionGate();
  const moderator = await Moderator.start({
    connection: await moderatorConnection(t, server),
    cache: CACHE,
    moderate: async (input) => {
      started.push(input);
      if (input.attempt === 1) await gate.closed;
      return { accept: `attempt ${input.attempt}` };
    },
    onError: errors.push,
  });
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'slow decision' });
  await started.count(1);
  clock.advance(server.config.moderation.ackTimeoutMs);
  t.match((await started.count(2))[1], { attempt: 2 }, 'handed out again past the ack deadline');
  t.equal((await bob.items.count(1))[0]!.valueString(), 'attempt 2');
  gate.open();
  await waitFor('the late accept to be refused', () => moderator.stats.failed === 1);
  t.same(errors.seen, [], 'nothing reported: the item is in other hands');
  t.same(bob.items.seen.map((i) => i.valueString()), ['attempt 2'], 'published once');
  alice.close();
});

/** A rejoin refused because the moderator's tokenId spent its request budget (operations_rate
 * limit: say, its own burst of accepts just before the link dropped) passes like a Redis outage:
 * it is asked again with backoff, else the helper sits out of its group, idle, until some later
 * reconnect, with the input piling up. */
testEachEngine('moderator helper - a rejoin refused by the request rate limit is asked again', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { limits: { tokenIdOpsPerSec: 1, tokenIdOpsBurst: 5 } } });
  const errors = new Collector<{ code?: string; limitCause?: string }>();
  const moderator = await Moderator.start({ connection: await moderatorConnection(t, server), cache: CACHE, moderate: () => ({ accept: true }), onError: errors.push });
  // Another connection of the same tokenId spends what is left of the budget (the clock stands still).
  const spender = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'sdk-mod' }));
  while ((await spender.request({ t: 'listFetch', cache: CACHE, list: 'x' }))['t'] === 'ok');
  const session = [...server.broker.sessions.values()].find((s) => s.grant?.tokenId === 'sdk-mod' && s.groups?.size)!;
  server.broker.bye(session, CloseCode.SHUTDOWN, 'test: drop the moderator');
  t.match((await errors.count(1))[0], { code: 'LIMIT_EXCEEDED_ERROR', limitCause: 'operations_rate_limit_exceeded' }, 'the rejoin is refused and reported');
  clock.advance(10_000); // the budget refills
  await waitFor('the rejoin', () => moderator.stats.joins === 2);
  const bob = await chatSubscriber(t, server, 'bob');
  const alice = await RawClient.open(server, await tokenFor(server, PermissionScopes.chatParticipant(CACHE, 'room1'), { tokenId: 'alice' }));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after the refusal' });
  t.equal((await bob.items.count(1))[0]!.valueString(), 'after the refusal', 'moderated: a member again');
  for (const c of [spender, alice]) c.close();
});
