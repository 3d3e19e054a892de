/** Faults on a node's link to the (shared) Redis, made with a TCP proxy between the node and
 * Redis: replies lost after a script ran, a re-sent SUBSCRIBE answered past the command timeout,
 * a reload that timed out, a link cut while clients subscribe or resume. One file (one process)
 * for what were nine: each case below has its own servers, proxy and key prefix, and leaves
 * nothing behind, so they do not disturb each other. */
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { deletePrefix, loadsDuring, proxiedRedis, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { resetHoldingSubscribe, type TcpProxy } from '../helpers/tcp-proxy.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { CACHE, RawModerator, SUFFIX, liveGroup, participant } from '../helpers/moderator.js';
import { eventually, waitFor } from '../helpers/wait.js';
import { sdkFor } from '../helpers/sdk.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { ErrorResponse, Increment, ListWrite } from '../../src/client/index.js';
import { TopicKeys } from '../../src/engine/redis/keys.js';
import { GROUP_SCRIPTS } from '../../src/engine/redis/moderation-scripts.js';
import { TOPIC_SCRIPTS } from '../../src/engine/redis/scripts.js';
import { PermissionScopes, generateSigningKey, type DeepPartial, type TidingsConfig, type TidingsServer } from '../../src/index.js';

const COMMAND_TIMEOUT_MS = 300;

/** A raw client of `node` that may publish and subscribe to every topic of cache 'app', closed
 * when the test ends. */
async function appClient(t: Test, node: TidingsServer): Promise<RawClient> {
  const c = await RawClient.open(node, await tokenFor(node, PermissionScopes.topicPublishSubscribe('app', '*')));
  t.teardown(() => c.close());
  return c;
}

/** Node a through a proxy (commands time out after COMMAND_TIMEOUT_MS; its link is taken for dead
 * only after 10 s, well after a held answer comes), node b straight to Redis, a subscriber of
 * app/room on node a and a publisher on node b. */
async function subscribedAcross(t: Test, label: string) {
  const { url, prefix, proxy } = await proxiedRedis(t, label);
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const sub = await appClient(t, a);
  const pub = await appClient(t, b);
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  return { url, prefix, proxy, sub, pub };
}

/** Node a through the proxy, with a moderator ('first'), and node b, with alice: the cases whose
 * settle's reply is lost. a's first connection through the proxy is its command connection
 * (connected before the others), so `proxy.hold(0)` keeps Redis's answers to it. */
async function moderatedThroughProxy(t: Test, label: string, moderation: { maxAttempts?: number } = {}) {
  const { url, prefix, proxy } = await proxiedRedis(t, label);
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { ackTimeoutMs: 60_000, ...moderation } };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { ...base, redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const mod = await RawModerator.join(a, { tokenId: 'first' });
  const alice = await participant(b, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  return { proxy, b, mod, alice };
}

/** A moderator's accept (publish, append and settle in one script) whose reply was lost with the
 * link: the item is published once, its delivery is settled (the node's hand-back after the error
 * finds nothing to hand back), a retried accept is refused rather than published again, and no
 * member gets the item again. The proxy keeps Redis's answers on the node's command connection. */
t.test('an accept whose reply was lost: published once, settled, not handed out again', async (t) => {
  if (!requireRedis(t)) return;
  const { proxy, b, mod, alice } = await moderatedThroughProxy(t, 'acceptcut');
  const viewer = await participant(b, 'viewer');
  t.teardown(() => viewer.close());
  await viewer.ok({ t: 'sub', cache: CACHE, topic: 'room1' });
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'hello' });
  await mod.received(1);
  const delivery = mod.deliveries[0]!['delivery'];

  proxy.hold(0);
  t.match(await mod.client.request({ t: 'accept', delivery }), { t: 'err', e: { code: /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/ } }, 'node a could not tell');
  proxy.release(0);

  t.match(await viewer.items(1), [{ value: 'hello', tokenId: 'alice' }], 'published');
  t.match(await mod.client.request({ t: 'accept', delivery }), { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } }, 'a retried accept is refused');
  // Another member, on another node, has room: nothing is handed to it.
  const other = await RawModerator.join(b, { tokenId: 'second' });
  t.teardown(() => other.client.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'next' });
  await Promise.race([mod.received(2), other.received(1)]);
  const handed = [...mod.deliveries.slice(1), ...other.deliveries].map((d) => d['value']);
  t.same(handed, ['next'], 'the next item is handed out, not the accepted one again');
  t.same(await viewer.drain('item', 100), [], 'published once');
});

/** A moderator's reject whose reply was lost with the link: Redis settled the item, so the node's
 * hand-back after the error finds nothing to hand back, and no member gets it again. Before, the
 * node sent the sender's `rejected` only once the settle answered, so here alice never learnt her
 * input was rejected; the settle script now publishes it in the same step. The proxy keeps
 * Redis's answers on node a's command connection. */
t.test('a reject whose reply was lost: the sender is still told', async (t) => {
  if (!requireRedis(t)) return;
  const { proxy, b, mod, alice } = await moderatedThroughProxy(t, 'rejectcut');
  const input = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'spam' });
  await mod.received(1);
  const delivery = mod.deliveries[0]!['delivery'];

  proxy.hold(0);
  t.match(await mod.client.request({ t: 'reject', delivery, reason: 'no spam' }), { t: 'err', e: { code: /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/ } }, 'node a could not tell');
  proxy.release(0);

  t.same(await alice.next((f) => f['t'] === 'rejected', 10_000),
    { t: 'rejected', cache: CACHE, topic: 'room1-input', page: input['page'], seq: input['seq'], reason: 'no spam', by: 'moderator' }, 'alice is told');
  const other = await RawModerator.join(b, { tokenId: 'second' });
  t.teardown(() => other.client.close());
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'next' });
  await Promise.race([mod.received(2), other.received(1)]);
  const handed = [...mod.deliveries.slice(1), ...other.deliveries].map((d) => d['value']);
  t.same(handed, ['next'], 'the next item is handed out, not the rejected one again');
});

