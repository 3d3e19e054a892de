/** Denial-of-service limits at the edge and per identity, over real sockets: connections awaiting
 * hello, per-IP caps (through a trusted proxy header), the pre-hello frame limit, connections per
 * tokenId, request rates, the server-wide moderation buffer, exclusive listening, /metrics access
 * and the immediate token_expiring notice. */
import t from 'tap';
import { encodeFrame, ManualClock, PermissionScopes, createServer, defaultFeatures, generateSigningKey } from '../../src/index.js';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';
import { proxiedRedis, requireRedis } from '../helpers/redis.js';
import { createServer as createTcpServer, connect as connectTcp } from 'node:net';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');
const hello = (token: string) => ({ t: 'hello', versions: [1], token });
const from = (ip: string) => ({ 'x-forwarded-for': `203.0.113.250, ${ip}` });

/** The code of the close frame among server frames (unmasked, as a server sends them). */
function serverCloseCode(frames: Buffer): number | undefined {
  for (let at = 0; at + 2 <= frames.length;) {
    const opcode = frames[at]! & 0x0f;
    let length = frames[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) { length = frames.readUInt16BE(start); start += 2; } else if (length === 127) { length = Number(frames.readBigUInt64BE(start)); start += 8; }
    if (opcode === 0x8) return length >= 2 ? frames.readUInt16BE(start) : undefined;
    at = start + length;
  }
  return undefined;
}

t.test('hardening - silent sockets cannot lock authenticated clients out', async (t) => {
  const server = await startServer(t, {
    config: { server: { maxConnections: 4, maxPendingHellos: 6, maxPendingHellosPerIp: 3, maxConnectionsPerIp: 5, trustedProxyHeader: 'x-forwarded-for' } },
  });
  const token = await tokenFor(server, scope);
  // One attacker address: its fourth silent socket is refused; the proxy header's last entry counts.
  const silent: RawClient[] = [];
  for (let i = 0; i < 3; i++) silent.push(await RawClient.connect(server.wsUrl, undefined, from('10.0.0.1')));
  await t.rejects(RawClient.connect(server.wsUrl, undefined, from('10.0.0.1')), /Unexpected server response: 429/, 'per-IP cap on connections awaiting hello');
  // Many attacker addresses fill the server-wide cap: the next upgrade evicts the oldest silent socket.
  for (let i = 2; i <= 4; i++) silent.push(await RawClient.connect(server.wsUrl, undefined, from(`10.0.0.${i}`)));
  const evicted = silent[0]!;
  const clients: RawClient[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await RawClient.connect(server.wsUrl, undefined, from('192.0.2.7'));
    t.equal((await c.request(hello(token)))['t'], 'ok', `authenticated client ${i + 1} of maxConnections (4) gets in`);
    clients.push(c);
  }
  t.match(await evicted.next((f) => f['t'] === 'bye'), { code: 4001, reconnect: true }, 'the longest-waiting silent socket was evicted');
  t.equal((await evicted.waitClosed()).code, 4001);
  t.equal(server.broker.sessions.size, 4 + 5, 'four authenticated and five silent ones (one evicted; capped at 6 waiting)');
  await t.rejects(RawClient.connect(server.wsUrl, undefined, from('192.0.2.8')), /Unexpected server response: 503/, 'maxConnections counts authenticated connections');
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const metrics = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
  t.match(metrics, /^tidings_connections_refused_total 2$/m, 'both refused upgrades counted: the per-address 429 and the 503');
  clients[0]!.close();
  await clients[0]!.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const late = await RawClient.connect(server.wsUrl, undefined, from('192.0.2.8'));
  t.equal((await late.request(hello(token)))['t'], 'ok', 'a freed slot is usable again');
  for (const c of [...silent, ...clients, late]) c.close();
});

