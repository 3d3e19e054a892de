import t from 'tap';
import { randomBytes } from 'node:crypto';
import { encode } from 'msgpackr';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PROTOCOL_VERSIONS, PermissionScopes, encodeFrame, createServer, defaultFeatures, MemoryEngine, resolveConfig, systemClock } from '../../src/index.js';

const scope = PermissionScopes.topicPublishSubscribe('chat', '*');

t.test('malformed - undecodable and ill-typed frames get typed errors; the connection and server stay up', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const errNull = () => c.next((f) => f['t'] === 'err' && f['id'] === null);

  c.sendRaw(new Uint8Array([0xc1]));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR' }, 'reserved msgpack byte');
  c.sendRaw(new Uint8Array([0x92, 0x01]));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /not valid msgpack/ }, 'truncated msgpack');
  c.sendRaw(encode([1, 2, 3]));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /map/ }, 'an array is not a frame');
  c.sendRaw(encode('just a string'));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /map/ }, 'a scalar is not a frame');
  c.sendRaw(encode(new Uint8Array([0x81, 0xa1, 0x74])));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /map/ }, 'nor is a bin, whatever bytes it holds');
  c.sendRaw('{"t":"pub"}');
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /binary/ }, 'text frames are refused');
  c.sendRaw(encode({ t: 'pub', cache: 'chat' }));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /id/ }, 'no id');
  c.sendRaw(encode({ t: 'pub', id: -4 }));
  t.match((await errNull())['e'], { code: 'BAD_REQUEST_ERROR', message: /id/ }, 'negative id');
  for (let i = 0; i < 50; i++) c.sendRaw(randomBytes(1 + (i * 37) % 200));

  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ t: 42 }, 'BAD_REQUEST_ERROR', /string t/],
    [{ t: 'frobnicate' }, 'BAD_REQUEST_ERROR', /unknown operation "frobnicate"/],
    [{ t: 'pub', cache: 'chat', topic: 'x' }, 'INVALID_ARGUMENT_ERROR', /value must be a string/],
    [{ t: 'pub', cache: 'chat', topic: 'x', value: 12 }, 'INVALID_ARGUMENT_ERROR', /value/],
    [{ t: 'pub', cache: 'chat', topic: 'x', value: { a: 1 } }, 'INVALID_ARGUMENT_ERROR', /value/],
    [{ t: 'pub', cache: 7, topic: 'x', value: 'v' }, 'INVALID_ARGUMENT_ERROR', /cache: cache name must be a string/],
    [{ t: 'pub', cache: '', topic: 'x', value: 'v' }, 'INVALID_ARGUMENT_ERROR', /blank/],
    [{ t: 'pub', cache: 'chat', topic: '   ', value: 'v' }, 'INVALID_ARGUMENT_ERROR', /blank/],
    [{ t: 'pub', cache: 'chat', topic: 'a\u0000b', value: 'v' }, 'INVALID_ARGUMENT_ERROR', /control characters/],
    [{ t: 'pub', cache: 'chat', topic: 'a\u007fb', value: 'v' }, 'INVALID_ARGUMENT_ERROR', /control characters/],
    [{ t: 'pub', cache: 'chat', topic: 'y'.repeat(256), value: 'v' }, 'INVALID_ARGUMENT_ERROR', /255 bytes/],
    [{ t: 'sub', cache: 'chat', topic: 'x', after: 'yesterday' }, 'INVALID_ARGUMENT_ERROR', /after/],
    [{ t: 'sub', cache: 'chat', topic: 'x', after: { page: 1, seq: -1 } }, 'INVALID_ARGUMENT_ERROR', /seq/],
    [{ t: 'sub', cache: 'chat', topic: 'x', after: { page: 1 } }, 'INVALID_ARGUMENT_ERROR', /after must be \{ page, seq \}/],
    [{ t: 'accept', delivery: 1, keep: 2 ** 40 }, 'INVALID_ARGUMENT_ERROR', /keep must be an integer from 1 to \d+/],
    [{ t: 'hello', versions: [1], token: 'x' }, 'BAD_REQUEST_ERROR', /already/],
  ];
  for (const [frame, code, message] of cases) {
    const reply = await c.request(frame);
    t.match(reply, { t: 'err', e: { code, message } }, `${JSON.stringify(frame).slice(0, 60)} -> ${code}`);
  }
  const oversized = await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'z'.repeat(server.config.topics.maxValueBytes + 1) });
  t.match(oversized['e'], { code: 'LIMIT_EXCEEDED_ERROR', cause: 'value_size_limit_exceeded' });
  const bigBinary = await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: new Uint8Array(server.config.topics.maxValueBytes + 1) });
  t.match(bigBinary['e'], { code: 'LIMIT_EXCEEDED_ERROR', cause: 'value_size_limit_exceeded' });
  // Text counts in UTF-8 bytes, not characters: a third as many three-byte characters is over.
  const euros = Math.floor(server.config.topics.maxValueBytes / 3);
  const wideText = await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: '€'.repeat(euros + 1) });
  t.match(wideText['e'], { code: 'LIMIT_EXCEEDED_ERROR', cause: 'value_size_limit_exceeded' }, `${euros + 1} three-byte characters are over maxValueBytes`);
  t.equal((await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: '€'.repeat(euros) }))['t'], 'ok', `${euros} fit`);

  // The name bound is inclusive, in UTF-8 bytes: a surrogate pair is one 4-byte character.
  t.equal((await c.request({ t: 'pub', cache: 'chat', topic: 'y'.repeat(255), value: 'v' }))['t'], 'ok', 'a name of 255 bytes fits');
  t.equal((await c.request({ t: 'pub', cache: 'chat', topic: '\u{1F600}'.repeat(63), value: 'v' }))['t'], 'ok', 'a name of 63 emoji (252 bytes) fits');
  t.same(await c.ok({ t: 'ping' }), {}, 'the connection still works after all that');
  t.equal(c.closed, undefined);
});