/** An item given up after moderation.maxAttempts (1 here: the nack gives it up) whose hand-back's
 * reply was lost with the link: Redis gave it up, so the node's retry of the hand-back finds
 * nothing. Before, the node sent the sender's `rejected` (by: "server") only once the script
 * answered, so here alice never learnt her input was given up; the script now publishes it in the
 * same step (the reap and the sweep give items up with the same code). A binary value: the script
 * reads the record's fields past it. The proxy keeps Redis's answers on node a's command connection. */
t.test('an item given up whose reply was lost: the sender is still told', async (t) => {
  if (!requireRedis(t)) return;
  const { proxy, mod, alice } = await moderatedThroughProxy(t, 'deadcut', { maxAttempts: 1 });
  const input = await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: new Uint8Array([0xc4, 0, 0xde, 0xa1]) });
  await mod.received(1);

  proxy.hold(0);
  // Answered ok all the same: a hand-back that failed is retried at the node's next tick.
  await mod.client.ok({ t: 'nack', delivery: mod.deliveries[0]!['delivery'] });
  t.ok(proxy.held(0).length > 0, 'node a got no answer to its hand-back');
  proxy.release(0);

  t.same(await alice.next((f) => f['t'] === 'rejected', 10_000),
    { t: 'rejected', cache: CACHE, topic: 'room1-input', page: input['page'], seq: input['seq'], reason: 'not moderated after 1 delivery attempts', by: 'server' },
    'alice is told');
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'next' });
  await mod.received(2);
  t.match(mod.deliveries[1], { value: 'next', attempt: 1 }, 'the next item is handed out, not the given-up one again');
});

/** A revocation whose reply was lost on the way back from Redis (the script ran and published it;
 * the node that asked got TIMEOUT_ERROR): it is in force on every node, the asking one included.
 * Before, the asking node ignored its own node's message on the revocation channel (it mirrors its
 * own entries once the script answers, which here it never did), so the revoked credential went
 * on working on exactly that node, and its open connections stayed, until its subscriber link
 * happened to reconnect. The proxy keeps Redis's answers on that node's command connection. */
t.test('a revocation that ran in Redis but whose reply was lost is in force on the asking node too', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'revlost');
  const auth = { signingKeys: [generateSigningKey()] };
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 200, linkTimeoutMs: 10_000 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  const token = await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'rita' });
  const opens = (node: TidingsServer) => RawClient.open(node, token).then((c) => { c.close(); return true; }, () => false);
  const open = await RawClient.open(a, token);
  t.teardown(() => open.close());

  proxy.hold(0);
  await t.rejects(a.revoke({ tokenId: 'rita' }), { code: 'TIMEOUT_ERROR' }, 'node a could not tell');
  proxy.release(0);

  t.ok(await eventually(async () => !(await opens(b))), 'node b refuses rita');
  t.ok(await eventually(async () => !(await opens(a))), 'node a refuses rita too');
  await open.waitClosed();
  t.pass('and closed rita\'s open connection on node a');
});

/** An idempotent write whose reply was lost with the link to Redis (the script ran, its answer
 * never came back), retried after the link is back, on the same node or on another one: applied
 * once, and the retry hears the first result (docs/protocol.md, "Idempotent writes"). The proxy
 * keeps Redis's answers on node a's command connection, so "ran but unanswered" is made, not hoped
 * for; the link is then taken for dead (redis.linkTimeoutMs) and reconnects. */
const RETRYABLE = /^(TIMEOUT_ERROR|SERVER_UNAVAILABLE)$/;

/** `webhooks`: both nodes' webhooks config (the same file on every node). */
async function idempotentSetup(t: Test, webhooks: DeepPartial<TidingsConfig['webhooks']> = {}) {
  const { url, prefix, proxy } = await proxiedRedis(t, 'idemcut');
  const auth = { signingKeys: [generateSigningKey()] };
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth, webhooks, redis: { commandTimeoutMs: 200, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth, webhooks } });
  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('app'), PermissionScopes.topicPublishSubscribe('app', '*'));
  const open = async (node: TidingsServer) => {
    const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId: 'writer' }));
    t.teardown(() => c.close());
    return c;
  };
  const onA = await open(a);
  const onB = await open(b);
  const watcher = await open(b);
  return { a, b, proxy, onA, onB, watcher };
}

/** Sends `frame` on node a with Redis's answers kept from it: a retryable error, though Redis ran it. */
async function lostReply(t: Test, proxy: Awaited<ReturnType<typeof idempotentSetup>>['proxy'], onA: RawClient, frame: Frame): Promise<void> {
  proxy.hold(0);
  const reply = await onA.request(frame);
  t.match(reply, { t: 'err', e: { code: RETRYABLE } }, `node a could not tell: ${JSON.stringify(reply['e'])}`);
  proxy.release(0);
}