// uWebSockets.js receives a frame whole before the server sees it: a peer awaiting hello may have
// up to 2 × maxFrameBytes of one buffered (docs/configuration.md, server.maxPendingHellos). That
// holds only while eviction and the hello deadline reach a socket in the middle of a frame too.
t.test('hardening - a socket awaiting hello in the middle of a large frame is evicted, and timed out, like a silent one', async (t) => {
  const server = await startServer(t, { config: { server: { maxPendingHellos: 1, helloTimeoutMs: 300 } } });
  const { port } = new URL(server.wsUrl);
  const midFrame = async (): Promise<{ closeCode: Promise<number | undefined> }> => {
    const socket = connectTcp(Number(port), '127.0.0.1');
    t.teardown(() => socket.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => { received = Buffer.concat([received, chunk]); });
    await waitFor('the upgrade', () => received.includes('\r\n\r\n'));
    t.match(received.toString('latin1'), /^HTTP\/1\.1 101/);
    // A masked binary frame declaring 512 KiB (half of maxFrameBytes), of which 256 KiB are sent.
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(512n * 1024n, 2);
    socket.write(Buffer.concat([header, Buffer.alloc(256 * 1024, 0x61)]));
    return { closeCode: new Promise((resolve) => socket.once('close', () => resolve(serverCloseCode(received.subarray(received.indexOf('\r\n\r\n') + 4))))) };
  };
  const first = await midFrame();
  await waitFor('the first socket awaits hello', () => server.broker.sessions.size === 1);
  const second = await midFrame();
  t.equal(await first.closeCode, 4001, 'the next upgrade evicted the socket in the middle of a frame');
  t.equal(await second.closeCode, 4001, 'and the hello deadline closes one');
  await waitFor('no session is left', () => server.broker.sessions.size === 0);
});

t.test('hardening - per-IP connection cap, and maxConnections reached between upgrade and hello', async (t) => {
  const server = await startServer(t, { config: { server: { maxConnections: 1, maxPendingHellosPerIp: 2, maxConnectionsPerIp: 2, trustedProxyHeader: 'x-forwarded-for' } } });
  const token = await tokenFor(server, scope);
  const a = await RawClient.connect(server.wsUrl, undefined, from('10.1.0.1'));
  const b = await RawClient.connect(server.wsUrl, undefined, from('10.1.0.1'));
  await t.rejects(RawClient.connect(server.wsUrl, undefined, from('10.1.0.1')), /Unexpected server response: 429/, 'third connection from one address');
  t.equal((await a.request(hello(token)))['t'], 'ok');
  const refused = await b.request(hello(token));
  t.match(refused, { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded' } });
  t.match(await b.next((f) => f['t'] === 'bye'), { code: 4004, reconnect: true });
  t.equal((await b.waitClosed()).code, 4004);
  a.close();
});

t.test('hardening - the per-IP cap counts connections that said hello, not only those awaiting it', async (t) => {
  const server = await startServer(t, { config: { server: { maxPendingHellosPerIp: 2, maxConnectionsPerIp: 2, trustedProxyHeader: 'x-forwarded-for' } } });
  const token = await tokenFor(server, scope);
  const open: RawClient[] = [];
  for (let i = 1; i <= 2; i++) {
    const c = await RawClient.connect(server.wsUrl, undefined, from('10.2.0.1'));
    t.equal((await c.request(hello(token)))['t'], 'ok', `connection ${i} of maxConnectionsPerIp (2) says hello`);
    open.push(c);
  }
  // None awaits hello now: only the per-IP cap can refuse the third.
  await t.rejects(RawClient.connect(server.wsUrl, undefined, from('10.2.0.1')), /Unexpected server response: 429/, 'a third from the address is refused at the upgrade');
  const other = await RawClient.connect(server.wsUrl, undefined, from('10.2.0.2'));
  t.equal((await other.request(hello(token)))['t'], 'ok', 'another address is not held back');
  for (const c of [...open, other]) c.close();
});

t.test('hardening - a large frame before hello is refused without being decoded', async (t) => {
  const server = await startServer(t, { config: { server: { maxPreHelloFrameBytes: 2048 }, auth: { maxTokenBytes: 1024 } } });
  // A map declaring 4 entries: id, t, a 64 KiB binary, then the reserved byte 0xc1 as a key. Decoded,
  // it would be BAD_REQUEST_ERROR (not msgpack); refused on size, it never is.
  const head = encodeFrame({ id: 7, t: 'hello' });
  const tail = [0xa3, 0x70, 0x61, 0x64, 0xc6, 0x00, 0x01, 0x00, 0x00]; // "pad": bin32 of 65536 bytes
  const frame = new Uint8Array(head.length + tail.length + 65536 + 1);
  frame.set(head, 0);
  frame[0] = 0x84; // fixmap of 4 entries instead of 2
  frame.set(tail, head.length);
  frame[frame.length - 1] = 0xc1; // the fourth key: a byte msgpack never uses
  const c = await RawClient.connect(server.wsUrl);
  c.sendRaw(frame);
  const reply = await c.next((f) => f['t'] === 'err');
  t.match(reply, { id: 7, e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'frame_size_limit_exceeded', message: /before hello/ } }, 'answered by id, read without decoding');
  t.match(await c.next((f) => f['t'] === 'bye'), { code: 4503, reconnect: false });
  t.equal((await c.waitClosed()).code, 4503);
  const ok = await RawClient.open(server, await tokenFor(server, scope));
  const after = await ok.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'y'.repeat(4096) });
  t.equal(after['t'], 'ok', 'after hello the normal frame limit applies');
  ok.close();
});

