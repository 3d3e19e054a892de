/** A connection that keeps sending what is refused is closed, over WebSocket and over the SDK's
 * fallback stream: frames over the request rate and malformed frames are charged to its refusal
 * budget (limits.connectionRefusalsBurst, refilled at limits.connectionRefusalsPerSec), malformed
 * ones counted (limits.maxMalformedFrames). A client that exceeds its rate briefly and backs off
 * is not closed. One server; a manual clock moves the buckets' time. */
import t from 'tap';
import { ManualClock, PermissionScopes, encodeFrame } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { framedBody, openSdkStream } from '../helpers/sse.js';
import { sdkFor, statusReached } from '../helpers/sdk.js';
import { requireRedis, sharedRedisUrl } from '../helpers/redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const BURST = 3;
const REFUSALS = 4;
const MALFORMED = 3;
const clock = new ManualClock(Date.now());
const server = await startServer(t, {
  clock,
  config: { limits: { connectionOpsPerSec: 1, connectionOpsBurst: BURST, connectionRefusalsPerSec: 1, connectionRefusalsBurst: REFUSALS, maxMalformedFrames: MALFORMED } },
});
const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
const EMPTY = new Uint8Array(0);

/** Sends `n` pings at once; their replies, in order. */
async function pings(c: RawClient, n: number) {
  const ids = Array.from({ length: n }, () => c.send({ t: 'ping' }));
  return Promise.all(ids.map((id) => c.next((f) => f['id'] === id)));
}
const overRate = { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded' } };

t.test('WebSocket: over its rate and backing off, a connection is refused but stays open', async (t) => {
  const c = await RawClient.open(server, await tokenFor(server, scope));
  t.teardown(() => c.close());
  for (let round = 0; round < 3; round++) {
    const replies = await pings(c, BURST + REFUSALS);
    t.equal(replies.filter((r) => r['t'] === 'ok').length, BURST, `round ${round}: the burst is served`);
    t.match(replies.filter((r) => r['t'] === 'err'), Array(REFUSALS).fill(overRate), `round ${round}: the rest refused over the rate`);
    // Backing off refills both buckets.
    clock.advance(10_000);
  }
  t.equal((await pings(c, 1))[0]!['t'], 'ok', 'still open and served');
});

t.test('WebSocket: a hello of many values costs no requests: the rates start after it', async (t) => {
  const c = await RawClient.connect(server.wsUrl);
  t.teardown(() => c.close());
  // 100 values: three requests' worth (limits.requestElementsPerOp 32) were it charged.
  t.match(await c.request({ t: 'hello', versions: [1], token: await tokenFor(server, scope), client: 'x', extra: Array.from({ length: 100 }, (_, i) => i) }), { t: 'ok' });
  t.same((await pings(c, BURST)).map((r) => r['t']), Array(BURST).fill('ok'), 'the whole burst is left');
});

t.test('WebSocket: a connection that keeps sending past its rate is closed with 4503 after its refusal budget', async (t) => {
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const ids = Array.from({ length: BURST + REFUSALS + 1 }, () => c.send({ t: 'ping' }));
  const last = await c.next((f) => f['id'] === ids.at(-1));
  t.match(last, overRate, 'the refusal past the budget is answered');
  t.match(await c.next((f) => f['t'] === 'bye'), { code: 4503, reconnect: false, reason: /limits\.connectionRefusalsBurst/ });
  t.equal((await c.waitClosed()).code, 4503);
});

t.test('WebSocket: malformed frames are answered until limits.maxMalformedFrames, then the connection is closed with 4502', async (t) => {
  const c = await RawClient.open(server, await tokenFor(server, scope));
  for (let i = 1; i < MALFORMED; i++) {
    c.sendRaw(EMPTY);
    t.match(await c.next((f) => f['t'] === 'err'), { id: null, e: { code: 'BAD_REQUEST_ERROR' } }, `malformed frame ${i} refused`);
  }
  t.equal((await pings(c, 1))[0]!['t'], 'ok', 'below the limit the connection serves');
  // The last one is refused from its headers, undecoded: { id: 40, t: "ping", x: <fixext 1 of type 5> } is malformed too.
  c.sendRaw(new Uint8Array([0x83, 0xa2, 0x69, 0x64, 40, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x78, 0xd4, 0x05, 0x00]));
  t.match(await c.next((f) => f['t'] === 'err'), { id: 40, e: { code: 'BAD_REQUEST_ERROR' } });
  t.match(await c.next((f) => f['t'] === 'bye'), { code: 4502, reconnect: false, reason: /malformed frames/ });
  t.equal((await c.waitClosed()).code, 4502);
});

t.test('the SDK fallback stream: a POST of many empty frames ends the stream with 4502 after limits.maxMalformedFrames replies', async (t) => {
  const { stream, frames, postBody, postFrames } = await openSdkStream(t, server.httpUrl);
  t.equal((await postFrames(encodeFrame({ t: 'hello', id: 1, versions: [1], token: await tokenFor(server, scope) }))).status, 204);
  await stream.until(() => frames().some((f) => f['id'] === 1));
  // The body is checked whole before any frame is served (frames are made one by one as served).
  const truncated = await postBody(Buffer.concat([framedBody(encodeFrame({ t: 'ping', id: 9 })), Buffer.from([0, 0, 0, 9, 1])]));
  t.equal(truncated.status, 400, 'a body whose last frame is cut short is refused');
  // 100 000 zero-length frames: only their 4-byte lengths.
  t.equal((await postBody(Buffer.alloc(4 * 100_000))).status, 204);
  await stream.until((r) => r.events.some((e) => e.event === 'close'));
  t.match(stream.events.find((e) => e.event === 'close')!.json, { code: 4502, reason: /malformed frames/ });
  t.equal(frames().filter((f) => f['t'] === 'err').length, MALFORMED, 'one refusal per malformed frame up to the limit, none after');
  t.notOk(frames().some((f) => f['id'] === 9), 'and none of the refused body was served');
  t.equal((await postFrames(encodeFrame({ t: 'ping', id: 2 }))).status, 404, 'the stream is gone');
});

t.test('the SDK: closed with 4503 for flooding past its rate, it reports closed and does not reconnect', async (t) => {
  const sdk = await sdkFor(t, server, { tokenId: 'flooder' });
  await statusReached(sdk.connection, 'open');
  const opened = server.broker.sessions.size;
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sdk.topics.publish('chat', 'flood', `${i}`)));
  t.ok(results.some((r) => `${r}`.includes('operations_rate_limit_exceeded') || `${r}`.includes('LIMIT_EXCEEDED')), 'refused over the rate');
  const closed = await statusReached(sdk.connection, 'closed');
  t.match(closed.reason, /4503/);
  t.equal(server.broker.sessions.size, opened - 1, 'its session is gone and, closed for good (a terminal status), it opened none again');
});

