/** Every request frame the server accepts, with any one known field replaced by a value of another
 * type (number, string, boolean, array, map, bytes, null, a huge string), is refused with
 * INVALID_ARGUMENT_ERROR naming the field (a `token` field: AUTHENTICATION_ERROR, docs/protocol.md);
 * a bad `hello` then gets `bye` and its documented close. Never a crash, a hang, or a request carried
 * out; the server keeps answering afterwards. Checked for every (frame, field, type) once, then with
 * random values (fast-check), against a real server over real WebSockets. `null` in an optional
 * field means "absent" (docs/protocol.md), so it is only a wrong type for required fields. The SDK's
 * HTTP fallback (/v1/stream) hands frames to the same checks and gets the same answers. */
import t, { type Test } from 'tap';
import fc from 'fast-check';
import webpush from 'web-push';
import { ErrorCode, PermissionScopes, PROTOCOL_VERSIONS, decodeFrames, encodeFrame } from '../../src/index.js';
import { startServer } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait.js';

const RUNS = 200;

type Kind = 'number' | 'string' | 'boolean' | 'array' | 'object' | 'bytes' | 'null' | 'huge';
const KINDS: readonly Kind[] = ['number', 'string', 'boolean', 'array', 'object', 'bytes', 'null', 'huge'];

/** A field and the kinds it accepts (a value of any other kind must be refused). */
interface FieldSpec { name: string; accepts: readonly Kind[]; optional?: boolean; code?: ErrorCode }

const NAME: readonly Kind[] = ['string'];
const VALUE: readonly Kind[] = ['string', 'bytes', 'huge']; // a huge value is a size error, tested elsewhere
const INT: readonly Kind[] = ['number'];
const BOOL: readonly Kind[] = ['boolean'];
const OBJECT: readonly Kind[] = ['object'];
const name = (n: string): FieldSpec => ({ name: n, accepts: NAME });
const opt = (n: string, accepts: readonly Kind[]): FieldSpec => ({ name: n, accepts, optional: true });
const ttl = [opt('ttlMs', INT), opt('refreshTtl', BOOL)];
const idem = opt('idempotencyKey', ['string']);

