/** Server-Sent Events from Node over real HTTP: live items on several topics, the binary marker,
 * resume with Last-Event-ID (nothing lost, nothing doubled), `disc` when the window no longer
 * covers the gap, heartbeats, tickets, refusals before the stream starts, and a slow reader. */
import t from 'tap';
import net from 'node:net';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { SseReader } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { deletePrefix, requireRedis, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { ManualClock, PermissionScopes, generateSigningKey, type MemoryEngine, type TidingsServer } from '../../src/index.js';

const CACHE = 'feed';
const scope = PermissionScopes.topicPublishSubscribe(CACHE, '*');

function publish(server: TidingsServer, token: string, topic: string, body: string | Uint8Array) {
  return fetch(`${server.httpUrl}/v1/topics/${CACHE}/${topic}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': typeof body === 'string' ? 'text/plain' : 'application/octet-stream' },
    body: body as BodyInit,
  }).then(async (r) => { if (!r.ok) throw new Error(await r.text()); return r.json(); });
}

const sseUrl = (server: TidingsServer, topics: string[], extra = '') => `${server.httpUrl}/v1/sse?cache=${CACHE}${topics.map((x) => `&topic=${x}`).join('')}${extra}`;

testEachEngine('sse', async (t, engine) => {
  const server = await startServer(t, { engine, config: { server: { heartbeatMs: 200 }, topics: { maxSubscriptionsPerConnection: 4 }, http: { sseRetryMs: 1500 } } });
  const token = await tokenFor(server, scope, { tokenId: 'writer' });
  const auth = { authorization: `Bearer ${token}` };

  t.test('live items on several topics; ids carry every topic\'s position; binary is marked', async (t) => {
    const reader = await SseReader.open(sseUrl(server, ['a', 'b']), auth);
    t.teardown(() => reader.close());
    t.equal(reader.status, 200);
    t.match(reader.headers.get('content-type'), /^text\/event-stream/);
    await reader.until((r) => r.events.some((e) => e.event === 'ready'));
    const ready = reader.events[0]!;
    t.match(ready.json, { cache: CACHE, topics: [{ topic: 'a' }, { topic: 'b' }] });
    t.equal(reader.retryMs, 1500, 'the stream tells EventSource to reconnect after http.sseRetryMs');
    const a1 = await publish(server, token, 'a', 'first');
    const b1 = await publish(server, token, 'b', new Uint8Array([1, 2, 3]));
    await reader.until((r) => r.items().length === 2);
    const [ia, ib] = reader.items();
    t.same(ia!.json, { cache: CACHE, topic: 'a', value: 'first', seq: 1, page: a1.page, ts: a1.ts, tokenId: 'writer' });
    t.same(ib!.json.value, { base64: 'AQID' }, 'binary as { base64 }');
    t.equal(ia!.id, `${a1.page}:1,${ready.json.topics[1].page}:${ready.json.topics[1].seq}`);
    t.equal(ib!.id, `${a1.page}:1,${b1.page}:1`, 'the id is the position in every topic, in URL order');
    await reader.until((r) => r.comments.includes('hb'), 10_000);
    t.pass('heartbeats arrive as comments');
  });

  t.test('resume with Last-Event-ID after a dropped connection: nothing lost, nothing doubled', async (t) => {
    const topics = ['r1', 'r2'];
    const seen = new Map<string, number[]>(topics.map((x) => [x, []]));
    let reader = await SseReader.open(sseUrl(server, topics), auth);
    const total = 60;
    let published = 0;
    const publisher = (async () => {
      for (; published < total; published++) {
        await publish(server, token, topics[published % 2]!, `m${published}`);
        if (published % 7 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const record = (r: SseReader) => { for (const e of r.items()) seen.get(e.json.topic)!.push(e.json.seq); };
    for (let drop = 0; drop < 3; drop++) {
      await reader.until((r) => r.items().length >= 3, 5000);
      reader.close();
      record(reader);
      const lastId = reader.lastEventId;
      reader = await SseReader.open(sseUrl(server, topics), { ...auth, 'last-event-id': lastId });
    }
    await publisher;
    await reader.until((r) => r.items().length + [...seen.values()].reduce((n, s) => n + s.length, 0) >= total, 5000);
    reader.close();
    record(reader);
    t.same(seen.get('r1'), Array.from({ length: total / 2 }, (_, i) => i + 1), 'r1: every seq once, in order');
    t.same(seen.get('r2'), Array.from({ length: total / 2 }, (_, i) => i + 1), 'r2: every seq once, in order');
    t.notOk(reader.events.some((e) => e.event === 'disc'), 'no discontinuity: the window covered each gap');
  });

  t.test('a link cut mid-event, with events of both topics in flight: the resume restores each topic exactly', async (t) => {
    const proxy = await startTcpProxy(Number(new URL(server.httpUrl).port));
    t.teardown(() => proxy.close());
    const topics = ['cut1', 'cut2'];
    const proxied = `http://127.0.0.1:${proxy.port}/v1/sse?cache=${CACHE}${topics.map((x) => `&topic=${x}`).join('')}`;
    const reader = await SseReader.open(proxied, auth);
    t.teardown(() => reader.close());
    await reader.until((r) => r.events.some((e) => e.event === 'ready'));
    await publish(server, token, 'cut1', 'a1');
    await publish(server, token, 'cut2', 'b1');
    await reader.until((r) => r.items().length === 2);
    // What the server writes from now on stays in the network; the client gets part of it, then the link drops.
    proxy.hold(0);
    for (const [topic, value] of [['cut1', 'a2'], ['cut2', 'b2'], ['cut2', 'b3'], ['cut1', 'a3']] as const) await publish(server, token, topic, value);
    await waitFor('the four events written', () => proxy.held(0).includes('"value":"a3"'));
    const held = proxy.held(0);
    // The client reads a2 whole and b2 up to the middle of its data line.
    proxy.releasePart(0, held.indexOf('"value":"b2"'));
    await reader.until((r) => r.items().length === 3);
    proxy.reset();
    await reader.until((r) => r.ended);
    t.same(reader.items().map((e) => e.json.value), ['a1', 'b1', 'a2'], 'the event cut in the middle was not taken');
    const back = await SseReader.open(sseUrl(server, topics), { ...auth, 'last-event-id': reader.lastEventId });
    t.teardown(() => back.close());
    await publish(server, token, 'cut1', 'a4');
    await back.until((r) => r.items().some((e) => e.json.value === 'a4'));
    // Order holds within a topic; a replay goes topic by topic, in URL order.
    const of = (topic: string) => back.items().filter((e) => e.json.topic === topic).map((e) => `${e.json.seq}:${e.json.value}`);
    t.same(of('cut1'), ['3:a3', '4:a4'], 'cut1 resumes after a2: nothing lost, nothing doubled');
    t.same(of('cut2'), ['2:b2', '3:b3'], 'cut2 resumes after b1, the position a2\'s id held for it');
    t.notOk(back.events.some((e) => e.event === 'disc'), 'no discontinuity: the window covered the gap');
    const last = back.items().at(-1)!;
    const b3 = back.items().find((e) => e.json.value === 'b3')!;
    t.equal(last.id, `${last.json.page}:4,${b3.json.page}:3`, 'the last id holds both topics\' positions');
  });

  t.test('a retract is an event with an id, like an item: a resume goes on after it', async (t) => {
    const moderator = await tokenFor(server, PermissionScopes.combine(scope, PermissionScopes.cacheReadWrite(CACHE)));
    const reader = await SseReader.open(sseUrl(server, ['taken']), auth);
    t.teardown(() => reader.close());
    await reader.until((r) => r.events.some((e) => e.event === 'ready'));
    const item = await publish(server, token, 'taken', 'oops');
    const retracted = await fetch(`${server.httpUrl}/v1/cache/${CACHE}/retract`, {
      method: 'POST', headers: { authorization: `Bearer ${moderator}` }, body: JSON.stringify({ topic: 'taken', target: { page: item.page, seq: item.seq } }),
    }).then((r) => r.json());
    await reader.until((r) => r.events.some((e) => e.event === 'retract'));
    const event = reader.events.find((e) => e.event === 'retract')!;
    t.match(event.json, { topic: 'taken', seq: retracted.seq, target: { page: item.page, seq: item.seq } });
    t.equal(event.id, `${retracted.page}:${retracted.seq}`);
  });

  t.test('refusals before the stream starts', async (t) => {
    const none = await SseReader.open(sseUrl(server, ['a']));
    t.match(none, { status: 401, errorBody: { error: { code: 'AUTHENTICATION_ERROR' } } });
    const inUrl = await SseReader.open(sseUrl(server, ['a'], `&token=${token}`));
    t.match(inUrl, { status: 400, errorBody: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /never put a credential in a URL/ } } });
    const other = await tokenFor(server, PermissionScopes.topicSubscribeOnly(CACHE, 'a'));
    const denied = await SseReader.open(sseUrl(server, ['a', 'secret']), { authorization: `Bearer ${other}` });
    t.match(denied, { status: 403, errorBody: { error: { code: 'PERMISSION_ERROR', message: /secret/ } } });
    const badId = await SseReader.open(sseUrl(server, ['a', 'b']), { ...auth, 'last-event-id': '1:2' });
    t.match(badId, { status: 400, errorBody: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /Last-Event-ID/ } } });
    t.match(await SseReader.open(`${server.httpUrl}/v1/sse?topic=a`, auth), { status: 400 });
    t.match(await SseReader.open(sseUrl(server, ['a'], '&cache=other'), auth), { status: 400, errorBody: { error: { message: /exactly one cache/ } } }, 'two caches');
    t.match(await SseReader.open(sseUrl(server, []), auth), { status: 400 });
    t.match(await SseReader.open(sseUrl(server, ['a', 'a']), auth), { status: 400 });
    // Refused before any is subscribed, not by the fifth subscribe (LIMIT_EXCEEDED) after four.
    t.match(await SseReader.open(sseUrl(server, ['a', 'b', 'c', 'd', 'e']), auth),
      { status: 400, errorBody: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /at most 4 topics per stream/ } } }, 'more topics than topics.maxSubscriptionsPerConnection');
    const four = await SseReader.open(sseUrl(server, ['a', 'b', 'c', 'd']), auth);
    t.equal(four.status, 200, 'as many topics as topics.maxSubscriptionsPerConnection: the stream opens');
    four.close();
    await waitFor('the four-topic stream to end', () => server.broker.sessions.size === 0);
    await new Promise((r) => setTimeout(r, 50));
    t.equal([...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0).length, 0, 'no session outlives a refusal');
  });

  t.test('tickets: one use, for EventSource; the credential never enters the URL', async (t) => {
    const noAuth = await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST' });
    t.equal(noAuth.status, 401);
    // A ticket stands only for a credential that verifies now: none is issued for one that does not.
    const forged = await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: { authorization: 'Bearer not-a-credential' } });
    t.match({ status: forged.status, body: await forged.json() }, { status: 401, body: { error: { code: 'AUTHENTICATION_ERROR' } } }, 'no ticket for a credential that does not verify');
    const res = await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: auth });
    t.equal(res.status, 201);
    const { ticket, expiresAt } = await res.json();
    t.ok(expiresAt > Date.now());
    t.notOk(ticket.includes(token.slice(0, 20)), 'the ticket is not the token');
    const first = await SseReader.open(sseUrl(server, ['a'], `&ticket=${ticket}`));
    t.equal(first.status, 200);
    first.close();
    const again = await SseReader.open(sseUrl(server, ['a'], `&ticket=${ticket}`));
    t.match(again, { status: 401, errorBody: { error: { code: 'AUTHENTICATION_ERROR', message: /ticket/ } } }, 'a ticket works once');
  });
});

