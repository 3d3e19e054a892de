/** HTTP long-poll over real HTTP: a client polling at random intervals while items are published
 * gets every item once, a poll waits up to its bound, and a cursor the window no longer covers
 * yields a `disc`. A credential in the poll's URL is refused, as on an SSE stream. */
import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { tokenFor } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes, type MemoryEngine, type TidingsServer } from '../../src/index.js';

const CACHE = 'feed';

async function poll(server: TidingsServer, token: string, query: string) {
  const res = await fetch(`${server.httpUrl}/v1/poll?cache=${CACHE}&${query}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json(), cacheControl: res.headers.get('cache-control') };
}
function publish(server: TidingsServer, token: string, topic: string, text: string) {
  return fetch(`${server.httpUrl}/v1/topics/${CACHE}/${topic}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: text })
    .then((r) => r.json());
}

testEachEngine('long-poll', async (t, engine) => {
  const server = await startServer(t, { engine, config: { topics: { windowItems: 10, maxSubscriptionsPerConnection: 4 } } });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'));

  t.test('a client polling at random intervals gets every item once, in order', async (t) => {
    const topics = ['p1', 'p2'];
    const total = 80;
    // Where the client starts: a poll that answers at once with the current positions.
    let cursor = (await poll(server, token, 'topic=p1&topic=p2&waitMs=0')).body.cursor as string;
    const publisher = (async () => {
      for (let i = 0; i < total; i++) {
        await publish(server, token, topics[i % 2]!, `m${i}`);
        if (Math.random() < 0.3) await new Promise((r) => setTimeout(r, Math.random() * 15));
      }
    })();
    const got = new Map<string, number[]>(topics.map((x) => [x, []]));
    let polls = 0;
    let received = 0;
    while (received < total) {
      const { status, body } = await poll(server, token, `topic=p1&topic=p2&waitMs=2000&cursor=${cursor}`);
      t.equal(status, 200);
      polls++;
      for (const e of body.events) {
        if (e.type === 'item') { got.get(e.topic)!.push(e.seq); received++; }
        else t.fail(`unexpected ${e.type} event`);
      }
      cursor = body.cursor;
      if (polls > 1000) break;
      await new Promise((r) => setTimeout(r, Math.random() * 20));
    }
    await publisher;
    t.same(got.get('p1'), Array.from({ length: total / 2 }, (_, i) => i + 1), 'p1 complete, no duplicate');
    t.same(got.get('p2'), Array.from({ length: total / 2 }, (_, i) => i + 1), 'p2 complete, no duplicate');
    t.ok(polls > 1, `${polls} polls`);
    const after = await poll(server, token, `topic=p1&topic=p2&waitMs=0&cursor=${cursor}`);
    t.same(after.body.events, [], 'nothing is delivered twice afterwards');
    t.equal(after.body.cursor, cursor);
  });

  t.test('an empty poll waits up to its bound; an item ends the wait early', async (t) => {
    const first = await publish(server, token, 'quiet', 'x');
    const cursor = `${first.page}:1`;
    const started = Date.now();
    const empty = await poll(server, token, `topic=quiet&cursor=${cursor}&waitMs=150`);
    t.same(empty.body, { cursor, events: [] });
    t.equal(empty.cacheControl, 'no-store', 'no cache along the way may answer a later poll with this one');
    t.ok(Date.now() - started >= 140, 'it waited');
    const waiting = poll(server, token, `topic=quiet&cursor=${cursor}&waitMs=10000`);
    await new Promise((r) => setTimeout(r, 50));
    await publish(server, token, 'quiet', 'y');
    const got = await waiting;
    t.match(got.body, { cursor: `${first.page}:2`, events: [{ type: 'item', value: 'y', seq: 2 }] });
  });

  t.test('an answer lost on the way does not count as delivered: the same cursor gets the same items, then what came after', async (t) => {
    const proxy = await startTcpProxy(Number(new URL(server.httpUrl).port));
    t.teardown(() => proxy.close());
    const start = (await poll(server, token, 'topic=lost1&topic=lost2&waitMs=0')).body.cursor as string;
    const gone = fetch(`http://127.0.0.1:${proxy.port}/v1/poll?cache=${CACHE}&topic=lost1&topic=lost2&cursor=${start}&waitMs=10000`, { headers: { authorization: `Bearer ${token}` } })
      .then((r) => r.json());
    await waitFor('the poll waits', () => [...server.broker.sessions.values()].some((s) => s.subscriptions.size === 2));
    // Its answer stays in the network, then the link drops.
    proxy.hold(0);
    await publish(server, token, 'lost2', 'x1');
    await waitFor('the answer written', () => proxy.held(0).includes('"value":"x1"'));
    await waitFor('its session ended', () => server.broker.sessions.size === 0);
    proxy.reset();
    await t.rejects(gone, 'the client never got the answer');
    // Published between the lost answer and the next poll.
    await publish(server, token, 'lost1', 'y1');
    await publish(server, token, 'lost2', 'x2');
    const { body } = await poll(server, token, `topic=lost1&topic=lost2&cursor=${start}&waitMs=0`);
    const of = (topic: string) => body.events.filter((e: { topic: string }) => e.topic === topic).map((e: { type: string; seq: number; value: string }) => `${e.type}:${e.seq}:${e.value}`);
    t.same(of('lost1'), ['item:1:y1']);
    t.same(of('lost2'), ['item:1:x1', 'item:2:x2'], 'the item of the lost answer again, then the next');
    const again = await poll(server, token, `topic=lost1&topic=lost2&cursor=${body.cursor}&waitMs=0`);
    t.same(again.body, { cursor: body.cursor, events: [] }, 'nothing twice');
  });

  t.test('a cursor the window no longer covers gives a disc, then the rest', async (t) => {
    const first = await publish(server, token, 'busy', 'm1');
    for (let i = 2; i <= 25; i++) await publish(server, token, 'busy', `m${i}`);
    const { body } = await poll(server, token, `topic=busy&cursor=${first.page}:1&waitMs=0`);
    t.same(body.events[0], { type: 'disc', cache: CACHE, topic: 'busy', lastSeq: 1, newSeq: 16, page: first.page });
    t.same(body.events.slice(1).map((e: { seq: number }) => e.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    t.equal(body.cursor, `${first.page}:25`);
  });

  t.test('a retract is an event with a position, like an item', async (t) => {
    const moderator = await tokenFor(server, PermissionScopes.combine(PermissionScopes.topicPublishSubscribe(CACHE, '*'), PermissionScopes.cacheReadWrite(CACHE)));
    const item = await publish(server, moderator, 'taken', 'oops');
    const retracted = await fetch(`${server.httpUrl}/v1/cache/${CACHE}/retract`, {
      method: 'POST', headers: { authorization: `Bearer ${moderator}` }, body: JSON.stringify({ topic: 'taken', target: { page: item.page, seq: item.seq } }),
    }).then((r) => r.json());
    const { body } = await poll(server, moderator, `topic=taken&cursor=${item.page}:${item.seq}&waitMs=0`);
    t.match(body, { cursor: `${retracted.page}:${retracted.seq}`, events: [{ type: 'retract', topic: 'taken', seq: retracted.seq, target: { page: item.page, seq: item.seq } }] });
  });

  t.test('errors', async (t) => {
    t.match(await poll(server, 'junk', 'topic=a'), { status: 401, body: { error: { code: 'AUTHENTICATION_ERROR' } } });
    const narrow = await tokenFor(server, PermissionScopes.topicSubscribeOnly(CACHE, 'a'));
    t.match(await poll(server, narrow, 'topic=b&waitMs=0'), { status: 403, body: { error: { code: 'PERMISSION_ERROR' } } });
    t.match(await poll(server, token, 'topic=a&cursor=nonsense'), { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR' } } });
    for (const waitMs of ['-5', '1.5', 'soon']) t.match(await poll(server, token, `topic=a&waitMs=${waitMs}`), { status: 400, body: { error: { message: /waitMs/ } } }, `waitMs=${waitMs}`);
    t.match(await poll(server, token, 'waitMs=0'), { status: 400, body: { error: { message: /at least one topic/ } } }, 'no topic');
    t.match(await poll(server, token, 'topic=a&topic=a&waitMs=0'), { status: 400, body: { error: { message: /named twice/ } } }, 'a topic twice');
    t.match(await poll(server, token, 'cache=other&topic=a&waitMs=0'), { status: 400, body: { error: { message: /exactly one cache/ } } }, 'two caches');
    t.match(await poll(server, token, 'topic=a&topic=b&topic=c&topic=d&waitMs=0'), { status: 200 }, 'as many topics as topics.maxSubscriptionsPerConnection');
    // Refused before any is subscribed, not by the fifth subscribe (LIMIT_EXCEEDED) after four.
    t.match(await poll(server, token, 'topic=a&topic=b&topic=c&topic=d&topic=e&waitMs=0'),
      { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /at most 4 topics per poll/ } } }, 'more topics than topics.maxSubscriptionsPerConnection');
    // Even beside a valid header: a credential in a URL ends up in proxy and server logs.
    for (const name of ['token', 'authToken']) {
      t.match(await poll(server, token, `topic=a&waitMs=0&${name}=${token}`),
        { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /never put a credential in a URL/ } } }, `?${name}= is refused`);
    }
    t.equal(server.broker.sessions.size, 0, 'every poll\'s session ended');
  });
});

