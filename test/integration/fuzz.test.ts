/** Property-based fuzzing of the wire protocol against a real server over real WebSockets (fast-check).
 * Random bytes, random msgpack values and random valid-ish requests go to an authenticated
 * connection and to connections that never said hello. Properties: the server never crashes; every
 * request with a usable id gets exactly one `ok` or `err` with that id; every error carries a code
 * from the stable table (and a known cause), never INTERNAL_SERVER_ERROR; the server keeps serving.
 * TIDINGS_FUZZ_RUNS sets the number of cases (default small for CI; e.g. 20000 for a long run). */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { ErrorCode, LimitCause, PermissionScopes, encodeFrame } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';

const RUNS = Number(process.env['TIDINGS_FUZZ_RUNS'] ?? 150);
const CODES = new Set<string>(Object.values(ErrorCode));
const CAUSES = new Set<string>(Object.values(LimitCause));
const OPS = [
  'hello', 'auth', 'ping', 'pub', 'sub', 'unsub', 'gsub', 'gunsub', 'accept', 'reject', 'nack', 'retract', 'pubAppend',
  'get', 'set', 'delete', 'itemGetTtl', 'updateTtl', 'listFetch', 'listLength', 'listPushBack', 'listPushFront',
  'listConcatenateBack', 'listConcatenateFront', 'listPopBack', 'listPopFront', 'listRemoveValue', 'listRetain',
];

// Field values a handler might choke on: good names, bad names, wrong types, edge numbers.
const name = fc.oneof(fc.constantFrom('chat', 'room-1', 'room-1-input', 'k', 'l'), fc.string({ maxLength: 12 }), fc.constantFrom('', ' ', '\u0000', 'x'.repeat(300)));
const number = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, -(2 ** 31), 1.5, NaN, Infinity), fc.nat());
const value = fc.oneof(fc.string({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), number, fc.constant(null), fc.boolean(), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }));
const field = fc.oneof(name, value, fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 3 }));
const request = fc.record({
  t: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...OPS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    // Names every object inherits: a handler table must not find them (a long run found `valueOf`).
    { weight: 1, arbitrary: fc.constantFrom('valueOf', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 'isPrototypeOf') },
  ),
  cache: name, topic: name, list: name, key: name, group: name, value, values: fc.array(value, { maxLength: 4 }),
  ttlMs: number, startIndex: number, endIndex: number, truncateFrontToSize: number, delivery: number, maxInFlight: number,
  after: fc.oneof(fc.record({ page: number, seq: number }), value), pattern: fc.oneof(fc.record({ nameSuffix: name }), fc.record({ namePrefix: name }), value),
  target: fc.oneof(fc.record({ page: number, seq: number }), value), token: fc.oneof(fc.string({ maxLength: 40 }), value), extra: field,
}, { requiredKeys: ['t'] });

/** One case: a batch of frames. A request frame carries the id the test assigns. */
type Sent = { kind: 'request'; frame: Frame } | { kind: 'raw'; bytes: Uint8Array };
const batch = fc.array(fc.oneof(
  { weight: 6, arbitrary: request.map((frame): Sent => ({ kind: 'request', frame })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 96 }).map((bytes): Sent => ({ kind: 'raw', bytes })) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }).map((v): Sent => ({ kind: 'raw', bytes: encodeFrame(v as object) })) },
), { minLength: 1, maxLength: 8 });

function checkError(t: Test, reply: Frame): boolean {
  const e = reply['e'] as { code?: unknown; cause?: unknown; message?: unknown } | undefined;
  const ok = !!e && typeof e.code === 'string' && CODES.has(e.code) && e.code !== 'INTERNAL_SERVER_ERROR'
    && typeof e.message === 'string' && (e.cause === undefined || (typeof e.cause === 'string' && CAUSES.has(e.cause)));
  if (!ok) t.fail(`unexpected error shape ${JSON.stringify(reply)}`);
  return ok;
}