t.test('hardening - the longest token the server mints fits its WebSocket hello (default limits)', async (t) => {
  const server = await startServer(t);
  const { maxTokenBytes, maxPermissions } = server.config.auth;
  // The widest scope (maxPermissions long topic prefixes) that still mints: a token just under auth.maxTokenBytes.
  let token: string | undefined;
  for (let width = 1000; !token && width > 0; width -= 10) {
    const wide = { permissions: Array.from({ length: maxPermissions }, (_, i) => ({ role: 'publishsubscribe', cache: 'chat', topic: { namePrefix: `${i}`.padEnd(width, 'p') } })) };
    token = await tokenFor(server, wide as never).catch(() => undefined);
  }
  t.ok(token && token.length > maxTokenBytes - 512, `a ${token?.length}-byte token was minted`);
  const c = await RawClient.open(server, token!);
  t.equal(c.hello?.['connectionId'] !== undefined, true, 'its hello was accepted');
  t.equal((await c.request({ t: 'ping' }))['t'], 'ok', 'and the connection serves');
  c.close();
});

t.test('hardening - connections per tokenId, request rates per connection and per tokenId', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, {
    clock,
    config: { limits: { maxConnectionsPerTokenId: 2, connectionOpsPerSec: 1, connectionOpsBurst: 3, tokenIdOpsPerSec: 1, tokenIdOpsBurst: 5 } },
  });
  const alice = await tokenFor(server, scope, { tokenId: 'alice' });
  const a1 = await RawClient.open(server, alice);
  const a2 = await RawClient.open(server, alice);
  const a3 = await RawClient.connect(server.wsUrl);
  t.match(await a3.request(hello(alice)), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded', message: /alice/ } });
  t.equal((await a3.waitClosed()).code, 4503);
  // The refused hello was never counted, so its close frees nothing: the next one is refused too.
  const a4 = await RawClient.connect(server.wsUrl);
  t.match(await a4.request(hello(alice)), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'connections_limit_exceeded' } }, 'a refused hello frees no slot');
  t.equal((await a4.waitClosed()).code, 4503);
  // Credentials without a tokenId are not counted together (docs/configuration.md).
  const anonymous = await tokenFor(server, scope);
  const tokenless = [await RawClient.open(server, anonymous), await RawClient.open(server, anonymous), await RawClient.open(server, anonymous)];
  t.equal(tokenless.length, 3, 'three connections of credentials without tokenId, past the bound of 2');
  for (const c of tokenless) c.close();

  // The connection bucket (3) empties first on a1.
  for (let i = 0; i < 3; i++) t.equal((await a1.request({ t: 'ping' }))['t'], 'ok');
  t.match(await a1.request({ t: 'ping' }), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded', message: /this connection/ } });
  // a2 has its own connection bucket but shares alice's (5, 3 spent): two more, then the tokenId's limit.
  for (let i = 0; i < 2; i++) t.equal((await a2.request({ t: 'ping' }))['t'], 'ok');
  t.match(await a2.request({ t: 'ping' }), { t: 'err', e: { cause: 'operations_rate_limit_exceeded', message: /tokenId "alice"/ } });
  clock.advance(1000);
  t.equal((await a2.request({ t: 'ping' }))['t'], 'ok', 'one second refills one request');
  a1.close();
  await a1.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  const again = await RawClient.open(server, alice);
  t.ok(again, 'a closed connection frees its tokenId slot');
  for (const c of [a2, again]) c.close();
});