t.test('long-poll - a longer waitMs, or none, is held to http.longPollMaxWaitMs; waitMs=0 answers at once', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { http: { longPollMaxWaitMs: 1000 } } });
  const token = await tokenFor(server, PermissionScopes.topicSubscribeOnly(CACHE, 'quiet'));
  // Real time only bounds a failure: every answer below is due on the server's clock.
  const within10s = <T>(answer: Promise<T>) => Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))]);
  t.match(await within10s(poll(server, token, 'topic=quiet&waitMs=0')), { status: 200, body: { events: [] } }, 'waitMs=0: answered without the clock moving');
  const longer = poll(server, token, 'topic=quiet&waitMs=600000');
  const unnamed = poll(server, token, 'topic=quiet');
  await waitFor('both polls wait', () => [...server.broker.sessions.values()].filter((s) => s.subscriptions.size === 1).length === 2);
  clock.advance(1000);
  t.match(await within10s(longer), { status: 200, body: { events: [] } }, 'answered, empty, once the bound passed');
  t.match(await within10s(unnamed), { status: 200, body: { events: [] } }, 'without waitMs: the same bound');
});

t.test('long-poll - a waiting poll is answered with its cursor when the server shuts down, not cut off', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, 'quiet'));
  const first = await publish(server, token, 'quiet', 'x');
  const answered = poll(server, token, `topic=quiet&cursor=${first.page}:1&waitMs=600000`);
  await waitFor('the poll waits', () => [...server.broker.sessions.values()].some((s) => s.subscriptions.size === 1));
  const closing = server.close();
  t.match(await answered, { status: 200, body: { cursor: `${first.page}:1`, events: [] } }, 'answered at the shutdown, as the broker closed its session');
  await closing;
});