/** Each frame: a valid request, and its fields. */
const FRAMES: Array<{ frame: Frame; fields: FieldSpec[] }> = [
  { frame: { t: 'auth', token: '' }, fields: [{ name: 'token', accepts: ['string'], code: ErrorCode.AUTHENTICATION_ERROR }] },
  { frame: { t: 'pub', cache: 'c', topic: 'tp', value: 'v' }, fields: [name('cache'), name('topic'), { name: 'value', accepts: VALUE }, idem] },
  { frame: { t: 'sub', cache: 'c', topic: 'ts', after: { page: 1, seq: 1 }, presence: false }, fields: [name('cache'), name('topic'), opt('after', OBJECT), opt('presence', BOOL)] },
  { frame: { t: 'unsub', cache: 'c', topic: 'ts' }, fields: [name('cache'), name('topic')] },
  { frame: { t: 'listPushBack', cache: 'c', list: 'l', value: 'v', truncateFrontToSize: 5 }, fields: [name('cache'), name('list'), { name: 'value', accepts: VALUE }, opt('truncateFrontToSize', INT), ...ttl, idem] },
  { frame: { t: 'listPushFront', cache: 'c', list: 'l', value: 'v', truncateBackToSize: 5 }, fields: [name('cache'), name('list'), { name: 'value', accepts: VALUE }, opt('truncateBackToSize', INT), ...ttl, idem] },
  { frame: { t: 'listConcatenateBack', cache: 'c', list: 'l', values: ['v'], truncateFrontToSize: 5 }, fields: [name('cache'), name('list'), { name: 'values', accepts: ['array'] }, opt('truncateFrontToSize', INT), ...ttl, idem] },
  { frame: { t: 'listConcatenateFront', cache: 'c', list: 'l', values: ['v'], truncateBackToSize: 5 }, fields: [name('cache'), name('list'), { name: 'values', accepts: ['array'] }, opt('truncateBackToSize', INT), ...ttl, idem] },
  { frame: { t: 'listFetch', cache: 'c', list: 'l', startIndex: 0, endIndex: 3, withMeta: false }, fields: [name('cache'), name('list'), opt('startIndex', INT), opt('endIndex', INT), opt('withMeta', BOOL)] },
  { frame: { t: 'listRetain', cache: 'c', list: 'l', startIndex: 0, endIndex: 3 }, fields: [name('cache'), name('list'), opt('startIndex', INT), opt('endIndex', INT), ...ttl] },
  { frame: { t: 'listRemoveValue', cache: 'c', list: 'l', value: 'v' }, fields: [name('cache'), name('list'), { name: 'value', accepts: VALUE }] },
  { frame: { t: 'listPopBack', cache: 'c', list: 'l' }, fields: [name('cache'), name('list')] },
  { frame: { t: 'listPopFront', cache: 'c', list: 'l' }, fields: [name('cache'), name('list')] },
  { frame: { t: 'listLength', cache: 'c', list: 'l' }, fields: [name('cache'), name('list')] },
  { frame: { t: 'get', cache: 'c', key: 'k' }, fields: [name('cache'), name('key')] },
  { frame: { t: 'set', cache: 'c', key: 'k', value: 'v', ttlMs: 60_000 }, fields: [name('cache'), name('key'), { name: 'value', accepts: VALUE }, opt('ttlMs', INT)] },
  { frame: { t: 'delete', cache: 'c', key: 'k' }, fields: [name('cache'), name('key')] },
  { frame: { t: 'itemGetTtl', cache: 'c', key: 'k' }, fields: [name('cache'), name('key')] },
  { frame: { t: 'updateTtl', cache: 'c', key: 'k', ttlMs: 60_000 }, fields: [name('cache'), name('key'), { name: 'ttlMs', accepts: INT }] },
  { frame: { t: 'increaseTtl', cache: 'c', key: 'k', ttlMs: 60_000 }, fields: [name('cache'), name('key'), { name: 'ttlMs', accepts: INT }] },
  { frame: { t: 'decreaseTtl', cache: 'c', key: 'k', ttlMs: 60_000 }, fields: [name('cache'), name('key'), { name: 'ttlMs', accepts: INT }] },
  { frame: { t: 'increment', cache: 'c', key: 'n', amount: 2, ttlMs: 60_000 }, fields: [name('cache'), name('key'), opt('amount', INT), opt('ttlMs', INT), idem] },
  { frame: { t: 'setIf', cache: 'c', key: 'k', value: 'v', condition: 'equal', compare: 'v', ttlMs: 60_000 }, fields: [name('cache'), name('key'), { name: 'value', accepts: VALUE }, { name: 'condition', accepts: ['string'] }, { name: 'compare', accepts: VALUE }, opt('ttlMs', INT), idem] },
  { frame: { t: 'getWithHash', cache: 'c', key: 'k' }, fields: [name('cache'), name('key')] },
  { frame: { t: 'setIfHash', cache: 'c', key: 'k', value: 'v', condition: 'absentOrHashEqual', hash: 'h', ttlMs: 60_000 }, fields: [name('cache'), name('key'), { name: 'value', accepts: VALUE }, { name: 'condition', accepts: ['string'] }, { name: 'hash', accepts: VALUE }, opt('ttlMs', INT), idem] },
  { frame: { t: 'listErase', cache: 'c', list: 'l', ranges: [{ beginIndex: 0, count: 1 }] }, fields: [name('cache'), name('list'), opt('ranges', ['array'])] },
  { frame: { t: 'itemGetType', cache: 'c', key: 'k' }, fields: [name('cache'), name('key')] },
  { frame: { t: 'dictionarySetFields', cache: 'c', dictionary: 'd', items: [{ field: 'f', value: 'v' }] }, fields: [name('cache'), name('dictionary'), { name: 'items', accepts: ['array'] }, ...ttl] },
  { frame: { t: 'dictionaryGetFields', cache: 'c', dictionary: 'd', fields: ['f'] }, fields: [name('cache'), name('dictionary'), { name: 'fields', accepts: ['array'] }] },
  { frame: { t: 'dictionaryFetch', cache: 'c', dictionary: 'd' }, fields: [name('cache'), name('dictionary')] },
  // A huge field name is an element-size error (LIMIT_EXCEEDED_ERROR), tested elsewhere.
  { frame: { t: 'dictionaryIncrement', cache: 'c', dictionary: 'dn', field: 'n', amount: 2 }, fields: [name('cache'), name('dictionary'), { name: 'field', accepts: ['string', 'huge'] }, opt('amount', INT), ...ttl, idem] },
  { frame: { t: 'dictionaryRemoveFields', cache: 'c', dictionary: 'd', fields: ['f'] }, fields: [name('cache'), name('dictionary'), opt('fields', ['array'])] },
  { frame: { t: 'dictionaryLength', cache: 'c', dictionary: 'd' }, fields: [name('cache'), name('dictionary')] },
  { frame: { t: 'setAddElements', cache: 'c', set: 's', elements: ['e'] }, fields: [name('cache'), name('set'), { name: 'elements', accepts: ['array'] }, ...ttl] },
  { frame: { t: 'setRemoveElements', cache: 'c', set: 's', elements: ['e'] }, fields: [name('cache'), name('set'), opt('elements', ['array'])] },
  { frame: { t: 'setFetch', cache: 'c', set: 's' }, fields: [name('cache'), name('set')] },
  { frame: { t: 'setContainsElements', cache: 'c', set: 's', elements: ['e'] }, fields: [name('cache'), name('set'), { name: 'elements', accepts: ['array'] }] },
  { frame: { t: 'setLength', cache: 'c', set: 's' }, fields: [name('cache'), name('set')] },
  { frame: { t: 'setPop', cache: 'c', set: 's', count: 1 }, fields: [name('cache'), name('set'), { name: 'count', accepts: INT }] },
  { frame: { t: 'setSample', cache: 'c', set: 's', limit: 1 }, fields: [name('cache'), name('set'), { name: 'limit', accepts: INT }] },
  { frame: { t: 'sortedSetPutElements', cache: 'c', sortedSet: 'z', elements: [{ value: 'e', score: 1 }] }, fields: [name('cache'), name('sortedSet'), { name: 'elements', accepts: ['array'] }, ...ttl] },
  { frame: { t: 'sortedSetFetchByRank', cache: 'c', sortedSet: 'z', startRank: 0, endRank: 3, order: 'descending' }, fields: [name('cache'), name('sortedSet'), opt('startRank', INT), opt('endRank', INT), opt('order', ['string'])] },
  {
    frame: { t: 'sortedSetFetchByScore', cache: 'c', sortedSet: 'z', minScore: -1, maxScore: 9, exclusiveMin: true, exclusiveMax: false, order: 'ascending', offset: 0, count: 2 },
    fields: [name('cache'), name('sortedSet'), opt('minScore', INT), opt('maxScore', INT), opt('exclusiveMin', BOOL), opt('exclusiveMax', BOOL), opt('order', ['string']), opt('offset', INT), opt('count', INT)],
  },
  { frame: { t: 'sortedSetGetScores', cache: 'c', sortedSet: 'z', values: ['e'] }, fields: [name('cache'), name('sortedSet'), { name: 'values', accepts: ['array'] }] },
  { frame: { t: 'sortedSetGetRank', cache: 'c', sortedSet: 'z', value: 'e', order: 'ascending' }, fields: [name('cache'), name('sortedSet'), { name: 'value', accepts: VALUE }, opt('order', ['string'])] },
  { frame: { t: 'sortedSetIncrementScore', cache: 'c', sortedSet: 'zn', value: 'e', amount: 2 }, fields: [name('cache'), name('sortedSet'), { name: 'value', accepts: VALUE }, opt('amount', INT), ...ttl] },
  { frame: { t: 'sortedSetRemoveElements', cache: 'c', sortedSet: 'z', values: ['e'] }, fields: [name('cache'), name('sortedSet'), opt('values', ['array'])] },
  { frame: { t: 'sortedSetLength', cache: 'c', sortedSet: 'z' }, fields: [name('cache'), name('sortedSet')] },
  {
    frame: { t: 'sortedSetLengthByScore', cache: 'c', sortedSet: 'z', minScore: 0, maxScore: 5, exclusiveMin: false, exclusiveMax: true },
    fields: [name('cache'), name('sortedSet'), opt('minScore', INT), opt('maxScore', INT), opt('exclusiveMin', BOOL), opt('exclusiveMax', BOOL)],
  },
  {
    frame: { t: 'sortedSetUnionStore', cache: 'c', sortedSet: 'zu', sources: [{ sortedSet: 'z', weight: 1 }], aggregate: 'max', ttlMs: 60_000 },
    fields: [name('cache'), name('sortedSet'), { name: 'sources', accepts: ['array'] }, opt('aggregate', ['string']), opt('ttlMs', INT)],
  },
  { frame: { t: 'pubAppend', cache: 'c', list: 'h', topic: 'tp', value: 'v', truncateFrontToSize: 5 }, fields: [name('cache'), name('list'), name('topic'), { name: 'value', accepts: VALUE }, opt('truncateFrontToSize', INT), ...ttl, idem] },
  { frame: { t: 'gsub', cache: 'c', group: 'g', pattern: { nameSuffix: '-in' }, maxInFlight: 1 }, fields: [name('cache'), name('group'), { name: 'pattern', accepts: OBJECT }, opt('maxInFlight', INT)] },
  { frame: { t: 'gunsub', cache: 'c', group: 'g' }, fields: [name('cache'), name('group')] },
  { frame: { t: 'accept', delivery: 1, value: 'v', keep: 10 }, fields: [{ name: 'delivery', accepts: INT }, opt('value', VALUE), opt('keep', INT)] },
  { frame: { t: 'reject', delivery: 1, reason: 'r' }, fields: [{ name: 'delivery', accepts: INT }, { name: 'reason', accepts: ['string'] }] },
  { frame: { t: 'nack', delivery: 1 }, fields: [{ name: 'delivery', accepts: INT }] },
  { frame: { t: 'retract', cache: 'c', topic: 'tp', target: { page: 1, seq: 1 }, reason: 'r' }, fields: [name('cache'), name('topic'), { name: 'target', accepts: OBJECT }, opt('reason', ['string'])] },
  { frame: { t: 'presence', cache: 'c', topic: 'tp' }, fields: [name('cache'), name('topic')] },
  { frame: { t: 'follow', cache: 'c', topic: 'tf' }, fields: [name('cache'), name('topic')] },
  { frame: { t: 'unfollow', cache: 'c', topic: 'tf' }, fields: [name('cache'), name('topic')] },
  { frame: { t: 'pushRegister', subscription: {} }, fields: [{ name: 'subscription', accepts: OBJECT }] },
  { frame: { t: 'pushUnregister', endpoint: 'https://push.example.com/x' }, fields: [{ name: 'endpoint', accepts: ['string', 'huge'] }] },
];