testEachEngine('sse - disc when the window no longer covers the gap; expired tickets', async (t, engine) => {
  const server = await startServer(t, { engine, config: { topics: { windowItems: 5 }, http: { ticketTtlMs: 50 } } });
  const token = await tokenFor(server, scope);
  const auth = { authorization: `Bearer ${token}` };
  const reader = await SseReader.open(sseUrl(server, ['w']), auth);
  const first = await publish(server, token, 'w', 'one');
  await publish(server, token, 'w', 'two');
  await reader.until((r) => r.items().length === 2);
  reader.close();
  for (let i = 3; i <= 20; i++) await publish(server, token, 'w', `n${i}`);
  const back = await SseReader.open(sseUrl(server, ['w']), { ...auth, 'last-event-id': reader.lastEventId });
  t.teardown(() => back.close());
  await back.until((r) => r.items().length === 5);
  t.equal(back.events[0]!.id, reader.lastEventId, 'ready stands at the resume point, not the newest item: what follows it is the replay');
  const disc = back.events.find((e) => e.event === 'disc');
  t.same(disc?.json, { cache: CACHE, topic: 'w', lastSeq: 2, newSeq: 16, page: first.page }, 'the gap is named');
  t.same(back.items().map((e) => e.json.seq), [16, 17, 18, 19, 20], 'then what the window still holds');
  t.ok(back.events.indexOf(disc!) < back.events.indexOf(back.items()[0]!), 'disc comes first');
  t.equal(disc!.id, `${first.page}:15`, 'after a disc the id stands just before the first item that follows');

  const { ticket } = await (await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: auth })).json();
  await new Promise((r) => setTimeout(r, 120));
  t.match(await SseReader.open(sseUrl(server, ['w'], `&ticket=${ticket}`)), { status: 401 }, 'an expired ticket is refused');
});