// A repeat of a remembered write was answered before the request was charged or counted: a
// connection repeating one idempotencyKey sent requests past its rate without end.
t.test('hardening - a repeat of an idempotent write is charged to the request rate like any request', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { limits: { connectionOpsPerSec: 1, connectionOpsBurst: 3 } } });
  const client = await RawClient.open(server, await tokenFor(server, scope));
  t.teardown(() => client.close());
  const pub = { t: 'pub', cache: 'chat', topic: 'room', value: 'once', idempotencyKey: 'k-1' };
  const first = await client.ok(pub);
  for (let i = 0; i < 2; i++) t.same(await client.ok(pub), first, 'a repeat within the burst gets the first result');
  t.match(await client.request(pub), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded' } }, 'the burst spent, a repeat is refused too');
  clock.advance(1000);
  t.same(await client.ok(pub), first, 'one second refills one request');
});

// An unknown operation, or an idempotencyKey on a write that takes none, was refused before the
// request was charged: a connection sending either was answered without end, past its rate.
t.test('hardening - requests refused for their operation or their idempotencyKey are charged to the request rate', async (t) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { clock, config: { limits: { connectionOpsPerSec: 1, connectionOpsBurst: 3 } } });
  const client = await RawClient.open(server, await tokenFor(server, scope));
  t.teardown(() => client.close());
  t.match(await client.request({ t: 'nosuchop' }), { t: 'err', e: { code: 'BAD_REQUEST_ERROR', message: /unknown operation/ } });
  t.match(await client.request({ t: 'hello', versions: [1], token: 'x' }), { t: 'err', e: { code: 'BAD_REQUEST_ERROR' } }, 'a second hello');
  t.match(await client.request({ t: 'unsub', cache: 'chat', topic: 'room', idempotencyKey: 'k' }), { t: 'err', e: { code: 'INVALID_ARGUMENT_ERROR', message: /idempotencyKey/ } });
  t.match(await client.request({ t: 'nosuchop' }), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'operations_rate_limit_exceeded' } }, 'three refusals spent the burst');
  clock.advance(1000);
  t.equal((await client.request({ t: 'ping' }))['t'], 'ok', 'one second refills one request');
});

// Engine redis: a write is in flight for a round trip to Redis (up to redis.commandTimeoutMs). Its
// repeats waited for it uncounted, and frames reusing its id were refused uncharged, so one
// connection could pile up, or have answered, any number of them meanwhile.
t.test('hardening - requests meeting a write in flight (its repeats, its id reused) are counted and charged [redis]', async (t) => {
  if (!requireRedis(t)) return;
  const { prefix, proxy } = await proxiedRedis(t, 'repeats');
  const held = proxy.holdRequests((chunk) => chunk.includes('k-held'));
  const server = await startServer(t, {
    engine: 'redis', redisUrl: `redis://127.0.0.1:${proxy.port}`, redisKeyPrefix: prefix,
    config: { server: { maxPendingRequests: 2 }, limits: { connectionOpsPerSec: 1, connectionOpsBurst: 4 } },
  });
  const client = await RawClient.open(server, await tokenFor(server, scope));
  t.teardown(() => client.close());
  const pub = { t: 'pub', cache: 'chat', topic: 'room', value: 'once', idempotencyKey: 'k-held' };
  const firstId = client.send(pub);
  const first = client.next((f) => f['t'] === 'ok' && f['id'] === firstId);
  const index = await held;
  const repeat = client.request(pub);
  t.match(await client.request(pub), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'pending_requests_limit_exceeded' } }, 'the write and one repeat are in flight: a second repeat is refused');
  // The write and its repeat took 2 of the burst of 4: two frames reusing its id take the rest.
  for (let i = 0; i < 6; i++) client.send({ t: 'ping', id: firstId });
  const reused: Frame[] = [];
  for (let i = 0; i < 6; i++) reused.push(await client.next((f) => f['t'] === 'err' && f['id'] === firstId));
  t.match(reused[0], { e: { code: 'INVALID_ARGUMENT_ERROR', message: /still in flight/ } }, 'a frame reusing the id of a request in flight is refused');
  t.ok(reused.slice(2).every((f) => f['e']['cause'] === 'operations_rate_limit_exceeded'), 'and charged: past the burst it is refused over the rate');
  proxy.releaseRequests(index);
  const [a, b] = await Promise.all([first, repeat]);
  t.ok(a['r']['seq'], 'the write is answered once Redis is');
  t.same(b['r'], a['r'], 'and its waiting repeat with the same result');
});

