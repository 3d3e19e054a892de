/** server.maxConnections and server.maxConnectionsPerIp count the same across transports: SSE streams and waiting long-polls
 * take a slot (docs/http-api.md), connections awaiting hello do not (docs/configuration.md), and
 * every slot is given back however a stream or poll ends; a fallback stream awaiting hello is evicted
 * like a WebSocket. */
import t from 'tap';
import { PermissionScopes, encodeFrame } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { SseReader, openSdkStream } from '../helpers/sse.js';
import { eventually, waitFor } from '../helpers/wait.js';

const scope = PermissionScopes.topicPublishSubscribe('cap', '*');

t.test('silent WebSockets awaiting hello do not lock SSE clients out of maxConnections', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 2 } } });
  const token = await tokenFor(server, scope);
  const silent = [await RawClient.connect(server.wsUrl), await RawClient.connect(server.wsUrl)];
  t.teardown(() => { for (const s of silent) s.close(); });
  await new Promise((r) => setTimeout(r, 100));
  const sse = await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=a`, { authorization: `Bearer ${token}` });
  t.teardown(() => sse.close());
  t.equal(sse.status, 200, `an SSE stream is admitted while no authenticated connection is open (got ${sse.status} ${JSON.stringify(sse.errorBody)})`);
});

t.test('SSE streams count towards maxConnections for other streams, polls and WebSocket hellos', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 2 } } });
  const token = await tokenFor(server, scope);
  const streams = [
    await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=a`, { authorization: `Bearer ${token}` }),
    await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=b`, { authorization: `Bearer ${token}` }),
  ];
  t.teardown(() => { for (const s of streams) s.close(); });
  t.same(streams.map((s) => s.status), [200, 200]);
  let admitted = true;
  try {
    const ws = await RawClient.open(server, token);
    ws.close();
  } catch { admitted = false; }
  t.notOk(admitted, `a WebSocket is refused once SSE streams hold maxConnections (sessions now ${server.broker.sessions.size})`);
  const third = await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=c`, { authorization: `Bearer ${token}` });
  t.match(third, { status: 503, errorBody: { error: { code: 'SERVER_UNAVAILABLE', message: /server.maxConnections/ } } }, 'so is a third stream');
  const poll = await fetch(`${server.httpUrl}/v1/poll?cache=cap&topic=c&waitMs=0`, { headers: { authorization: `Bearer ${token}` } });
  t.match({ status: poll.status, body: await poll.json() }, { status: 503, body: { error: { code: 'SERVER_UNAVAILABLE' } } }, 'and a poll');
  t.match(await SseReader.open(`${server.httpUrl}/v1/stream`), { status: 503, errorBody: { error: { code: 'SERVER_UNAVAILABLE' } } }, 'and the SDK\'s fallback stream');
});