// The cases below are about the transport's buffers and run on memory only: they send publishes
// without awaiting each, which the Redis engine (asynchronous replies) bounds by server.maxPendingRequests.
t.test('sse - a reader that stops reading is detached, caught up from the window when it reads again, and misses nothing', async (t) => {
  const server = await startServer(t, { config: {
    server: { maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 256 * 1024 },
    topics: { windowItems: 20_000, windowBytes: 64 * 1024 * 1024 },
  } });
  const token = await tokenFor(server, scope);
  const reader = await SseReader.open(sseUrl(server, ['flood']), { authorization: `Bearer ${token}` });
  t.teardown(() => reader.close());
  await reader.until((r) => r.events.some((e) => e.event === 'ready'));
  reader.pause();
  const stream = [...server.broker.sessions.values()].find((s) => s.subscriptions.size > 0)!;
  const pub = await RawClient.open(server, token);
  t.teardown(() => pub.close());
  // Few large items: the bytes must outrun the kernel's socket buffers, the events need parsing.
  const payload = 'x'.repeat(4096);
  const total = 4000;
  const floodAt = Date.now();
  let maxBuffered = 0;
  for (let i = 1; i <= total; i++) {
    pub.send({ t: 'pub', cache: CACHE, topic: 'flood', value: `${i}:${payload}` });
    if (i % 100 === 0) { await pub.ok({ t: 'ping' }); maxBuffered = Math.max(maxBuffered, stream.connection.bufferedAmount()); }
  }
  await pub.ok({ t: 'ping' });
  t.comment(`flood took ${Date.now() - floodAt} ms`);
  t.ok(server.broker.slowConsumers.detaches >= 1, 'the stream was detached from live fan-out');
  t.ok(maxBuffered <= 256 * 1024, `its send buffer stayed under the hard limit (at most ${maxBuffered} bytes while 16 MB were published)`);
  const resumedAt = Date.now();
  reader.resume();
  await reader.until((r) => r.items().length >= total, 30_000);
  t.comment(`caught up ${total} items in ${Date.now() - resumedAt} ms`);
  t.same(reader.items().map((e) => e.json.seq), Array.from({ length: total }, (_, i) => i + 1), 'every item, in order, exactly once');
  t.notOk(reader.events.some((e) => e.event === 'disc'), 'no discontinuity: the window held everything');
  t.notOk(reader.ended, 'the stream stays open');
});