/** hello, on a fresh connection each time: refused, then `bye` and the documented close. */
const HELLO_FIELDS: FieldSpec[] = [
  // The pre-hello frame limit (8 KiB) answers a huge string first: a size error, tested elsewhere.
  { name: 'versions', accepts: ['array', 'huge'] },
  { name: 'token', accepts: ['string', 'huge'], code: ErrorCode.AUTHENTICATION_ERROR },
  opt('client', ['string', 'huge']),
  opt('batch', [...BOOL, 'huge']),
];
const HELLO_CLOSE: Record<string, number> = { [ErrorCode.INVALID_ARGUMENT_ERROR]: 4502, [ErrorCode.AUTHENTICATION_ERROR]: 4500 };

const valueOf: Record<Kind, fc.Arbitrary<unknown>> = {
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.constantFrom(-1, 0, 2 ** 53, 1.5)),
  string: fc.string({ maxLength: 20 }),
  boolean: fc.boolean(),
  array: fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxKeys: 3 }),
  bytes: fc.uint8Array({ maxLength: 16 }),
  null: fc.constant(null),
  huge: fc.constant('x'.repeat(70_000)),
};
/** One fixed value per kind, for the exhaustive pass. */
const SAMPLE: Record<Kind, unknown> = { number: 7, string: 'seven', boolean: true, array: [1, 'a'], object: { a: 1 }, bytes: new Uint8Array([1, 2]), null: null, huge: 'x'.repeat(70_000) };