for (const retryOn of ['a', 'b'] as const) {
  t.test(`pubAppend and listPushBack whose replies were lost, retried on node ${retryOn}: applied once`, async (t) => {
    if (!requireRedis(t)) return;
    const { proxy, onA, onB, watcher } = await idempotentSetup(t);
    const retrier = retryOn === 'a' ? onA : onB;
    await watcher.ok({ t: 'sub', cache: 'app', topic: 'room' });
    const first = await onA.ok({ t: 'pubAppend', cache: 'app', topic: 'room', list: 'history', value: 'zero' });

    const append = { t: 'pubAppend', cache: 'app', topic: 'room', list: 'history', value: 'one', idempotencyKey: 'append-1' };
    await lostReply(t, proxy, onA, append);
    const push = { t: 'listPushBack', cache: 'app', list: 'log', value: 'x', idempotencyKey: 'push-1' };
    await lostReply(t, proxy, onA, push);

    // Retried once the node can reach Redis again (a's link reconnects by itself).
    let again: Frame = {};
    await waitFor('the retry is answered ok', async () => (again = await retrier.request(append))['t'] === 'ok');
    t.match(again['r'], { seq: first['seq'] + 1, page: first['page'], length: 2 }, 'the retry hears the first result');
    t.match(await retrier.ok(push), { length: 1 }, 'the list push too');
    t.match(await onB.ok({ t: 'listFetch', cache: 'app', list: 'history' }), { values: ['zero', 'one'] }, 'one element appended');
    t.match(await onB.ok({ t: 'listFetch', cache: 'app', list: 'log' }), { values: ['x'] }, 'one element pushed');
    t.match(await watcher.items(2), [{ value: 'zero' }, { value: 'one', seq: first['seq'] + 1 }]);
    t.same(await watcher.drain('item', 100), [], 'one item published');
  });

  t.test(`scalar, dictionary and sorted-set writes whose replies were lost, retried on node ${retryOn}: applied once`, async (t) => {
    if (!requireRedis(t)) return;
    const { proxy, onA, onB } = await idempotentSetup(t);
    const retrier = retryOn === 'a' ? onA : onB;
    const writes = {
      increment: { t: 'increment', cache: 'app', key: 'count', amount: 5, idempotencyKey: 'inc-1' },
      dictionaryIncrement: { t: 'dictionaryIncrement', cache: 'app', dictionary: 'd', field: 'f', amount: 3, idempotencyKey: 'dinc-1' },
      sortedSetIncrementScore: { t: 'sortedSetIncrementScore', cache: 'app', sortedSet: 'z', value: 'e', amount: 2, idempotencyKey: 'zinc-1' },
      setIf: { t: 'setIf', cache: 'app', key: 'claimed', value: 'mine', condition: 'absent', idempotencyKey: 'setif-1' },
      setIfHash: { t: 'setIfHash', cache: 'app', key: 'status', value: 'first', condition: 'unconditional', idempotencyKey: 'hash-1' },
    };
    for (const frame of Object.values(writes)) await lostReply(t, proxy, onA, frame);
    // Acknowledged writes after the lost ones: a retry applied again would undo them.
    await onB.ok({ t: 'set', cache: 'app', key: 'claimed', value: 'theirs' });
    await onB.ok({ t: 'set', cache: 'app', key: 'status', value: 'later' });

    await waitFor('the retry is answered ok', async () => (await retrier.request(writes.increment))['t'] === 'ok');
    t.same(await retrier.ok(writes.increment), { value: 5 }, 'increment: the first result');
    t.same(await retrier.ok(writes.dictionaryIncrement), { value: 3 }, 'dictionaryIncrement: the first result');
    t.same(await retrier.ok(writes.sortedSetIncrementScore), { score: 2 }, 'sortedSetIncrementScore: the first result');
    t.same(await retrier.ok(writes.setIf), { stored: true }, 'setIf: the first result');
    t.same(await retrier.ok(writes.setIfHash), { stored: true, hash: createHash('sha1').update('first').digest('hex') }, 'setIfHash: the first result');
    t.match(await onB.ok({ t: 'get', cache: 'app', key: 'count' }), { hit: true, value: '5' }, 'incremented once');
    t.match(await onB.ok({ t: 'dictionaryGetFields', cache: 'app', dictionary: 'd', fields: ['f'] }), { hit: true, values: ['3'] }, 'the field incremented once');
    t.match(await onB.ok({ t: 'sortedSetGetScores', cache: 'app', sortedSet: 'z', values: ['e'] }), { hit: true, scores: [2] }, 'the score incremented once');
    t.match(await onB.ok({ t: 'get', cache: 'app', key: 'claimed' }), { hit: true, value: 'theirs' }, 'setIf not applied again over the later set');
    t.match(await onB.ok({ t: 'get', cache: 'app', key: 'status' }), { hit: true, value: 'later' }, 'setIfHash not applied again over the later set');
  });
}

/** An idempotent publish whose Redis reply was lost was published (subscribers have it), but its
 * node never heard it, so its publish hooks did not run; its retry then heard the first result
 * ('dup'), taken as "the first attempt ran the hooks". Its `item.published` and `item.undelivered`
 * events were never sent. The node now remembers the publish it did not hear, and the retry that
 * hears it runs the hooks, once. A publish after the retries shows nothing more is on its way. */
t.test('an idempotent publish whose reply was lost, retried on the same node: its webhook events are sent once', async (t) => {
  if (!requireRedis(t)) return;
  const receiver = await HttpReceiver.start(t);
  const { a, proxy, onA } = await idempotentSetup(t, { allowPrivateUrls: true, endpoints: [
    { name: 'backend', url: receiver.url, secret: 'a-secret-of-enough-length', cache: 'app', topicPrefix: '', events: ['item.published', 'item.undelivered'] },
  ] });
  const reader = await tokenFor(a, PermissionScopes.topicPublishSubscribe('app', '*'), { tokenId: 'reader' });
  const followed = await fetch(`${a.httpUrl}/v1/follows`, { method: 'POST', headers: { authorization: `Bearer ${reader}` }, body: JSON.stringify({ cache: 'app', topic: 'room' }) });
  t.equal(followed.status, 200, 'reader follows the room and is away');

  const publish = { t: 'pub', cache: 'app', topic: 'room', value: 'one', idempotencyKey: 'pub-1' };
  await lostReply(t, proxy, onA, publish);
  let again: Frame = {};
  await waitFor('the retry is answered ok', async () => (again = await onA.request(publish))['t'] === 'ok');
  t.match(await onA.ok(publish), again['r'], 'a second retry hears the first result too');
  await onA.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'two' });

  // One lane per topic: once both events of 'two' arrived, any of 'one' (made before them) did.
  // item.undelivered waits for a presence lookup: it may come after a later item.published.
  const seen = () => receiver.events().map((e) => `${e['type']} ${e['item']['value']}`);
  await waitFor('the events of the later publish', () => seen().includes('item.published two') && seen().includes('item.undelivered two'));
  const events = receiver.events();
  t.same(seen().sort(),
    ['item.published one', 'item.published two', 'item.undelivered one', 'item.undelivered two'], 'each event once');
  t.match(events.find((e) => e['item']['value'] === 'one')?.['item'], { seq: again['r']['seq'], page: again['r']['page'], tokenId: 'writer' }, 'the item the first attempt published');
});