t.test('hardening - subscriptions per tokenId: one user cannot pin every topic of the server by opening many connections', async (t) => {
  const server = await startServer(t, { config: { topics: { maxSubscriptionsPerConnection: 4 }, limits: { maxSubscriptionsPerTokenId: 6 } } });
  const mallory = await tokenFor(server, scope, { tokenId: 'mallory' });
  const [m1, m2] = [await RawClient.open(server, mallory), await RawClient.open(server, mallory)];
  const alice = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'alice' }));
  const anonymous = await RawClient.open(server, await tokenFor(server, scope));
  t.teardown(() => { for (const c of [m1, m2, alice, anonymous]) c.close(); });
  for (let i = 0; i < 4; i++) await m1.ok({ t: 'sub', cache: 'chat', topic: `m1-${i}` });
  for (let i = 0; i < 2; i++) await m2.ok({ t: 'sub', cache: 'chat', topic: `m2-${i}` });
  t.match(await m2.request({ t: 'sub', cache: 'chat', topic: 'm2-2' }), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'topic_subscriptions_limit_exceeded', message: /tokenId "mallory"/ } }, 'the tokenId\'s seventh subscription is refused, on any of its connections');
  for (let i = 0; i < 4; i++) await alice.ok({ t: 'sub', cache: 'chat', topic: `m1-${i}` });
  t.pass('another tokenId subscribes as before');
  for (let i = 0; i < 4; i++) await anonymous.ok({ t: 'sub', cache: 'chat', topic: `a-${i}` });
  t.pass('a credential without tokenId has only the per-connection bound');
  await m1.ok({ t: 'unsub', cache: 'chat', topic: 'm1-0' });
  await m2.ok({ t: 'sub', cache: 'chat', topic: 'm2-2' });
  t.pass('an unsubscribe gives the slot back');
  t.match(await m2.request({ t: 'sub', cache: 'chat', topic: 'm2-3' }), { t: 'err', e: { cause: 'topic_subscriptions_limit_exceeded' } });
  m1.close();
  await m1.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  await m2.ok({ t: 'sub', cache: 'chat', topic: 'm2-3' });
  t.pass('a closed connection gives its subscriptions back');
  // Over SSE the streams of the tokenId count too.
  const sse = await fetch(`${server.httpUrl}/v1/sse?cache=chat&topic=s-1&topic=s-2&topic=s-3`, { headers: { authorization: `Bearer ${mallory}` } });
  t.match({ status: sse.status, ...(await sse.json()) }, { status: 429, error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'topic_subscriptions_limit_exceeded' } }, 'an SSE stream past the tokenId\'s bound is refused');
  const m3 = await RawClient.open(server, mallory);
  t.teardown(() => m3.close());
  for (let i = 0; i < 2; i++) await m3.ok({ t: 'sub', cache: 'chat', topic: `m3-${i}` });
  t.pass('and the subscriptions it made before the refusal were given back');
});