function wrongKinds(field: FieldSpec): Kind[] {
  return KINDS.filter((k) => !field.accepts.includes(k) && !(k === 'null' && field.optional));
}

/** `null` when the reply is what the property demands, else what went wrong. */
function problem(reply: Frame, field: FieldSpec): string | null {
  const expected = field.code ?? ErrorCode.INVALID_ARGUMENT_ERROR;
  if (reply['t'] !== 'err') return `accepted: ${JSON.stringify(reply).slice(0, 200)}`;
  const e = reply['e'] as { code: string; message: string };
  if (e.code !== expected) return `code ${e.code} (${e.message}), expected ${expected}`;
  if (expected === ErrorCode.INVALID_ARGUMENT_ERROR && !e.message.includes(field.name)) return `message does not name ${field.name}: ${e.message}`;
  return null;
}

t.test('a wrong-typed field of any request is INVALID_ARGUMENT_ERROR naming it, and the connection stays usable', async (t) => {
  const vapid = webpush.generateVAPIDKeys();
  const server = await startServer(t, { config: { push: { vapidPublicKey: vapid.publicKey, vapidPrivateKey: vapid.privateKey } } });
  const scope = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.moderator('c'));
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'typer' }));
  const check = async (frame: Frame, field: FieldSpec, value: unknown): Promise<string | null> => {
    const reply = await c.request({ ...frame, [field.name]: value });
    const p = problem(reply, field);
    return p === null ? null : `${frame['t']}.${field.name} = ${JSON.stringify(value)?.slice(0, 40)}: ${p}`;
  };

  const failures: string[] = [];
  let cases = 0;
  for (const { frame, fields } of FRAMES) {
    for (const field of fields) {
      for (const kind of wrongKinds(field)) {
        cases++;
        const p = await check(frame, field, SAMPLE[kind]);
        if (p) failures.push(p);
      }
    }
  }
  t.same(failures, [], `every (frame, field, wrong type) refused (${cases} cases)`);

  const arbitrary = fc.constantFrom(...FRAMES.flatMap(({ frame, fields }) => fields.map((field) => ({ frame, field }))))
    .chain(({ frame, field }) => fc.constantFrom(...wrongKinds(field)).chain((kind) => valueOf[kind]).map((value) => ({ frame, field, value })));
  await fc.assert(fc.asyncProperty(arbitrary, async ({ frame, field, value }) => {
    const p = await check(frame, field, value);
    if (p) throw new Error(p);
    return c.closed === undefined;
  }), { numRuns: RUNS });

  t.equal(c.closed, undefined, 'the connection is still open');
  t.same(await c.ok({ t: 'ping' }), {}, 'and still answered');
  t.same(await c.ok({ t: 'listLength', cache: 'c', list: 'l' }), { hit: false }, 'no list write went through');
  t.same(await c.ok({ t: 'get', cache: 'c', key: 'k' }), { hit: false }, 'no set went through');
  c.close();
});