t.test('slots taken by SSE streams and long-polls are given back however they end', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 1 } } });
  const token = await tokenFor(server, scope);
  const auth = { authorization: `Bearer ${token}` };
  // Each step waits for the server to have seen the last stream or poll end (a fixed 100 ms was
  // too short for a loaded machine); one that never gives its slot back still fails, at the bound.
  const released = () => waitFor('the slot to be given back', () => server.broker.sessions.size === 0).catch(() => {});
  for (let i = 0; i < 3; i++) {
    const sse = await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=a`, auth);
    t.equal(sse.status, 200, `stream ${i} admitted`);
    sse.close();
    await released();
  }
  const refused = await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=a&topic=a`, auth);
  t.equal(refused.status, 400, 'a refused stream');
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${server.httpUrl}/v1/poll?cache=cap&topic=a&waitMs=0`, { headers: auth });
    t.equal(r.status, 200, `poll ${i} admitted`);
    await r.arrayBuffer();
  }
  const aborted = new AbortController();
  const p = fetch(`${server.httpUrl}/v1/poll?cache=cap&topic=a&waitMs=5000`, { headers: auth, signal: aborted.signal }).catch(() => undefined);
  await waitFor('the poll to wait on the server', () => server.broker.sessions.size === 1).catch(() => {});
  aborted.abort();
  await p;
  await released();
  const ws = await RawClient.open(server, token);
  t.pass('a WebSocket gets the slot afterwards');
  ws.close();
});

t.test('SSE streams and waiting long-polls count towards server.maxConnectionsPerIp with WebSockets; other addresses are served', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnectionsPerIp: 2, maxPendingHellosPerIp: 2, trustedProxyHeader: 'x-forwarded-for' } } });
  const token = await tokenFor(server, scope);
  const from = (ip: string) => ({ authorization: `Bearer ${token}`, 'x-forwarded-for': ip });
  const sse = (ip: string) => SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=a`, from(ip));
  const poll = async (ip: string) => {
    const r = await fetch(`${server.httpUrl}/v1/poll?cache=cap&topic=a&waitMs=0`, { headers: from(ip) });
    return { status: r.status, body: await r.json() };
  };
  const streams = [await sse('10.0.0.1'), await sse('10.0.0.1')];
  t.teardown(() => { for (const s of streams) s.close(); });
  t.same(streams.map((s) => s.status), [200, 200]);
  const third = await sse('10.0.0.1');
  t.match(third, { status: 429, errorBody: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded', message: /server\.maxConnectionsPerIp/ } } },
    'a third stream from the address is refused');
  t.match(await poll('10.0.0.1'), { status: 429, body: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded' } } }, 'a poll too');
  await t.rejects(RawClient.connect(server.wsUrl, undefined, { 'x-forwarded-for': '10.0.0.1' }), /Unexpected server response: 429/, 'and a WebSocket');
  t.match(await SseReader.open(`${server.httpUrl}/v1/stream`, { 'x-forwarded-for': '10.0.0.1' }), { status: 429, errorBody: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded' } } }, 'and the SDK\'s fallback stream');
  const other = await sse('10.0.0.2');
  t.teardown(() => other.close());
  t.equal(other.status, 200, 'another address is served');
  t.equal((await poll('10.0.0.2')).status, 200);
  streams.pop()!.close();
  t.ok(await eventually(async () => (await poll('10.0.0.1')).status === 200), 'a stream that ended gives its address\'s slot back');
});

t.test('a fallback stream awaiting hello is evicted for a newer connection at server.maxPendingHellos, as a WebSocket is', async (t) => {
  const server = await startServer(t, { config: { server: { maxPendingHellos: 1 } } });
  const oldest = await SseReader.open(`${server.httpUrl}/v1/stream`);
  t.teardown(() => oldest.close());
  await oldest.until((r) => r.events.some((e) => e.event === 'open'));
  const newer = await SseReader.open(`${server.httpUrl}/v1/stream`);
  t.teardown(() => newer.close());
  t.equal(newer.status, 200, 'the newer stream is admitted');
  await oldest.until((r) => r.ended);
  t.match(oldest.events.find((e) => e.event === 'close')?.json, { code: 4001 }, 'the oldest ends with the close a silent WebSocket gets (4001)');
});

t.test('a fallback stream the server ends (its credential revoked) gives its slot back', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 1 } } });
  const token = await tokenFor(server, scope, { tokenId: 'fallback' });
  const { stream, frames, postFrames } = await openSdkStream(t, server.httpUrl);
  await postFrames(encodeFrame({ t: 'hello', id: 1, versions: [1], token }));
  await stream.until(() => frames().some((f) => f['id'] === 1));
  await server.revoke({ tokenId: 'fallback' });
  await stream.until((r) => r.ended);
  const auth = { authorization: `Bearer ${await tokenFor(server, scope)}` };
  let last = 0;
  t.ok(await eventually(async () => {
    const sse = await SseReader.open(`${server.httpUrl}/v1/sse?cache=cap&topic=a`, auth);
    sse.close();
    last = sse.status;
    return last === 200;
  }), `the only slot is free again (last answer ${last})`);
});