/** The same through the SDK, as an app retries a call that failed "maybe applied" (the node's
 * TIMEOUT_ERROR or SERVER_UNAVAILABLE): the error carries the idempotency key the write was sent
 * with, and the retry with it (`{ idempotencyKey }`) hears the first result, on the same connection
 * or on another one of the same tokenId (node b), and is not applied again. Before, the SDK could
 * only send a new random key: the retry was applied a second time. */
t.test('SDK writes whose replies were lost, retried with their error\'s idempotencyKey: applied once', async (t) => {
  if (!requireRedis(t)) return;
  const { a, b, proxy } = await idempotentSetup(t);
  const onA = await sdkFor(t, a, { tokenId: 'writer' });
  const onB = await sdkFor(t, b, { tokenId: 'writer' });
  await onA.connection.ready();
  const lost = async <R>(write: () => Promise<R>): Promise<R> => {
    proxy.hold(0);
    const response = await write();
    proxy.release(0);
    return response;
  };
  const increment = await lost(() => onA.cache.increment('chat', 'count'));
  const push = await lost(() => onA.cache.listPushBack('chat', 'log', 'x'));
  for (const response of [increment, push]) {
    t.ok(response instanceof ErrorResponse && RETRYABLE.test(response.errorCode()), `node a could not tell: ${response}`);
  }
  const incrementKey = (increment as Increment.Error).idempotencyKey();
  const pushKey = (push as ListWrite.Error).idempotencyKey();
  t.match([incrementKey, pushKey], [/^[0-9a-f]{32}$/, /^[0-9a-f]{32}$/], 'each error carries the key its write was sent with');
  t.equal((increment as Increment.Error).innerException().idempotencyKey, incrementKey, 'the thrown error too');

  // Retried once the node can reach Redis again (a's link reconnects by itself).
  let again: Increment.Response | undefined;
  await waitFor('the retry is answered', async () =>
    (again = await onA.cache.increment('chat', 'count', 1, { idempotencyKey: incrementKey })) instanceof Increment.Success);
  t.equal((again as Increment.Success).valueNumber(), 1, 'the increment\'s retry hears the first result');
  const pushed = await onB.cache.listPushBack('chat', 'log', 'x', { idempotencyKey: pushKey });
  t.equal((pushed as ListWrite.Success).listLength(), 1, `the push's retry on node b hears the first result (${pushed})`);
  t.equal((await onB.cache.get('chat', 'count')).value(), '1', 'incremented once');
  t.same((await onB.cache.listFetch('chat', 'log')).value(), ['x'], 'pushed once');
});

/** An idempotent pubAppend to a topic that was the input of a moderator group now idle past
 * moderation.groupIdleMs (the node's copy still names the group: it asks Redis first, then goes
 * on as for an ordinary topic). The write's idempotency key must still reach Redis, so that a
 * retry on another node is answered, not applied again (docs/protocol.md, "Idempotent writes").
 * Before, the key was taken after that await, when it was no longer there: the write was
 * deduplicated on its own node only. */
const GROUP_IDLE_MS = 100;

t.test('an idempotent pubAppend to the input of an idle group, retried on another node: applied once', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('idemidle');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { auth: { signingKeys: [generateSigningKey()] }, moderation: { groupIdleMs: GROUP_IDLE_MS } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const mod = await RawModerator.join(a);
  t.teardown(() => mod.client.close());
  await mod.client.ok({ t: 'gunsub', cache: 'chat', group: 'mods' });
  // The group goes idle (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * GROUP_IDLE_MS));

  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('chat'), PermissionScopes.topicPublishSubscribe('chat', '*'));
  const open = async (node: TidingsServer) => { const c = await RawClient.open(node, await tokenFor(node, scope, { tokenId: 'writer' })); t.teardown(() => c.close()); return c; };
  const onA = await open(a);
  const onB = await open(b);
  const write = { t: 'pubAppend', cache: 'chat', topic: 'room1-input', list: 'room1-input', value: 'once', idempotencyKey: 'k-1' };
  const first = await onA.ok(write);
  const retry = await onB.ok(write);
  t.same(retry, first, 'the retry on node b hears the first result');
  t.same((await onB.ok({ t: 'listFetch', cache: 'chat', list: 'room1-input' }))['values'], ['once'], 'one element');
});

/** A node's re-sent SUBSCRIBE (after its subscriber link dropped) answered later than
 * redis.commandTimeoutMs, on a link that stays up: the node must still catch its subscribers up
 * (the items published meanwhile, then topic_resumed), by itself. Before, a failed re-subscription
 * waited for the next reconnect, which a link that stays up never brings: the items published
 * while the link was down reached nobody until some later publish happened to reveal the gap,
 * and topic_resumed never came. The proxy holds the SUBSCRIBE, so the late answer is made, not
 * hoped for. */