t.test('a wrong-typed hello field: the documented error, then bye and close; the server keeps serving', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.topicPublishSubscribe('c', '*'));
  const hello = { t: 'hello', versions: [...PROTOCOL_VERSIONS], token };
  const check = async (field: FieldSpec, value: unknown): Promise<string | null> => {
    const c = await RawClient.connect(server.wsUrl);
    try {
      const reply = await c.request({ ...hello, [field.name]: value });
      const p = problem(reply, field);
      const where = `hello.${field.name} = ${JSON.stringify(value)?.slice(0, 40)}`;
      if (p) return `${where}: ${p}`;
      const closed = await c.waitClosed();
      const code = HELLO_CLOSE[(reply['e'] as { code: string }).code];
      return closed.code === code ? null : `${where}: closed with ${closed.code}, expected ${code}`;
    } finally {
      c.close();
    }
  };

  const failures: string[] = [];
  for (const field of HELLO_FIELDS) {
    for (const kind of wrongKinds(field)) {
      const p = await check(field, SAMPLE[kind]);
      if (p) failures.push(p);
    }
  }
  t.same(failures, [], 'every wrong-typed hello field refused');

  const arbitrary = fc.constantFrom(...HELLO_FIELDS)
    .chain((field) => fc.constantFrom(...wrongKinds(field)).chain((kind) => valueOf[kind]).map((value) => ({ field, value })));
  await fc.assert(fc.asyncProperty(arbitrary, async ({ field, value }) => {
    const p = await check(field, value);
    if (p) throw new Error(p);
  }), { numRuns: RUNS });
  // An array, but not of integers only, is as wrong as none: also when it holds a version the server speaks.
  for (const versions of [[...PROTOCOL_VERSIONS, 'x'], [1.5]]) t.equal(await check(HELLO_FIELDS[0]!, versions), null, `versions ${JSON.stringify(versions)} refused`);

  const fresh = await RawClient.open(server, token);
  t.same(await fresh.ok({ t: 'ping' }), {}, 'a well-formed hello is still accepted');
  fresh.close();
});