t.test('hardening - moderator group memberships per tokenId: one user cannot take every group of the server', async (t) => {
  const server = await startServer(t, { config: { moderation: { maxGroupsPerConnection: 3 }, limits: { maxGroupsPerTokenId: 4 } } });
  const mallory = await tokenFor(server, scope, { tokenId: 'mallory' });
  const [m1, m2] = [await RawClient.open(server, mallory), await RawClient.open(server, mallory)];
  const alice = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'alice' }));
  t.teardown(() => { for (const c of [m1, m2, alice]) c.close(); });
  const gsub = (c: RawClient, group: string) => c.request({ t: 'gsub', cache: 'chat', group, pattern: { nameSuffix: `-${group}` } });
  for (let i = 0; i < 3; i++) t.equal((await gsub(m1, `a${i}`))['t'], 'ok');
  t.equal((await gsub(m2, 'b0'))['t'], 'ok');
  t.match(await gsub(m2, 'b1'), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'groups_limit_exceeded', message: /tokenId "mallory"/ } }, 'the tokenId\'s fifth membership is refused, on any of its connections');
  t.equal((await gsub(alice, 'a0'))['t'], 'ok', 'another tokenId joins as before');
  await m1.ok({ t: 'gunsub', cache: 'chat', group: 'a0' });
  t.match(await gsub(m2, 'b0'), { t: 'err', e: { code: 'ALREADY_EXISTS_ERROR' } }, 'a join refused for another reason counts nothing');
  t.equal((await gsub(m2, 'b1'))['t'], 'ok', 'a gunsub gives the slot back');
  t.match(await gsub(m2, 'b2'), { t: 'err', e: { cause: 'groups_limit_exceeded' } });
  m1.close();
  await m1.waitClosed();
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await gsub(m2, 'b2'))['t'], 'ok', 'a closed connection gives its memberships back');
  const m3 = await RawClient.open(server, mallory);
  t.teardown(() => m3.close());
  t.equal((await gsub(m3, 'c0'))['t'], 'ok', 'every one of them (it held two)');
  t.match(await gsub(m3, 'c1'), { t: 'err', e: { cause: 'groups_limit_exceeded' } });
});

// On both engines: with Redis a gunsub's leave is a round trip, and the connection's close can come
// first. The close uncounts every membership it lists; the gunsub that ends afterwards must not
// uncount its own again, or each gunsub-and-close takes one more from what the tokenId's other
// connections hold, until they hold more than limits.maxGroupsPerTokenId.
testEachEngine('hardening - a gunsub overtaken by its connection\'s close uncounts the membership once', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { maxGroupsPerConnection: 3 }, limits: { maxGroupsPerTokenId: 2 } } });
  const mallory = await tokenFor(server, scope, { tokenId: 'mallory' });
  const stays = await RawClient.open(server, mallory);
  t.teardown(() => stays.close());
  const gsub = (c: RawClient, group: string) => c.request({ t: 'gsub', cache: 'chat', group, pattern: { nameSuffix: `-${group}` } });
  t.equal((await gsub(stays, 'a0'))['t'], 'ok');
  for (let i = 0; i < 3; i++) {
    const leaving = await RawClient.open(server, mallory);
    t.equal((await gsub(leaving, `c${i}`))['t'], 'ok');
    const session = server.broker.sessions.get(leaving.hello!['connectionId'] as string)!;
    leaving.send({ t: 'gunsub', cache: 'chat', group: `c${i}` });
    leaving.ws.terminate();
    await waitFor('the close and the gunsub were both handled', () => session.state === 'closed' && session.pending === 0 && session.groups?.size === 0);
  }
  t.equal((await gsub(stays, 'a1'))['t'], 'ok', 'the tokenId\'s second membership');
  t.match(await gsub(stays, 'a2'), { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'groups_limit_exceeded' } }, 'its third is refused');
  t.match(await gsub(stays, 'a1'), { t: 'err', e: { code: 'ALREADY_EXISTS_ERROR' } }, 'a second join at the bound is what it is: it would make no membership, so it counts none');
});

// On both engines: Redis checks the total in the publish's own script (moderation-scripts.ts FED_PUBLISH).
testEachEngine('hardening - the server-wide moderation buffer budget', async (t, engine) => {
  const server = await startServer(t, { engine, config: { moderation: { bufferBytes: 100, totalBufferBytes: 150 } } });
  const moderator = await RawClient.open(server, await tokenFor(server, PermissionScopes.combine(PermissionScopes.moderator('a'), PermissionScopes.moderator('b'))));
  for (const cache of ['a', 'b']) {
    await moderator.ok({ t: 'gsub', cache, group: 'mods', pattern: { nameSuffix: '-input' } });
    await moderator.ok({ t: 'gunsub', cache, group: 'mods' });
  }
  const user = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicPublishSubscribe('*', '*')));
  t.equal((await user.request({ t: 'pub', cache: 'a', topic: 'room-input', value: 'x'.repeat(80) }))['t'], 'ok', 'fits group a (80 of 100) and the server (80 of 150)');
  const refused = await user.request({ t: 'pub', cache: 'b', topic: 'room-input', value: 'x'.repeat(80) });
  // The message names the total budget (150): a group's own refusal names the group, not bytes.
  t.match(refused, { t: 'err', e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'group_buffer_limit_exceeded', message: /maximum of 150 unassigned bytes/ } }, 'fits group b alone, not the server');
  t.equal((await user.request({ t: 'pub', cache: 'b', topic: 'room-input', value: 'x'.repeat(60) }))['t'], 'ok', 'a smaller one still fits');
  moderator.close();
  user.close();
});