t.test('a re-sent SUBSCRIBE answered after the command timeout: subscribers still caught up and told', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy, sub, pub } = await subscribedAcross(t, 'resubto');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'before' });
  t.match(await sub.items(1), [{ value: 'before', seq: 1 }]);

  const link = await resetHoldingSubscribe(proxy, Buffer.from(new TopicKeys(prefix, 'app', 'room').channel));
  if (link === undefined) { t.fail('node a did not send its SUBSCRIBE again'); return; }
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'during' });
  // The held SUBSCRIBE times out on node a (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.releaseRequests(link);

  t.match(await sub.items(1, () => true, 10_000), [{ value: 'during', seq: 2 }], 'the item published meanwhile came, with no later publish');
  t.match(await sub.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' }, 'and topic_resumed');
  // Caught up, node a applies live items as they come again (a reload per item would be correct,
  // but a full list read in Redis for every publish).
  const loads = await loadsDuring(url, new TopicKeys(prefix, 'app', 'room').topic, async () => {
    await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'after' });
    t.match(await sub.items(1), [{ value: 'after', seq: 3 }], 'live again');
  });
  t.equal(loads, 0, 'without reloading the window');
  t.same(await sub.drain('disc', 50), [], 'nothing lost');
});

/** A node's re-sent SUBSCRIBE of its moderator groups' channels (after its subscriber link dropped)
 * answered later than redis.commandTimeoutMs, on a link that stays up: the items queued while the
 * link was down must still reach the node's members at once, not after the next tick
 * (moderation.nodeTimeoutMs / 4). Before, the failed re-subscription waited for the next reconnect,
 * which such a link never brings, and the claim that follows it never ran. The proxy holds the
 * SUBSCRIBE, so the late answer is made, not hoped for. */
t.test('a re-sent group SUBSCRIBE answered after the command timeout: the queued item is delivered without waiting for the tick', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'modresubto');
  // A tick far beyond the waits below: only the claim after the re-subscription can deliver.
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { nodeTimeoutMs: 120_000, ackTimeoutMs: 120_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { ...base, redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const { mod, alice } = await liveGroup(t, a, b);

  const link = await resetHoldingSubscribe(proxy, Buffer.from(`${prefix}m:${CACHE}\u0000mods`));
  if (link === undefined) { t.fail('node a did not send its SUBSCRIBE again'); return; }
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'during' });
  // The held SUBSCRIBE times out on node a (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.releaseRequests(link);

  await mod.received(2, 5000);
  t.match(mod.deliveries[1], { value: 'during' }, 'the item queued meanwhile reached the member');
});

/** A claim sent for a node's only member, whose reply is lost (past redis.commandTimeoutMs) after
 * the member closed: Redis ran it, so the node holds the item there, but the node no longer has
 * the group. Before, the claim was marked to be undone by the group's next pump, which a group
 * this node left never has: the item stayed in flight to a live node for good, acknowledged and
 * never moderated. The proxy keeps Redis's answers on node a's command connection. */
t.test('a claim whose reply was lost after the node\'s last member closed is undone: the item reaches a member elsewhere', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'claimorphan');
  const claimTimeoutMs = 1500;
  // nodeTimeoutMs: ticks every 250 ms retry what failed; node a's heartbeat reaches Redis meanwhile (only answers are held).
  const base = { auth: { signingKeys: [generateSigningKey()] }, moderation: { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000 } };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { ...base, redis: { commandTimeoutMs: claimTimeoutMs, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: base });
  const { mod, alice } = await liveGroup(t, a, b);
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const inFlight = `${prefix}m:${CACHE}\u0000mods\u0000f`;

  // Answered after the claim that followed the accept (one command connection): no claim is under way.
  await mod.client.ok({ t: 'pub', cache: CACHE, topic: 'room9', value: 'sync' });
  proxy.hold(0);
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'orphan' });
  await waitFor('node a\'s claim of the item to run in Redis', async () => (await side.hlen(inFlight)) === 1);
  mod.client.ws.terminate();
  await waitFor('node a to drop the member and its group', () => a.engine.groups.stats().length === 0, claimTimeoutMs / 2);
  // The claim's answer, held, times out on node a (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, claimTimeoutMs));
  proxy.release(0);

  const other = await RawModerator.join(b, { tokenId: 'other' });
  t.teardown(() => other.client.close());
  await other.received(1, 10_000);
  t.match(other.deliveries, [{ value: 'orphan', attempt: 1 }], 'the item node a claimed for no member went to the member on node b, the undone claim not counted');
  t.equal(mod.deliveries.length, 1, 'the closed member never got it');
});

/** Stalls node a's command connection (the proxy holds its requests, the answers to earlier ones
 * flow) from its next heartbeat on, until `reaped` holds, then lets the requests through: that
 * heartbeat reaches Redis after node b took node a for gone, finds its key gone, and its answer is
 * lost (past redis.commandTimeoutMs). Node a's links are reset first (the hold applies to new ones). */
const HEARTBEAT_SHA = createHash('sha1').update(GROUP_SCRIPTS.tidingsNodeBeat.lua).digest('hex');

async function heartbeatLostAfter(proxy: TcpProxy, what: string, reaped: () => Promise<boolean>): Promise<void> {
  const stalled = proxy.holdRequests((chunk) => chunk.includes(HEARTBEAT_SHA));
  proxy.reset();
  const link = await stalled;
  await waitFor(what, reaped);
  proxy.releaseRequests(link);
}

/** A node cut off from Redis past moderation.nodeTimeoutMs is taken for gone (its members reaped);
 * the heartbeat that finds its key gone registers them again. Here the link only stalls: the
 * requests go through late, so that heartbeat reaches Redis, finds the key gone, and its answer
 * is lost (past redis.commandTimeoutMs). Before, the later heartbeats found the key and the
 * member stayed unlisted for good while connected: once the group had been quiet for
 * groupIdleMs it was forgotten, and an input published on another node was acknowledged as an
 * ordinary publish that no moderator ever got. */