t.test('null in an optional field is the same as leaving it out: never an error naming the field', async (t) => {
  const server = await startServer(t);
  const scope = PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.moderator('c'));
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'nuller' }));
  const named: string[] = [];
  let cases = 0;
  for (const { frame, fields } of FRAMES) {
    for (const field of fields.filter((f) => f.optional)) {
      cases++;
      const reply = await c.request({ ...frame, [field.name]: null });
      const e = reply['e'] as { code: string; message: string } | undefined;
      if (e?.code === ErrorCode.INVALID_ARGUMENT_ERROR && e.message.includes(field.name)) named.push(`${frame['t']}.${field.name}: ${e.message}`);
    }
  }
  t.same(named, [], `${cases} optional fields accept null as absent`);
  t.same(await c.ok({ t: 'ping' }), {}, 'the connection still answers');
  c.close();
});

/** The SDK's HTTP fallback (GET /v1/stream down, POST /v1/stream up): frames, and the close event. */
async function fallbackStream(t: Test, httpUrl: string) {
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const reader = (await fetch(`${httpUrl}/v1/stream`, { signal: ctl.signal })).body!.getReader();
  const frames: Frame[] = [];
  const state = { id: '', frames, close: undefined as { code: number } | undefined };
  let text = '';
  void (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) return;
      text += new TextDecoder().decode(chunk.value);
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const event = text.slice(0, end);
        text = text.slice(end + 2);
        const data = /^data: (.*)$/m.exec(event)?.[1] ?? '';
        if (event.startsWith('event: open')) state.id = (JSON.parse(data) as { stream: string }).stream;
        else if (event.startsWith('event: close')) state.close = JSON.parse(data) as { code: number };
        else frames.push(...decodeFrames(new Uint8Array(Buffer.from(data, 'base64'))));
      }
    }
  })();
  await waitFor('the stream id', () => state.id !== '');
  const post = async (frame: Frame) => {
    const bytes = encodeFrame(frame);
    const body = Buffer.alloc(4 + bytes.byteLength);
    body.writeUInt32BE(bytes.byteLength, 0);
    body.set(bytes, 4);
    const res = await fetch(`${httpUrl}/v1/stream`, { method: 'POST', headers: { 'x-tidings-stream': state.id }, body });
    if (res.status !== 204) throw new Error(`POST answered ${res.status}`);
  };
  const reply = async (id: number): Promise<Frame> => {
    await waitFor(`the reply to ${id}`, () => frames.some((f) => f['id'] === id));
    return frames.find((f) => f['id'] === id)!;
  };
  return { state, post, reply };
}

t.test('the HTTP fallback shares the checks: a wrong-typed hello field closes 4502, a wrong-typed request field is INVALID_ARGUMENT_ERROR', async (t) => {
  const server = await startServer(t);
  const token = await tokenFor(server, PermissionScopes.combine(PermissionScopes.allDataReadWrite(), PermissionScopes.moderator('c')), { tokenId: 'poster' });
  const bad = await fallbackStream(t, server.httpUrl);
  await bad.post({ t: 'hello', id: 1, versions: [...PROTOCOL_VERSIONS], token, batch: 'yes' });
  t.match(await bad.reply(1), { t: 'err', e: { code: ErrorCode.INVALID_ARGUMENT_ERROR, message: /batch/ } }, 'hello with batch: "yes" is refused naming batch');
  await waitFor('the close event', () => bad.state.close !== undefined);
  t.equal(bad.state.close!.code, 4502, 'and the stream is closed 4502');

  const good = await fallbackStream(t, server.httpUrl);
  await good.post({ t: 'hello', id: 1, versions: [...PROTOCOL_VERSIONS], token, client: 'fallback/1' });
  t.match(await good.reply(1), { t: 'ok' }, 'a well-formed hello is accepted');
  await good.post({ t: 'pushUnregister', id: 2, endpoint: 5 });
  t.match(await good.reply(2), { t: 'err', e: { code: ErrorCode.INVALID_ARGUMENT_ERROR, message: /endpoint/ } }, 'pushUnregister with a numeric endpoint is refused naming it');
  await good.post({ t: 'ping', id: 3 });
  t.match(await good.reply(3), { t: 'ok' }, 'the stream still answers');
});