t.test('long-poll - a poll the server ends while its topics are still being subscribed is refused (503), not answered with a cursor it does not have', async (t) => {
  // Memory engine on purpose: the fault injection holds the second topic's engine subscribe.
  const server = await startServer(t, { engine: 'memory' });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe(CACHE, '*'));
  await publish(server, token, 'early1', 'x');
  await publish(server, token, 'early2', 'y');
  const { cursor } = (await poll(server, token, 'topic=early1&topic=early2&waitMs=0')).body;
  const engine = server.broker['deps'].engine as MemoryEngine;
  const subscribe = engine.topics.subscribe.bind(engine.topics);
  let release: (() => void) | undefined;
  engine.topics.subscribe = (cache, topic, who) => topic !== 'early2' ? subscribe(cache, topic, who)
    : new Promise((resolve) => { release = () => resolve(subscribe(cache, topic, who)); });
  const answered = poll(server, token, `topic=early1&topic=early2&cursor=${cursor}&waitMs=600000`);
  await waitFor('the second topic\'s subscribe held', () => release !== undefined);
  const closing = server.close();
  const answer = await answered;
  release!();
  await closing;
  // Not a cursor naming 0:0 for the topic not subscribed yet: the next poll would replay its window behind a disc.
  t.match(answer, { status: 503, body: { error: { code: 'SERVER_UNAVAILABLE', message: /poll again with the same cursor/ } } }, 'refused, retryable');
});