t.test('a heartbeat whose answer was lost after the node was taken for gone still registers its members again', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'beatlost');
  const groupIdleMs = 1500;
  const moderation = { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000, groupIdleMs };
  const signingKeys = [generateSigningKey()];
  // linkTimeoutMs: the stalled link is kept, so what it holds reaches Redis once released.
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth: { signingKeys }, moderation, redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth: { signingKeys }, moderation } });
  const { mod, alice } = await liveGroup(t, a, b);
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const members = `${prefix}m:${CACHE}\u0000mods\u0000m`;

  await heartbeatLostAfter(proxy, 'node b to reap node a\'s member', async () => (await side.hlen(members)) === 0);

  t.ok(await eventually(async () => (await side.hlen(members)) === 1, 5000), 'node a registered its member again');
  // The group, quiet since the reap, would be forgotten by now had the member stayed unlisted.
  await new Promise((r) => setTimeout(r, groupIdleMs));
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'after' });
  await mod.received(2, 5000);
  t.match(mod.deliveries[1], { value: 'after' }, 'an input published on node b reached the member on node a');
});

/** Node a's member (maxInFlight 1, ackTimeoutMs 60 s) holds an item published on node b; `cutOff`
 * keeps node a from Redis until node b has reaped it (`reaped`). The member must then get the item
 * again at once, well within ackTimeoutMs, and its stale delivery be over. */
async function staleDeliveryFreed(t: Test, label: string, linkTimeoutMs: number,
  cutOff: (proxy: TcpProxy, reaped: () => Promise<boolean>) => Promise<void>): Promise<void> {
  const { url, prefix, proxy } = await proxiedRedis(t, label);
  const moderation = { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000 };
  const signingKeys = [generateSigningKey()];
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth: { signingKeys }, moderation, redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth: { signingKeys }, moderation } });
  const mod = await RawModerator.join(a, { maxInFlight: 1 });
  const alice = await participant(b, 'alice');
  t.teardown(() => { mod.client.close(); alice.close(); });
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const inFlight = `${prefix}m:${CACHE}\u0000mods\u0000f`;
  await alice.ok({ t: 'pub', cache: CACHE, topic: 'room1-input', value: 'X' });
  await mod.received(1);

  await cutOff(proxy, async () => (await side.hlen(inFlight)) === 0);

  // Well within ackTimeoutMs: only the stale delivery's end makes room for it.
  await mod.received(2, 15_000);
  t.match(mod.deliveries[1], { value: 'X', attempt: 2 }, 'the reaped item reached the member again');
  t.match(await mod.client.request({ t: 'reject', delivery: mod.deliveries[0]!['delivery'], reason: 'late' }), { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } },
    'the stale delivery is over');
  t.match(await mod.client.request({ t: 'accept', delivery: mod.deliveries[1]!['delivery'] }), { t: 'ok' }, 'the new one is settled');
}

/** The stall above with an item held: the node must end its member's stale delivery at once, as
 * when it gets the answer of the heartbeat that found its key gone, though only a later
 * heartbeat's answer tells it now (the key holds the number of the one that found it gone).
 * Before, only an answer finding the key gone did, so here the member (maxInFlight 1) had no room
 * for the reaped item, or anything else, until ackTimeoutMs (60 s). */
t.test('a heartbeat whose answer was lost after the node was taken for gone still frees its members\' stale deliveries at once', async (t) => {
  if (!requireRedis(t)) return;
  // linkTimeoutMs: the stalled link is kept, so what it holds reaches Redis once released.
  await staleDeliveryFreed(t, 'beatlostfree', 10_000, (proxy, reaped) => heartbeatLostAfter(proxy, 'node b to reap node a\'s item', reaped));
});

/** A node cut off from Redis past moderation.nodeTimeoutMs is taken for gone: what its members
 * held goes back to the queue. Before, the node, back, kept those stale deliveries until their
 * ack timeout, so a member joined with maxInFlight 1 had no room for them, or anything else, for
 * up to ackTimeoutMs (60 s here); the node now ends them when it finds its heartbeat gone. The
 * proxy cuts node a's links (open and new ones) until node b has reaped node a. */
t.test('a node back after it was taken for gone frees its members\' stale deliveries at once', async (t) => {
  if (!requireRedis(t)) return;
  await staleDeliveryFreed(t, 'stalefree', 400, async (proxy, reaped) => {
    proxy.freeze();
    proxy.blackhole();
    await waitFor('node b to reap node a\'s item', reaped);
    proxy.heal();
  });
});

/** A node taken for gone registers its members again when it is back; here Redis refuses: the
 * member's group, left with no member, was forgotten for idleness and another group took the
 * deployment's only place (moderation.maxGroups 1). Before, the refusal was ignored: the member
 * stayed a member on its node, of a group Redis no longer had, and got nothing, silently. Now its
 * membership ends and it is told (`gend`, with the error a gsub gets). The proxy cuts node a's
 * links (open and new ones) until node b has reaped node a's member. */
t.test('a member Redis refuses to register again is told its membership ended', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'rejoinrefused');
  const groupIdleMs = 300;
  const moderation = { nodeTimeoutMs: 1000, ackTimeoutMs: 60_000, groupIdleMs, maxGroups: 1 };
  const signingKeys = [generateSigningKey()];
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth: { signingKeys }, moderation, redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 400, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth: { signingKeys }, moderation } });
  const mod = await RawModerator.join(a);
  t.teardown(() => mod.client.close());
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const members = `${prefix}m:${CACHE}\u0000mods\u0000m`;

  proxy.freeze();
  proxy.blackhole();
  await waitFor('node b to reap node a\'s member', async () => (await side.hlen(members)) === 0);
  // Idle past groupIdleMs: the join below forgets it to make room (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, groupIdleMs));
  const other = await RawModerator.join(b, { group: 'other', tokenId: 'other' });
  t.teardown(() => other.client.close());
  proxy.heal();

  t.match(await mod.client.next((f) => f['t'] === 'gend', 10_000),
    { t: 'gend', cache: CACHE, group: 'mods', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'groups_limit_exceeded' } }, 'the member is told');
  t.match(await mod.client.request({ t: 'gunsub', cache: CACHE, group: 'mods' }), { t: 'err', e: { code: 'FAILED_PRECONDITION_ERROR' } }, 'and is no member any more');
  t.match(await mod.client.request({ t: 'gsub', cache: CACHE, group: 'mods', pattern: SUFFIX }), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR' } },
    'joining again is refused the same way');
  t.equal(a.engine.groups.stats().length, 0, 'node a has no member of the group left');
  t.same(await mod.client.drain('gend'), [], 'told once');
});

