import t from 'tap';
import { createHmac } from 'node:crypto';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { HttpReceiver } from '../helpers/http-receiver.js';
import { waitFor } from '../helpers/wait.js';
import { verify } from '../../src/notify/webhook-signature.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

const CACHE = 'app';
const writer = PermissionScopes.topicPublishSubscribe(CACHE, '*');
const SECRET = 'a-secret-of-enough-length';

async function adminKey(server: TidingsServer): Promise<string> {
  return (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
}

async function putWebhook(server: TidingsServer, name: string, body: Record<string, unknown>, token?: string): Promise<Response> {
  return fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/${name}`, {
    method: 'PUT', headers: { authorization: `Bearer ${token ?? await adminKey(server)}` }, body: JSON.stringify(body),
  });
}

async function metric(server: TidingsServer, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

t.test('webhooks', async (t) => {
  const server = await startServer(t, {
    config: {
      server: { metricsAccess: 'open' },
      presence: { leaveGraceMs: 0 },
      webhooks: { allowPrivateUrls: true,
        // Real time (an AbortSignal): 300 ms let a loaded machine's slow answer count as a failed
        // attempt (the retry case then saw three failures and no delivery).
        timeoutMs: 1000, maxAttempts: 3, backoffInitialMs: 20, backoffMaxMs: 40, queueSize: 20, maxInFlight: 4,
        endpoints: [],
      },
    },
  });
  const pub = await RawClient.open(server, await tokenFor(server, writer, { tokenId: 'publisher' }));

  t.test('signed POSTs, in order, for a config-file endpoint', async (t) => {
    const receiver = await HttpReceiver.start(t);
    // Another endpoint of the cache wants every topic: each event still goes only where its prefix matches.
    const everything = await HttpReceiver.start(t);
    const configured = await startServer(t, {
      config: { webhooks: { allowPrivateUrls: true, maxEndpoints: 2, endpoints: [
        { name: 'backend', url: `${receiver.url}/hook`, secret: SECRET, cache: CACHE, topicPrefix: 'orders', events: ['item.published'] },
        { name: 'all', url: `${everything.url}/all`, secret: SECRET, cache: CACHE, topicPrefix: '', events: ['item.published'] },
      ] } },
    });
    const c = await RawClient.open(configured, await tokenFor(configured, writer, { tokenId: 'shop' }));
    for (let i = 1; i <= 3; i++) await c.ok({ t: 'pub', cache: CACHE, topic: 'orders-1', value: `order ${i}` });
    await c.ok({ t: 'pub', cache: CACHE, topic: 'chatter', value: 'not for the hook' });
    await c.ok({ t: 'pub', cache: CACHE, topic: 'orders-1', value: new Uint8Array([1, 2, 3]) });
    const events = await receiver.untilEvents(4);
    const got = receiver.received;
    t.same(events.map((e) => e['item']['value'] ?? e['item']['valueBase64']), ['order 1', 'order 2', 'order 3', 'AQID'], 'in publish order; bytes as base64; other topics not sent');
    t.same(events.map((e) => e['item']['seq']), [1, 2, 3, 4]);
    t.match(events[0], { type: 'item.published', cache: CACHE, topic: 'orders-1', item: { tokenId: 'shop' } });
    t.equal(new Set(events.map((e) => e['id'])).size, 4, 'every event has its own id');
    for (const r of got) {
      t.equal(r.headers['content-type'], 'application/json');
      t.ok(verify(SECRET, r.text, r.headers['tidings-timestamp'] as string, r.headers['tidings-signature'] as string, Date.now()), 'signature verifies');
    }
    const r = got[0]!;
    // The receiver's side as docs/webhooks.md shows it: HMAC-SHA256 of `<timestamp>.<raw body>`.
    const stamp = r.headers['tidings-timestamp'] as string;
    t.equal(r.headers['tidings-signature'], `v1=${createHmac('sha256', SECRET).update(`${stamp}.${r.text}`).digest('hex')}`, 'the documented signature');
    t.notOk(verify(SECRET, r.text, String(Number(stamp) + 1), r.headers['tidings-signature'] as string, Date.now()), 'another timestamp does not verify');
    t.notOk(verify(SECRET, r.text.replace('order 1', 'order 9'), r.headers['tidings-timestamp'] as string, r.headers['tidings-signature'] as string, Date.now()), 'a changed body does not verify');
    t.notOk(verify('another-secret-entirely', r.text, r.headers['tidings-timestamp'] as string, r.headers['tidings-signature'] as string, Date.now()), 'another secret does not verify');
    t.notOk(verify(SECRET, r.text, r.headers['tidings-timestamp'] as string, r.headers['tidings-signature'] as string, Date.now() + 10 * 60_000), 'a replay ten minutes later is refused');
    // One lane per topic: chatter may overtake orders-1.
    t.same((await everything.untilEvents(5)).map((e) => e['topic']).sort(), ['chatter', 'orders-1', 'orders-1', 'orders-1', 'orders-1'], 'the catch-all endpoint gets every topic');
    t.equal(receiver.events().length, 4, 'the prefixed one never got chatter');
    const third = await putWebhook(configured, 'third', { url: `${receiver.url}/third`, topicPrefix: '', events: ['item.published'] });
    t.equal(third.status, 429, 'the two config-file endpoints use up webhooks.maxEndpoints');
    t.match(await third.json(), { error: { cause: 'webhooks_limit_exceeded' } });
    c.close();
  });

  t.test('admin route: who may manage endpoints; secrets shown once', async (t) => {
    const receiver = await HttpReceiver.start(t);
    const narrow = (await server.auth.mintApiKey({ scope: writer, expiresInSec: null })).token;
    const refused = await putWebhook(server, 'x', { url: receiver.url, topicPrefix: '', events: ['item.published'] }, narrow);
    t.equal(refused.status, 403, 'topic rights alone do not make an admin');
    const bad = await putWebhook(server, 'x', { url: 'ftp://nope', topicPrefix: '', events: ['item.published'] });
    t.equal(bad.status, 400);
    const badEvent = await putWebhook(server, 'x', { url: receiver.url, topicPrefix: '', events: ['everything'] });
    t.equal(badEvent.status, 400);
    const created = await putWebhook(server, 'x', { url: receiver.url, topicPrefix: 'adm', events: ['item.published'] });
    t.equal(created.status, 200);
    const { secret } = await created.json() as { secret: string };
    t.ok(secret.length >= 16, 'a generated secret');
    const list = await (await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}`, { headers: { authorization: `Bearer ${await adminKey(server)}` } })).json() as { endpoints: object[] };
    t.same(list.endpoints, [{ name: 'x', url: receiver.url, cache: CACHE, topicPrefix: 'adm', events: ['item.published'], source: 'admin' }], 'listed without its secret');
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'adm1', value: 'v' });
    const [r] = await receiver.until(1);
    t.ok(verify(secret, r!.text, r!.headers['tidings-timestamp'] as string, r!.headers['tidings-signature'] as string, Date.now()));
    const del = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/x`, { method: 'DELETE', headers: { authorization: `Bearer ${await adminKey(server)}` } });
    t.equal(del.status, 200);
    const again = await fetch(`${server.httpUrl}/v1/webhooks/${CACHE}/x`, { method: 'DELETE', headers: { authorization: `Bearer ${await adminKey(server)}` } });
    t.equal(again.status, 404);
  });

  t.test('retries after 500s and after timeouts, with the same event id', async (t) => {
    const receiver = await HttpReceiver.start(t);
    receiver.respond = (_r, i) => (i === 0 ? { status: 500 } : i === 1 ? { status: 200, delayMs: 2000 } : { status: 200 });
    await putWebhook(server, 'retry', { url: receiver.url, secret: SECRET, topicPrefix: 'retry', events: ['item.published'] });
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'retry1', value: 'once' });
    await receiver.until(3);
    const ids = receiver.events().map((e) => e['id']);
    t.equal(new Set(ids).size, 1, 'one event, three attempts (500, timeout, ok)');
    const stamps = receiver.received.map((r) => Number(r.headers['tidings-timestamp']));
    t.ok(stamps[2]! >= stamps[0]!, 'each attempt is signed with its own timestamp');
    t.equal(await metric(server, `tidings_webhook_failed_attempts_total{endpoint="${CACHE}/retry"}`), 2);
    t.equal(await metric(server, `tidings_webhook_delivered_total{endpoint="${CACHE}/retry"}`), 1);
  });

  t.test('a connection reset after the request was read is a failed attempt, retried with the same event', async (t) => {
    const receiver = await HttpReceiver.start(t);
    receiver.respond = (_r, i) => (i === 0 ? { status: 200, reset: true } : { status: 200 });
    await putWebhook(server, 'reset', { url: receiver.url, secret: SECRET, topicPrefix: 'reset', events: ['item.published'] });
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'reset1', value: 'after a reset' });
    await waitFor('the retry to be accepted', async () => await metric(server, `tidings_webhook_delivered_total{endpoint="${CACHE}/reset"}`) === 1);
    const ids = receiver.events().map((e) => e['id']);
    t.equal(ids.length, 2, 'sent twice: the reset one and its retry');
    t.equal(new Set(ids).size, 1, 'the same event id both times (the receiver de-duplicates on it)');
    t.equal(receiver.answered, 1, 'the first was never answered');
    t.equal(await metric(server, `tidings_webhook_failed_attempts_total{endpoint="${CACHE}/reset"}`), 1);
    t.equal(await metric(server, `tidings_webhook_queued{endpoint="${CACHE}/reset"}`), 0, 'nothing left queued');
  });

  t.test('ordering per topic: a retrying topic holds its own later events, not other topics', async (t) => {
    const receiver = await HttpReceiver.start(t);
    let failFirstA = 2;
    receiver.respond = (r) => {
      const e = (JSON.parse(r.text) as { events: Array<{ topic: string }> }).events[0]!;
      if (e.topic === 'ordA' && failFirstA > 0) { failFirstA--; return { status: 503 }; }
      return { status: 200 };
    };
    await putWebhook(server, 'order', { url: receiver.url, secret: SECRET, topicPrefix: 'ord', events: ['item.published'] });
    for (const v of ['a1', 'a2', 'a3']) await pub.ok({ t: 'pub', cache: CACHE, topic: 'ordA', value: v });
    for (const v of ['b1', 'b2']) await pub.ok({ t: 'pub', cache: CACHE, topic: 'ordB', value: v });
    await receiver.untilEvents(7);
    const seen = receiver.events().map((e) => e['item']['value'] as string);
    t.same(seen.filter((v) => v.startsWith('a')), ['a1', 'a1', 'a1', 'a2', 'a3'], 'a2 and a3 wait for a1');
    t.same(seen.filter((v) => v.startsWith('b')), ['b1', 'b2']);
    t.ok(seen.indexOf('b1') < seen.lastIndexOf('a1'), 'topic B was not held up by topic A');
  });

  t.test('dead letters: attempts exhausted, and a full queue; both in /metrics', async (t) => {
    const receiver = await HttpReceiver.start(t);
    receiver.respond = () => ({ status: 500 });
    await putWebhook(server, 'dead', { url: receiver.url, secret: SECRET, topicPrefix: 'dead', events: ['item.published'] });
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'dead1', value: 'doomed' });
    await receiver.until(3);
    await new Promise((r) => setTimeout(r, 50));
    t.equal(await metric(server, `tidings_webhook_dead_letters_total{endpoint="${CACHE}/dead",reason="attempts_exhausted"}`), 1);

    const stuck = await HttpReceiver.start(t);
    let release!: () => void;
    const hold = new Promise<void>((r) => { release = r; });
    stuck.respond = () => ({ status: 200, hold });
    await putWebhook(server, 'full', { url: stuck.url, secret: SECRET, topicPrefix: 'full', events: ['item.published'] });
    // One topic: one request in flight, the rest queued; queueSize 20 counts both.
    await Promise.all(Array.from({ length: 25 }, (_, i) => pub.ok({ t: 'pub', cache: CACHE, topic: 'full1', value: `m${i}` })));
    t.equal(await metric(server, `tidings_webhook_dead_letters_total{endpoint="${CACHE}/full",reason="queue_full"}`), 5);
    t.equal(await metric(server, `tidings_webhook_queued{endpoint="${CACHE}/full"}`), 20);
    release();
    // The held request may time out and be retried (at least once): de-duplicate by event id.
    const firstSeen = async () => {
      const seen = new Map<string, string>();
      for (const e of await stuck.untilEvents(20)) if (!seen.has(e['id'])) seen.set(e['id'], e['item']['value']);
      return [...seen.values()];
    };
    while ((await firstSeen()).length < 20) await new Promise((r) => setTimeout(r, 20));
    t.same(await firstSeen(), Array.from({ length: 20 }, (_, i) => `m${i}`), 'the first 20, in order, none of the refused');
  });

  t.test('a slow receiver does not slow publishes', async (t) => {
    const receiver = await HttpReceiver.start(t);
    let release!: () => void;
    const hold = new Promise<void>((r) => { release = r; });
    receiver.respond = () => ({ status: 200, hold });
    await putWebhook(server, 'slow', { url: receiver.url, secret: SECRET, topicPrefix: 'slow', events: ['item.published'] });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => pub.request({ t: 'pub', cache: CACHE, topic: `slow${i}`, value: 'x' })));
    t.ok(replies.every((r) => r['t'] === 'ok'), 'every publish answered');
    await receiver.until(4);
    t.equal(receiver.answered, 0, 'all answered while the receiver had answered nothing');
    release();
    await receiver.untilEvents(10);
  });

  t.test('subscriber joined / left, and item.undelivered for a follower who is away', async (t) => {
    const receiver = await HttpReceiver.start(t);
    const people = { url: receiver.url, secret: SECRET, topicPrefix: 'room', events: ['subscriber.joined', 'subscriber.left', 'item.undelivered'] };
    // Who is subscribed is the presence right (docs/tokens.md), which read and write on every item
    // and topic do not include: the endpoint would hand it to a key that may not ask for it.
    const refused = await putWebhook(server, 'people', people);
    t.equal(refused.status, 403, 'an admin key without presence may not have join/leave events sent');
    t.match(await refused.json(), { error: { code: 'PERMISSION_ERROR', message: /presence/ } });
    const elsewhere = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.topicPresence(CACHE, { namePrefix: 'lobby' }));
    const lobbyOnly = (await server.auth.mintApiKey({ scope: elsewhere, expiresInSec: null })).token;
    t.equal((await putWebhook(server, 'people', people, lobbyOnly)).status, 403, 'nor one with presence on other topics only');
    const seer = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.topicPresence(CACHE, { namePrefix: 'room' }));
    const withPresence = (await server.auth.mintApiKey({ scope: seer, expiresInSec: null })).token;
    t.equal((await putWebhook(server, 'people', people, withPresence)).status, 200, 'a key with presence on the endpoint\'s topics may');
    const frank = await tokenFor(server, writer, { tokenId: 'frank' });
    const follow = await fetch(`${server.httpUrl}/v1/follows`, { method: 'POST', headers: { authorization: `Bearer ${frank}` }, body: JSON.stringify({ cache: CACHE, topic: 'room9' }) });
    t.equal(follow.status, 200);
    const c = await RawClient.open(server, frank);
    await c.ok({ t: 'sub', cache: CACHE, topic: 'room9' });
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'room9', value: 'while frank is here' });
    c.close();
    await receiver.untilEvents(2);
    await pub.ok({ t: 'pub', cache: CACHE, topic: 'room9', value: 'while frank is away' });
    const events = await receiver.untilEvents(3);
    t.same(events.map((e) => [e['type'], e['tokenId']]), [['subscriber.joined', 'frank'], ['subscriber.left', 'frank'], ['item.undelivered', 'frank']]);
    t.equal(events[2]!['item']['value'], 'while frank is away');
    t.equal(events[2]!['item']['tokenId'], 'publisher');
  });
});