t.test('malformed - oversized frames: typed error up to twice the limit, dropped beyond; the server stays up', async (t) => {
  const server = await startServer(t, { config: { server: { maxFrameBytes: 16 * 1024, maxPreHelloFrameBytes: 9 * 1024 }, auth: { maxTokenBytes: 8 * 1024 }, topics: { maxValueBytes: 8 * 1024 } } });
  const token = await tokenFor(server, scope);
  const c = await RawClient.open(server, token);
  t.same(c.hello!['limits'], { maxFrameBytes: 16 * 1024, maxValueBytes: 8 * 1024, maxSubscriptions: server.config.topics.maxSubscriptionsPerConnection }, 'hello names the limits this server applies');
  // The limit itself is allowed: only a frame larger than it is refused (a field the operation does not read pads it).
  const exact = (bytes: number) => {
    let pad = 'p'.repeat(bytes);
    for (let size = encodeFrame({ t: 'ping', id: 5, pad }).byteLength; size !== bytes; size = encodeFrame({ t: 'ping', id: 5, pad }).byteLength) pad = 'p'.repeat(pad.length - (size - bytes));
    return encodeFrame({ t: 'ping', id: 5, pad });
  };
  c.sendRaw(exact(16 * 1024));
  t.match(await c.next((f) => f['id'] === 5), { t: 'ok' }, 'a frame of exactly server.maxFrameBytes is served');
  c.sendRaw(encodeFrame({ t: 'pub', id: 7, cache: 'chat', topic: 'x', value: 'q'.repeat(20 * 1024) }));
  const reply = await c.next((f) => f['t'] === 'err');
  t.match(reply, { t: 'err', id: 7, e: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'frame_size_limit_exceeded' } }, 'refused before decoding, answered by the id read from the raw bytes');
  c.sendRaw(encodeFrame({ t: 'pub', id: 1, cache: 'chat', topic: 'x', value: 'q'.repeat(40 * 1024) }));
  const closed = await c.waitClosed();
  t.equal(closed.code, 1006, 'past twice the limit the transport drops the connection');
  const other = await RawClient.open(server, token);
  t.same(await other.ok({ t: 'ping' }), {}, 'a new connection is served');
});

t.test('malformed - any request before hello is refused and the socket closed with 4502', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.connect(server.wsUrl);
  const reply = await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'sneaky' });
  t.match(reply['e'], { code: 'AUTHENTICATION_ERROR', message: /first frame must be hello/ });
  t.match(await c.next((f) => f['t'] === 'bye'), { code: 4502, reconnect: false });
  t.equal((await c.waitClosed()).code, 4502);
  // Not even a valid credential in an in-band refresh: hello is what authenticates (and ends the hello deadline).
  const early = await RawClient.connect(server.wsUrl);
  t.match((await early.request({ t: 'auth', token: await tokenFor(server, scope) }))['e'], { code: 'AUTHENTICATION_ERROR', message: /first frame must be hello/ }, 'auth before hello');
  t.equal((await early.waitClosed()).code, 4502);
});

t.test('malformed - a frame that is no request before hello is refused and the socket closed with 4502, as a request is', async (t) => {
  const server = await startServer(t);
  const frames: Array<[string, Uint8Array | string, RegExp]> = [
    ['a text message', '{"t":"hello"}', /binary/],
    ['not msgpack', new Uint8Array([0x92, 0x01]), /not valid msgpack/],
    ['not a map', encode([1, 2, 3]), /map/],
    ['no id', encode({ t: 'hello', versions: [1] }), /id/],
    ['no t', encode({ id: 1, versions: [1] }), /string t/],
  ];
  for (const [what, frame, message] of frames) {
    const c = await RawClient.connect(server.wsUrl);
    c.sendRaw(frame);
    t.match(await c.next((f) => f['t'] === 'err'), { e: { code: 'BAD_REQUEST_ERROR', message } }, `${what}: answered`);
    t.match(await c.next((f) => f['t'] === 'bye'), { code: 4502, reconnect: false }, `${what}: then bye`);
    t.equal((await c.waitClosed()).code, 4502, `${what}: and closed`);
  }
});