/** A node reloads a topic's window from Redis when a live message shows it is out of step (another
 * page: Redis lost the topic, e.g. evicted under maxmemory; a seq jump). When that reload fails
 * (Redis slow to answer on the node's command connection, while its subscription flows), the
 * node must try again by itself: the message that showed the gap was dropped with the failed
 * reload, and before, nothing reached the subscribers until some later publish revealed the gap
 * again. The proxy keeps Redis's answers on the node's command connection past its command
 * timeout, so the failed reload is made, not hoped for. */
t.test('a reload that failed is tried again: the topic Redis lost is announced and its new items come, with no later publish', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'reloadretry');
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 10_000 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const sub = await appClient(t, a);
  const pub = await appClient(t, b);
  await sub.ok({ t: 'sub', cache: 'app', topic: 'room' });
  const first = await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'one' });
  await sub.items(1);

  // Redis loses the topic; node a's command connection answers late from now on.
  const keys = new TopicKeys(prefix, 'app', 'room');
  await side.del(keys.topic, keys.recent, keys.lastPage);
  proxy.hold(0);
  const second = await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'two' });
  t.not(second['page'], first['page'], 'the publish started a new page');
  // Node a's reload, started by that message, times out (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.release(0);

  t.match(await sub.next((f) => f['t'] === 'disc', 10_000), { lastSeq: 1, page: second['page'] }, 'the loss is announced');
  t.match(await sub.items(1, () => true, 10_000), [{ value: 'two', page: second['page'], seq: 1 }], 'and the new item comes');
});

/** A client that subscribes, on a node whose link to Redis is down, to a topic the node still
 * serves from its window (another local subscriber keeps it) is told at once that live items have
 * stopped (`topic_interrupted`, docs/protocol.md), like the subscribers the node had when the link
 * dropped, and hears `topic_resumed` with them. Before, it got only the `topic_resumed`: between
 * the two it took a silent topic for a live one. */
t.test('a subscriber that joins while the link is down is told it is interrupted, then resumed', async (t) => {
  if (!requireRedis(t)) return;
  const { prefix, proxy } = await proxiedRedis(t, 'subint');
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const first = await appClient(t, a);
  const late = await appClient(t, a);
  await first.ok({ t: 'sub', cache: 'app', topic: 'room' });

  proxy.blackhole();
  proxy.reset();
  t.match(await first.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  await late.ok({ t: 'sub', cache: 'app', topic: 'room' });
  t.same(await late.next((f) => f['t'] === 'notice'), { t: 'notice', kind: 'topic_interrupted', cache: 'app', topic: 'room' }, 'told at once');

  proxy.heal();
  t.match(await late.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' }, 'then resumed');
  t.match(await first.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' });
});

/** A client resumes (`sub` with `after`) on a node whose window is behind that position (another
 * node delivered it: e.g. the client's node died and it moved) while that node cannot reach Redis
 * to catch up. The node must refuse the resume with a retryable error, not take the position for
 * one from the future: that answered `ok`, a `disc` naming items the client already had, and the
 * window's old items again (then, once the link was back, the rest a second time). */
t.test('a resume ahead of a node cut off from Redis: refused retryable, then served exactly once the link is back', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'ahead');
  const auth = { signingKeys: [generateSigningKey()] };
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { auth, redis: { commandTimeoutMs: 300, linkTimeoutMs: 500, queueTimeoutMs: 200, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { auth } });
  const stay = await appClient(t, a); // keeps node a's window of the topic
  const mover = await appClient(t, b);
  const pub = await appClient(t, b);
  await stay.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await mover.ok({ t: 'sub', cache: 'app', topic: 'room' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'one' });
  await stay.items(1);
  await mover.items(1);

  // Node a is cut off from Redis; the mover's node goes on delivering.
  proxy.blackhole();
  proxy.reset();
  await stay.next((f) => f['t'] === 'notice' && f['kind'] === 'topic_interrupted');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'two' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'three' });
  const last = (await mover.items(2))[1]!;
  const position = { page: last['page'], seq: last['seq'] };
  mover.close();

  // The mover comes to node a with its position.
  const moved = await appClient(t, a);
  const reply = await moved.request({ t: 'sub', cache: 'app', topic: 'room', after: position });
  t.match(reply, { t: 'err', e: { code: 'SERVER_UNAVAILABLE' } }, `refused, retryable: ${JSON.stringify(reply)}`);
  t.same(moved.frames.filter((f) => f['t'] === 'disc' || f['t'] === 'item'), [], 'no disc, no replay of what it had');

  proxy.heal();
  let again: Frame = {};
  await waitFor('the resume is served once node a reaches Redis', async () => (again = await moved.request({ t: 'sub', cache: 'app', topic: 'room', after: position }))['t'] === 'ok');
  t.match(again['r'], position, 'from where it was');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'four' });
  t.match(await moved.items(1), [{ value: 'four', seq: position.seq + 1 }], 'the next item, and nothing before it');
  t.same(moved.frames.filter((f) => f['t'] === 'disc'), [], 'no disc');
});