t.test('hardening - a token with less than expiryNoticeMs left gets token_expiring right after hello', async (t) => {
  const server = await startServer(t, { config: { auth: { expiryNoticeMs: 30_000 } } });
  const c = await RawClient.connect(server.wsUrl);
  const reply = await c.request(hello(await tokenFor(server, scope, { expiresInSec: 10 })));
  t.equal(reply['t'], 'ok');
  const notice = await c.next((f) => f['t'] === 'notice', 10_000);
  t.equal(notice['kind'], 'token_expiring');
  t.ok(notice['inMs'] > 0 && notice['inMs'] <= 10_000, `inMs is what is left (${notice['inMs']})`);
  c.close();
});

t.test('hardening - a peer that stops answering pings is dropped after server.idleTimeoutSec; a quiet one that answers stays', async (t) => {
  const server = await startServer(t, { config: { server: { idleTimeoutSec: 8 } } });
  const token = await tokenFor(server, scope);
  const [gone, quiet] = [await RawClient.open(server, token), await RawClient.open(server, token)];
  t.teardown(() => { for (const c of [gone, quiet]) c.ws.terminate(); });
  // Not read, the server's pings go unanswered; the other client sends nothing but answers them (ws does).
  (gone.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const open = (c: RawClient) => server.broker.sessions.has(c.hello!['connectionId'] as string);
  await waitFor('the unresponsive connection to be dropped', () => !open(gone), 60_000);
  t.ok(open(quiet), 'the quiet connection, silent as long, is still open');
  t.equal((await quiet.request({ t: 'ping' }))['t'], 'ok', 'and serves');
});

t.test('hardening - a second server on a busy port fails with a clear message; reusePort shares it', async (t) => {
  // A fixed port: uWS cannot share a port the kernel picked for port 0 even with SO_REUSEPORT.
  const port = await freePort();
  const config = (reusePort: boolean) => ({ logLevel: 'silent' as const, server: { port, reusePort }, auth: { signingKeys: [generateSigningKey()] } });
  const first = await createServer({ config: config(false) }, defaultFeatures());
  t.teardown(() => first.close());
  await t.rejects(createServer({ config: config(false) }, defaultFeatures()), /could not listen on 127\.0\.0\.1:\d+: the port is in use/);
  t.equal((await fetch(`${first.httpUrl}/healthz`)).status, 200, 'the first server still serves');
  await first.close();

  const sharedPort = await freePort();
  const shared = (k: boolean) => ({ ...config(k), server: { port: sharedPort, reusePort: k } });
  const a = await createServer({ config: shared(true) }, defaultFeatures());
  t.teardown(() => a.close());
  const b = await createServer({ config: shared(true) }, defaultFeatures());
  t.equal(b.port, a.port, 'both asked for sharing: the second starts');
  await b.close();
});

t.test('hardening - /metrics needs an admin API key unless open', async (t) => {
  const server = await startServer(t);
  t.equal((await fetch(`${server.httpUrl}/metrics`)).status, 401);
  const narrow = (await server.auth.mintApiKey({ scope, expiresInSec: null })).token;
  const refused = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${narrow}` } });
  t.equal(refused.status, 403);
  t.match(await refused.json(), { error: { code: 'PERMISSION_ERROR' } });
  const disposable = await tokenFor(server, PermissionScopes.allDataReadWrite());
  t.equal((await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${disposable}` } })).status, 403, 'a disposable token is not an API key');
  const admin = (await server.auth.mintApiKey({ scope: PermissionScopes.allDataReadWrite(), expiresInSec: null })).token;
  const ok = await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
  t.equal(ok.status, 200);
  t.match(await ok.text(), /^tidings_connections 0$/m);
  await server.revoke({ token: admin });
  t.equal((await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).status, 401, 'a revoked admin key no longer scrapes');
  const open = await startServer(t, { config: { server: { metricsAccess: 'open' } } });
  t.equal((await fetch(`${open.httpUrl}/metrics`)).status, 200);
});
