/** One credential cannot take every SSE ticket of the server (http.maxTicketsPerCredential): the
 * ticket route is under no rate limit, so without it one client could lock every EventSource user
 * out for http.ticketTtlMs. */
import t from 'tap';
import { ManualClock, PermissionScopes } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { tokenFor } from '../helpers/raw-client.js';
import { SseReader } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

t.test('one credential cannot take every SSE ticket of the server', async (t) => {
  const server = await startServer(t, { config: {
    http: { maxTickets: 50, maxTicketsPerCredential: 5 },
  } });
  const scope = PermissionScopes.topicSubscribeOnly('feed', '*');
  const mallory = await tokenFor(server, scope, { tokenId: 'mallory' });
  const alice = await tokenFor(server, scope, { tokenId: 'alice' });
  const ticket = (token: string) => fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then(async (r) => { await r.arrayBuffer(); return r.status; });
  const got: number[] = [];
  for (let i = 0; i < 60; i++) got.push(await ticket(mallory));
  t.equal(got.filter((s) => s === 201).length, 5, `mallory holds at most maxTicketsPerCredential unused tickets (${got.filter((s) => s === 201).length} of 60 issued)`);
  t.equal(await ticket(alice), 201, 'another user still gets a ticket');
  // The other texts of mallory's signature (its last character's two spare bits set otherwise)
  // decode to the same MAC: were they accepted, each would hold maxTicketsPerCredential more.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(mallory.at(-1)!);
  const sameMac = [0, 1, 2, 3].map((bits) => mallory.slice(0, -1) + alphabet[(last & ~3) | bits]!).filter((text) => text !== mallory);
  t.same(await Promise.all(sameMac.map(ticket)), [401, 401, 401], 'another text of the same credential is refused, not a fresh allowance');
});

t.test('a ticket whose stream is refused for room (server.maxConnections) is not spent: it opens the stream once there is room', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 1 } } });
  const token = await tokenFor(server, PermissionScopes.topicSubscribeOnly('feed', '*'));
  const url = `${server.httpUrl}/v1/sse?cache=feed&topic=news`;
  const first = await SseReader.open(url, { authorization: `Bearer ${token}` });
  t.teardown(() => first.close());
  t.equal(first.status, 200, 'one stream takes the only slot');
  const { ticket } = await (await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).json();
  const refused = await SseReader.open(`${url}&ticket=${ticket}`);
  t.equal(refused.status, 503, 'no room: refused SERVER_UNAVAILABLE (retryable)');
  first.close();
  await waitFor('the first stream to end', () => server.broker.sessions.size === 0);
  const second = await SseReader.open(`${url}&ticket=${ticket}`);
  t.teardown(() => second.close());
  t.equal(second.status, 200, 'the same ticket opens the stream now');
  await second.until((r) => r.events.some((e) => e.event === 'ready'));
  second.close();
  t.equal((await SseReader.open(`${url}&ticket=${ticket}`)).status, 401, 'and is spent by it');
});

t.test('the server\'s unused tickets are bounded (http.maxTickets); expired ones leave and give their credential its allowance back', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { http: { maxTickets: 4, maxTicketsPerCredential: 2, ticketTtlMs: 30_000 } } });
  const scope = PermissionScopes.topicSubscribeOnly('feed', '*');
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((tokenId) => tokenFor(server, scope, { tokenId })));
  const ticket = async (token: string) => {
    const res = await fetch(`${server.httpUrl}/v1/sse/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  };
  const issued = [];
  for (const token of [alice, alice, bob, bob]) issued.push(await ticket(token));
  t.same(issued.map((r) => r.status), [201, 201, 201, 201]);
  const full = await ticket(carol);
  t.equal(full.status, 429, 'the fifth unused ticket of the server is refused, though carol holds none');
  t.match(full.body, { error: { code: 'LIMIT_EXCEEDED_ERROR', message: /at most 4 unused tickets/ } });
  clock.advance(30_000);
  const stale = await SseReader.open(`${server.httpUrl}/v1/sse?cache=feed&topic=news&ticket=${issued[0]!.body.ticket}`);
  t.equal(stale.status, 401, 'a ticket is refused from the moment it expires');
  t.equal((await ticket(carol)).status, 201, 'expired tickets make room');
  t.same([(await ticket(alice)).status, (await ticket(alice)).status], [201, 201], 'and no longer count against their credential');
});