/** A node subscribed to a topic nothing was published to yet (seq 0) whose link dropped while more
 * was published than the topic's recent-messages list keeps: the reload's list starts past seq 1,
 * and the items before it are lost to the subscriber, announced with a `disc` from seq 0. Before,
 * a window at seq 0 was taken for one the reload had just made (no disc due), and the subscriber
 * got v7 after nothing, silently. */
t.test('a topic subscribed at seq 0 whose list moved on while the link was down: the loss is announced', (t) => listMovedOn(t, false));

/** The same for a topic Redis lost (its keys deleted) while the link was down, made again by the
 * publishes: one `disc`, to the new page from the seq the node held, not a second one from seq 0
 * of the new page. */
t.test('a topic Redis lost and made again past its list while the link was down: one disc', (t) => listMovedOn(t, true));

async function listMovedOn(t: Test, lost: boolean): Promise<void> {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'movedon');
  const topics = { windowItems: 4 }; // the list keeps the newest 4 (trimmed once it holds 4 + 4/16)
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { topics, redis: { commandTimeoutMs: COMMAND_TIMEOUT_MS, linkTimeoutMs: 500, reconnectMinMs: 10, reconnectMaxMs: 50 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config: { topics } });
  const sub = await appClient(t, a);
  const pub = await appClient(t, b);
  t.match(await sub.ok({ t: 'sub', cache: 'app', topic: 'room' }), { seq: 0 });
  const held = lost ? (await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'one' }))['seq'] : 0;
  if (lost) await sub.items(1);

  proxy.blackhole();
  proxy.reset();
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  if (lost) {
    const keys = new TopicKeys(prefix, 'app', 'room');
    const side = new Redis(url);
    await side.del(keys.topic, keys.recent, keys.lastPage);
    side.disconnect();
  }
  for (let i = 1; i <= 10; i++) await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: `v${i}` });
  proxy.heal();

  t.match(await sub.next((f) => f['t'] === 'disc' || f['t'] === 'item', 10_000), { t: 'disc', lastSeq: held, newSeq: 7 }, 'the loss is announced first');
  t.same((await sub.items(4)).map((f) => f['value']), ['v7', 'v8', 'v9', 'v10'], 'then what the list holds');
  t.same(await sub.drain('disc', 50), [], 'in one disc');
}

/** An item published while a node loads a topic's window (its first subscriber's `sub`) reaches the
 * node as a live message before the load's answer: it waits for the load and is applied after it,
 * so the `sub` answers a position that includes it (the subscriber is owed nothing before it).
 * The proxy keeps Redis's answers on the node's command connection until the load has run in Redis
 * and node a has received the item; a publish to another topic it serves, received by its
 * subscriber, shows that (one subscription connection, in order). */
t.test('an item published while a node loads the window is in the position the sub answers', async (t) => {
  if (!requireRedis(t)) return;
  const { url, prefix, proxy } = await proxiedRedis(t, 'loadpend');
  // a's first connection through the proxy is its command connection (connected before the others).
  const a = await startServer(t, { engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { redis: { commandTimeoutMs: 10_000, linkTimeoutMs: 20_000 } } });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix });
  const side = new Redis(url);
  t.teardown(() => side.disconnect());
  const sub = await appClient(t, a);
  const marker = await appClient(t, a);
  const pub = await appClient(t, b);
  await marker.ok({ t: 'sub', cache: 'app', topic: 'marker' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'before' });

  proxy.hold(0);
  const subscribed = sub.request({ t: 'sub', cache: 'app', topic: 'room' }, 15_000);
  // The load ran in Redis once the topic's TTL is back to idleTopicMs (a publish leaves it an
  // eighth longer, scripts.ts topic_record); its answer is held.
  const keys = new TopicKeys(prefix, 'app', 'room');
  await waitFor('node a\'s load ran', async () => { const ttl = await side.pttl(keys.topic); return ttl > 0 && ttl <= 600_000; });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'during' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'marker', value: 'm' });
  await marker.items(1);
  proxy.release(0);

  t.match(await subscribed, { t: 'ok', r: { seq: 2 } }, 'the position includes the item');
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'after' });
  t.match(await sub.items(1), [{ value: 'after', seq: 3 }], 'live from there');
  t.same(await sub.drain('disc', 50), [], 'nothing lost');
});

/** A node whose link came back but whose reload of a window then failed (Redis answered past
 * redis.commandTimeoutMs on the command connection) tries the whole resubscription again, and
 * only once every window is reloaded tells its subscribers `topic_resumed`: the item published
 * meanwhile first, then the notice. The proxy holds the reload on the reconnected command
 * connection past the timeout. */
t.test('a resubscription whose reload timed out: the item published meanwhile, then topic_resumed', async (t) => {
  if (!requireRedis(t)) return;
  const { proxy, sub, pub } = await subscribedAcross(t, 'resubload');

  const loadSha = createHash('sha1').update(TOPIC_SCRIPTS.tidingsTopicLoad.lua).digest('hex');
  const held = proxy.holdRequests((chunk) => chunk.includes(loadSha));
  proxy.reset();
  t.match(await sub.next((f) => f['t'] === 'notice'), { kind: 'topic_interrupted' });
  await pub.ok({ t: 'pub', cache: 'app', topic: 'room', value: 'during' });
  const link = await held;
  // The held reload times out on node a (the time passing is what is waited for).
  await new Promise((r) => setTimeout(r, 3 * COMMAND_TIMEOUT_MS));
  proxy.releaseRequests(link);

  t.match(await sub.next((f) => f['t'] === 'item' || f['t'] === 'notice', 10_000), { t: 'item', value: 'during' }, 'the item published meanwhile');
  t.match(await sub.next((f) => f['t'] === 'notice', 10_000), { kind: 'topic_resumed' }, 'then topic_resumed');
});