t.test('malformed - no common version: error, bye, close 4502', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.connect(server.wsUrl);
  const reply = await c.request({ t: 'hello', versions: [99], token: await tokenFor(server, scope) });
  t.match(reply['e'], { code: 'BAD_REQUEST_ERROR', message: /no common protocol version/ });
  t.ok(String(reply['e']['message']).endsWith(`this server speaks ${JSON.stringify(PROTOCOL_VERSIONS)}`), 'the message names the versions the server speaks');
  t.equal((await c.waitClosed()).code, 4502);
});

t.test('malformed - no hello in time: bye and close 4001', async (t) => {
  const server = await startServer(t, { config: { server: { helloTimeoutMs: 100 } } });
  const c = await RawClient.connect(server.wsUrl);
  t.match(await c.next((f) => f['t'] === 'bye'), { code: 4001, reconnect: true });
  t.equal((await c.waitClosed()).code, 4001);
});

t.test('malformed - the subprotocol tidings.v1 is echoed when offered', async (t) => {
  const server = await startServer(t);
  const c = await RawClient.connect(server.wsUrl, ['tidings.v1']);
  t.equal(c.ws.protocol, 'tidings.v1');
  c.close();
});

t.test('malformed - too many requests in flight get LIMIT_EXCEEDED, not unbounded queues', async (t) => {
  // The memory engine answers within the tick; an engine with network latency (e.g. Redis) does
  // not. This one delays every publish by 50 ms, the way such an engine would.
  class LaggingEngine extends MemoryEngine {
    constructor(options: ConstructorParameters<typeof MemoryEngine>[0]) {
      super(options);
      const publish = this.topics.publish.bind(this.topics);
      this.topics.publish = ((...args: Parameters<typeof publish>) => new Promise((resolve) => setTimeout(() => resolve(publish(...args)), 50))) as unknown as typeof publish;
    }
  }
  const config = resolveConfig({ dev: true, logLevel: 'silent', server: { port: 0, maxPendingRequests: 2 } });
  const server = await createServer({ config: { dev: true, logLevel: 'silent', server: { port: 0, maxPendingRequests: 2 } }, engine: new LaggingEngine({ topics: config.topics, store: config.store, moderation: config.moderation, clock: systemClock }) }, defaultFeatures());
  t.teardown(() => server.close());
  const c = await RawClient.open(server, await tokenFor(server, scope));
  const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => c.request({ t: 'pub', cache: 'chat', topic: 'x', value: `${i}` })));
  const codes = replies.map((r) => (r['t'] === 'ok' ? 'ok' : r['e']['cause']));
  t.same(codes, ['ok', 'ok', 'pending_requests_limit_exceeded', 'pending_requests_limit_exceeded', 'pending_requests_limit_exceeded', 'pending_requests_limit_exceeded']);
  t.equal((await c.request({ t: 'pub', cache: 'chat', topic: 'x', value: 'later' }))['t'], 'ok', 'served again once the first ones are answered');
  // A request that fails asynchronously (an async handler's refusal) is no longer in flight either.
  for (let i = 0; i < 3; i++) {
    t.match(await c.request({ t: 'nack', delivery: 0 }), { t: 'err', e: { code: 'INVALID_ARGUMENT_ERROR', message: /delivery/ } }, `refused request ${i + 1} answers and counts as in flight no more`);
  }

  // An id still in flight may not be reused: the second request is refused, the first answered once.
  c.send({ t: 'pub', id: 900, cache: 'chat', topic: 'x', value: 'first' });
  c.send({ t: 'pub', id: 900, cache: 'chat', topic: 'x', value: 'second' });
  const [a, b] = [await c.next((f) => f['id'] === 900), await c.next((f) => f['id'] === 900)];
  t.match(a, { t: 'err', e: { code: 'INVALID_ARGUMENT_ERROR', message: /still in flight/ } }, 'the reuse is refused at once');
  t.match(b, { t: 'ok' }, 'the first request gets its own answer');
  await new Promise((r) => setTimeout(r, 120));
  t.notOk(c.frames.some((f) => f['id'] === 900), 'and nothing more carries that id');
  t.match(await c.request({ t: 'pub', id: 900, cache: 'chat', topic: 'x', value: 'third' }), { t: 'ok' }, 'once answered, the id is free for a new request');
  // Also when the request's work goes on after its reply (a `sub`'s replay follows its `ok`).
  t.match(await c.request({ t: 'sub', id: 901, cache: 'chat', topic: 'x', after: { page: 0, seq: 0 } }), { t: 'ok' });
  t.match(await c.request({ t: 'ping', id: 901 }), { t: 'ok' }, 'the id of a sub is free once its reply is read');
});