t.test('requests refused over server.maxPendingRequests are charged too: past the budget, 4503', async (t) => {
  if (!requireRedis(t)) return;
  // Engine redis through a relay that stops forwarding: cache reads stay in flight.
  const relay = await startTcpProxy(Number(new URL(await sharedRedisUrl()).port));
  t.teardown(() => relay.close());
  const pending = await startServer(t, {
    engine: 'redis', redisUrl: `redis://127.0.0.1:${relay.port}`,
    // Its own manual clock, never advanced: the refusal bucket does not refill between the
    // refusals, however slowly a loaded machine processes them.
    clock: new ManualClock(Date.now()),
    config: { redis: { commandTimeoutMs: 10_000 }, server: { maxPendingRequests: 2 }, limits: { connectionRefusalsPerSec: 1, connectionRefusalsBurst: REFUSALS } },
  });
  const c = await RawClient.open(pending, await tokenFor(pending, PermissionScopes.cacheReadWrite('chat')));
  relay.freeze();
  t.teardown(() => relay.heal());
  for (let i = 0; i < 2; i++) c.send({ t: 'listLength', cache: 'chat', list: 'l' });
  const ids = Array.from({ length: REFUSALS + 1 }, () => c.send({ t: 'ping' }));
  for (const id of ids) t.match(await c.next((f) => f['id'] === id), { t: 'err', e: { cause: 'pending_requests_limit_exceeded' } });
  t.match(await c.next((f) => f['t'] === 'bye'), { code: 4503, reason: /limits\.connectionRefusalsBurst/ });
  t.equal((await c.waitClosed()).code, 4503);
});