t.test('fuzz - random and malformed frames on an authenticated connection', async (t) => {
  // One connection takes every case: the close after limits.maxMalformedFrames (refused-traffic.test.ts) is out of the way.
  const server = await startServer(t, { config: { topics: { maxSubscriptionsPerConnection: 100_000 }, limits: { maxMalformedFrames: 1_000_000 } } });
  const broad = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.moderator('chat'));
  const token = await tokenFor(server, broad, { tokenId: 'fuzzer' });
  const c = await RawClient.open(server, token);
  let nextId = 1_000_000_000;
  let requests = 0;
  const replies = new Map<number, number>();
  await fc.assert(fc.asyncProperty(batch, async (frames) => {
    const expected: number[] = [];
    for (const sent of frames) {
      if (sent.kind === 'request') {
        const id = nextId++;
        expected.push(id);
        c.sendRaw(encodeFrame({ ...sent.frame, id }));
      } else {
        c.sendRaw(sent.bytes);
      }
    }
    requests += expected.length;
    for (const id of expected) {
      const reply = await c.next((f) => (f['t'] === 'ok' || f['t'] === 'err') && f['id'] === id, 5000);
      replies.set(id, (replies.get(id) ?? 0) + 1);
      if (reply['t'] === 'err' && !checkError(t, reply)) return false;
    }
    // Replies to raw frames (id null, or whatever id random bytes decoded to) must be typed too.
    for (const f of c.frames.splice(0)) {
      if (f['t'] === 'err' && !checkError(t, f)) return false;
      if ((f['t'] === 'ok' || f['t'] === 'err') && typeof f['id'] === 'number' && f['id'] >= 1_000_000_000) {
        t.fail(`a second reply for request ${f['id']}: ${JSON.stringify(f)}`);
        return false;
      }
    }
    return c.closed === undefined;
  }), { numRuns: RUNS });
  await new Promise((r) => setTimeout(r, 100));
  for (const f of c.frames) {
    if ((f['t'] === 'ok' || f['t'] === 'err') && typeof f['id'] === 'number' && f['id'] >= 1_000_000_000) t.fail(`late duplicate reply ${JSON.stringify(f)}`);
  }
  t.ok([...replies.values()].every((n) => n === 1), `${requests} requests in ${RUNS} cases, each answered once`);
  t.equal(c.closed, undefined, 'the fuzzed connection is still open');
  const fresh = await RawClient.open(server, await tokenFor(server, broad));
  t.same(await fresh.ok({ t: 'ping' }), {}, 'the server still serves new connections');
  c.close();
  fresh.close();
});

t.test('fuzz - random frames before hello: typed refusals and closes, nothing else', async (t) => {
  const server = await startServer(t);
  const preHelloRuns = Math.max(10, Math.floor(RUNS / 5));
  const closeCodes = new Set([4500, 4502, 4503]);
  await fc.assert(fc.asyncProperty(batch, async (frames) => {
    const c = await RawClient.connect(server.wsUrl);
    let id = 1;
    for (const sent of frames) {
      if (sent.kind === 'request') c.sendRaw(encodeFrame({ ...sent.frame, ...(sent.frame['t'] === 'hello' ? { versions: [1] } : {}), id: id++ }));
      else c.sendRaw(sent.bytes);
    }
    // Whatever came, the socket either closes with a documented code or stays awaiting hello.
    const closed = await c.waitClosed(150).catch(() => undefined);
    c.close();
    for (const f of c.frames) if (f['t'] === 'err' && !checkError(t, f)) return false;
    if (closed && !closeCodes.has(closed.code)) { t.fail(`closed with ${closed.code}`); return false; }
    return true;
  }), { numRuns: preHelloRuns });
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('chat', '*'));
  const fresh = await RawClient.open(server, token);
  t.same(await fresh.ok({ t: 'ping' }), {}, `still serving after ${preHelloRuns} cases`);
  fresh.close();
});