t.test('sse - a reader stalled past slowConsumerTimeoutMs gets bye 4002; the stream ends, the server keeps serving', async (t) => {
  const server = await startServer(t, { config: { server: { maxBackpressureBytes: 64 * 1024, sendBufferHardLimitBytes: 256 * 1024, slowConsumerTimeoutMs: 300 } } });
  const token = await tokenFor(server, scope);
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(`GET /v1/sse?cache=${CACHE}&topic=flood HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
  const head = await new Promise<string>((r) => socket.once('data', (d) => r(d.toString())));
  t.match(head, /^HTTP\/1\.1 200 OK/);
  socket.pause(); // and never read again
  const streams = () => [...server.broker.sessions.values()].filter((s) => s.subscriptions.size > 0).length;
  t.equal(streams(), 1);
  const pub = await RawClient.open(server, token);
  t.teardown(() => { pub.close(); socket.destroy(); });
  const payload = 'x'.repeat(1024);
  for (let i = 0; i < 20_000 && streams() > 0; i++) {
    pub.send({ t: 'pub', cache: CACHE, topic: 'flood', value: payload });
    if (i % 200 === 0) await pub.ok({ t: 'ping' });
  }
  const deadline = Date.now() + 5000;
  while (streams() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(streams(), 0, 'the stalled stream was closed');
  const fresh = await SseReader.open(sseUrl(server, ['flood'], ''), { authorization: `Bearer ${token}` });
  t.teardown(() => fresh.close());
  await fresh.until((r) => r.events.some((e) => e.event === 'ready'));
  t.pass('the server keeps serving');
});

t.test('sse - a replay far larger than the send buffer is paced through it, not dropped', async (t) => {
  const server = await startServer(t, { config: { server: { maxBackpressureBytes: 32 * 1024 }, topics: { windowItems: 5000, windowBytes: 32 * 1024 * 1024 } } });
  const token = await tokenFor(server, scope);
  const pub = await RawClient.open(server, token);
  t.teardown(() => pub.close());
  const first = await pub.ok({ t: 'pub', cache: CACHE, topic: 'backlog', value: 'first' });
  for (let i = 2; i <= 3000; i++) pub.send({ t: 'pub', cache: CACHE, topic: 'backlog', value: `${i}:${'b'.repeat(500)}` });
  await pub.ok({ t: 'ping' });
  const reader = await SseReader.open(sseUrl(server, ['backlog']), { authorization: `Bearer ${token}`, 'last-event-id': `${first['page']}:1` });
  t.teardown(() => reader.close());
  // Live items published during the replay come after it, in order.
  for (let i = 3001; i <= 3050; i++) pub.send({ t: 'pub', cache: CACHE, topic: 'backlog', value: `${i}` });
  await reader.until((r) => r.items().length >= 3049, 20_000);
  t.same(reader.items().map((e) => e.json.seq), Array.from({ length: 3049 }, (_, i) => i + 2), '2..3050, no gap, no duplicate');
  t.notOk(reader.ended, 'the stream survived a 1.5 MB replay through a 32 KiB buffer');
});

t.test('sse - a stream does not outlive its credential: notice, then bye, then the stream ends', async (t) => {
  // The server's clock is moved by hand: on the real one the 2 s token (1-2 s: exp is whole
  // seconds) could run out before a loaded machine opened the stream.
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { auth: { expiryNoticeMs: 1000, clockToleranceSec: 0 } } });
  const token = await tokenFor(server, scope, { expiresInSec: 2 });
  const reader = await SseReader.open(sseUrl(server, ['a']), { authorization: `Bearer ${token}` });
  t.teardown(() => reader.close());
  await reader.until((r) => r.events.some((e) => e.event === 'ready'));
  clock.advance(2000);
  await reader.until((r) => r.ended, 5000);
  const names = reader.events.map((e) => e.event);
  t.same(names, ['ready', 'notice', 'bye']);
  t.match(reader.events[1]!.json, { kind: 'token_expiring' });
  t.match(reader.events[2]!.json, { code: 4501, reconnect: false });
  t.equal(server.broker.sessions.size, 0);
});

t.test('sse - once a congested reader reads again, the last events arrive without waiting for another write', async (t) => {
  // A heartbeat far away: nothing else writes to the stream after the last item.
  const server = await startServer(t, { config: { server: { heartbeatMs: 600_000 } } });
  const token = await tokenFor(server, scope);
  const socket = net.connect(server.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((r) => socket.once('connect', r));
  let text = '';
  socket.on('data', (d) => { text += d.toString(); });
  socket.write(`GET /v1/sse?cache=${CACHE}&topic=tail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  await waitFor('the ready event', () => text.includes('event: ready'));
  socket.pause();
  const stream = [...server.broker.sessions.values()].find((s) => s.subscriptions.size > 0)!;
  const pub = await RawClient.open(server, token);
  t.teardown(() => pub.close());
  // Publish until the server holds some of the stream (the socket took no more), then stop.
  let last = 0;
  while (stream.connection.bufferedAmount() === 0 && last < 20_000) await pub.ok({ t: 'pub', cache: CACHE, topic: 'tail', value: `${++last}:${'t'.repeat(8000)}` });
  t.ok(stream.connection.bufferedAmount() > 0, `the stream is congested after ${last} items`);
  t.equal(server.broker.slowConsumers.detached, 0, 'not a slow consumer: under server.maxBackpressureBytes');
  socket.resume();
  await waitFor(`item ${last}`, () => text.includes(`"seq":${last},`), 5000);
  t.pass('every item arrived');
});

/** A reader cut from node A resumes on node B, whose copy of its topics lags behind the id (B's
 * Redis subscription is not read for a moment): each topic goes on after its own position, with no
 * false disc and nothing twice, as a WebSocket resume does (redis-copies-in-step.test.ts). */
t.test('sse - resumed on another node whose copy lags: each topic exact, no false disc', async (t) => {
  if (!requireRedis(t)) return;
  const url = await sharedRedisUrl();
  const prefix = uniquePrefix('sselag');
  t.teardown(() => deletePrefix(url, prefix));
  const config = { auth: { signingKeys: [generateSigningKey()] } };
  const a = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const b = await startServer(t, { engine: 'redis', redisUrl: url, redisKeyPrefix: prefix, config });
  const token = await tokenFor(a, scope);
  const auth = { authorization: `Bearer ${token}` };
  const topics = ['lag1', 'lag2'];
  const onA = await SseReader.open(sseUrl(a, topics), auth);
  t.teardown(() => onA.close());
  // Node b serves both topics already, so its copies are fed by its Redis subscription.
  const bystander = await SseReader.open(sseUrl(b, topics), auth);
  t.teardown(() => bystander.close());
  await publish(a, token, 'lag1', 'a1');
  await publish(a, token, 'lag2', 'b1');
  await bystander.until((r) => r.items().length === 2);
  const subscription = ((b.engine as unknown as { topics: { subscriber: { stream: { pause(): void; resume(): void } } } }).topics.subscriber).stream;
  subscription.pause();
  await publish(a, token, 'lag2', 'b2');
  await publish(a, token, 'lag1', 'a2');
  await onA.until((r) => r.items().length === 4);
  onA.close();
  const moved = await SseReader.open(sseUrl(b, topics), { ...auth, 'last-event-id': onA.lastEventId });
  t.teardown(() => moved.close());
  subscription.resume();
  await publish(a, token, 'lag2', 'b3');
  await publish(a, token, 'lag1', 'a3');
  // The bystander got a3 too: node b's copy caught up, so anything more for the moved reader came before it.
  await moved.until((r) => r.items().some((e) => e.json.value === 'a3'), 10_000);
  await bystander.until((r) => r.items().length === 6, 10_000);
  t.same(moved.items().map((e) => e.json.value), ['b3', 'a3'], 'only what the reader had not seen, once');
  t.notOk(moved.events.some((e) => e.event === 'disc'), 'no disc: nothing was lost');
  t.equal(moved.events[0]!.id, onA.lastEventId, 'ready stands at the resume point');
});

t.test('sse - a stream the server closes before it is ready is answered with a typed error, not an empty 200', async (t) => {
  // Memory engine on purpose: the fault injection holds every engine subscribe of the second topic.
  const server = await startServer(t, { engine: 'memory' });
  const engine = server.broker['deps'].engine as MemoryEngine;
  const subscribe = engine.topics.subscribe.bind(engine.topics);
  const held: Array<() => void> = [];
  engine.topics.subscribe = (cache, topic, who) => topic !== 'early2' ? subscribe(cache, topic, who)
    : new Promise((resolve) => { held.push(() => resolve(subscribe(cache, topic, who))); });
  const setUp = async (token: string, end: () => Promise<unknown>) => {
    const opened = SseReader.open(sseUrl(server, ['early1', 'early2']), { authorization: `Bearer ${token}` });
    const count = held.length;
    await waitFor('the second topic\'s subscribe held', () => held.length > count);
    const ended = end();
    const reader = await opened;
    held.at(-1)!();
    await ended;
    return reader;
  };
  const revoked = await tokenFor(server, scope, { tokenId: 'revoked' });
  t.match(await setUp(revoked, () => server.revoke({ tokenId: 'revoked' })),
    { status: 401, errorBody: { error: { code: 'AUTHENTICATION_ERROR', message: /revoked/ } } }, 'its credential revoked');
  t.match(await setUp(await tokenFor(server, scope), () => server.close()),
    { status: 503, errorBody: { error: { code: 'SERVER_UNAVAILABLE', message: /open the stream again/ } } }, 'the server shutting down');
});
