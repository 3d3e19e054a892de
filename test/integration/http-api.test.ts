/** The HTTP API for backends over real HTTP: every operation, bearer credentials with scopes,
 * typed errors with their statuses, body limits, malformed bodies, CORS, and moderation of an
 * HTTP publish. */
import t from 'tap';
import { createHash } from 'node:crypto';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes, type TidingsServer } from '../../src/index.js';

const CACHE = 'chat';

async function call(server: TidingsServer, path: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.httpUrl}${path}`, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: (typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body)) as BodyInit,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
/** The hash getWithHash answers (docs/protocol.md): SHA-1 of the value's bytes in hex. */
const sha1 = (value: string | Uint8Array) => createHash('sha1').update(value).digest('hex');
const op = (server: TidingsServer, token: string | undefined, name: string, args: unknown) => call(server, `/v1/cache/${CACHE}/${name}`, token, args);

testEachEngine('http api', async (t, engine) => {
  const server = await startServer(t, { engine, config: { topics: { maxValueBytes: 8 * 1024 }, server: { maxHttpBodyBytes: 32 * 1024 } } });
  const all = await tokenFor(server, PermissionScopes.combine(PermissionScopes.topicPublishSubscribe(CACHE, '*'), PermissionScopes.cacheReadWrite(CACHE)), { tokenId: 'backend' });

  t.test('publish: text and binary bodies, delivered to a WebSocket subscriber with the token id', async (t) => {
    const sub = await RawClient.open(server, all);
    t.teardown(() => sub.close());
    await sub.ok({ t: 'sub', cache: CACHE, topic: 'news' });
    const text = await call(server, `/v1/topics/${CACHE}/news`, all, 'héllo', { 'content-type': 'text/plain; charset=utf-8' });
    t.equal(text.status, 200);
    t.match(text.body, { page: Number, seq: 1, ts: Number });
    const bin = await call(server, `/v1/topics/${CACHE}/news`, all, new Uint8Array([0, 1, 255]), { 'content-type': 'application/octet-stream' });
    t.match(bin.body, { seq: 2 });
    const items = await sub.items(2);
    t.equal(items[0]!['value'], 'héllo');
    t.same([...(items[1]!['value'] as Uint8Array)], [0, 1, 255], 'binary stays binary');
    t.equal(items[0]!['tokenId'], 'backend', 'stamped with the credential\'s token id');
    const key = { 'content-type': 'text/plain', 'idempotency-key': 'retry-1' };
    const once = await call(server, `/v1/topics/${CACHE}/news`, all, 'once', key);
    const again = await call(server, `/v1/topics/${CACHE}/news`, all, 'once', key);
    t.same(again.body, once.body, 'a retry with the same Idempotency-Key answers the first result');
    t.equal((await sub.items(1))[0]!['value'], 'once');
    t.same(await sub.drain('item', 100), [], 'and publishes nothing more');
    // Credentials without a tokenId keep their keys apart (one scope each): another's write with the same key is applied.
    const anonymous = [await tokenFor(server, PermissionScopes.topicPublishOnly(CACHE, 'news')), await tokenFor(server, PermissionScopes.topicPublishOnly(CACHE, 'news'))];
    const writes = [];
    for (const [i, token] of anonymous.entries()) writes.push(await call(server, `/v1/topics/${CACHE}/news`, token, `anonymous ${i}`, key));
    t.not(writes[1]!.body.seq, writes[0]!.body.seq, 'the second credential\'s write got its own seq');
    t.same((await sub.items(2)).map((i) => i['value']), ['anonymous 0', 'anonymous 1'], 'and both were published');
    const pushed = await op(server, all, 'listPushBack', { list: 'idem', value: 'x', idempotencyKey: 'push-1' });
    const repeated = await op(server, all, 'listPushBack', { list: 'idem', value: 'x', idempotencyKey: 'push-1' });
    // Status and body (not the headers: the Date header may cross a second between the two calls).
    t.same([repeated.status, repeated.body], [pushed.status, pushed.body], 'JSON operations take idempotencyKey');
    t.same((await op(server, all, 'listLength', { list: 'idem' })).body, { hit: true, length: 1 }, 'and the repeat pushed nothing');
    const encoded = await call(server, `/v1/topics/${CACHE}/a%20b`, all, 'x', { 'content-type': 'text/plain' });
    t.equal(encoded.status, 200, 'percent-encoded names are decoded');
    const malformed = await call(server, `/v1/topics/${CACHE}/a%zz`, all, 'x', { 'content-type': 'text/plain' });
    t.match(malformed, { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /percent-encoding/ } } }, 'a malformed percent-encoding is refused, not taken as sent');
    t.match(await call(server, `/v1/cache/a%zz/get`, all, { key: 'k' }), { status: 400, body: { error: { message: /percent-encoding/ } } }, 'in a cache operation\'s path too');
    // A Uint8Array body gets no Content-Type from fetch.
    const untyped = await call(server, `/v1/topics/${CACHE}/news`, all, new TextEncoder().encode('no type'));
    t.equal(untyped.status, 200, 'no Content-Type: text/plain');
    const upper = await call(server, `/v1/topics/${CACHE}/news`, all, new Uint8Array([9]), { 'content-type': 'Application/Octet-Stream' });
    t.equal(upper.status, 200, 'a media type is case-insensitive');
    const [asText, asBytes] = await sub.items(2);
    t.equal(asText!['value'], 'no type');
    t.same([...(asBytes!['value'] as Uint8Array)], [9]);
  });

  t.test('every cache operation, Momento-shaped results', async (t) => {
    const steps: Array<[string, unknown, unknown]> = [
      ['listPushBack', { list: 'l', value: 'b', truncateFrontToSize: 10 }, { length: 1 }],
      ['listPushFront', { list: 'l', value: 'a' }, { length: 2 }],
      ['listConcatenateBack', { list: 'l', values: ['c', { base64: 'AAE=' }] }, { length: 4 }],
      ['listConcatenateFront', { list: 'l', values: ['z'] }, { length: 5 }],
      ['listFetch', { list: 'l' }, { hit: true, values: ['z', 'a', 'b', 'c', { base64: 'AAE=' }] }],
      ['listFetch', { list: 'l', startIndex: 1, endIndex: 3 }, { hit: true, values: ['a', 'b'] }],
      ['listLength', { list: 'l' }, { hit: true, length: 5 }],
      ['listPopFront', { list: 'l' }, { hit: true, value: 'z', length: 4 }],
      ['listPopBack', { list: 'l' }, { hit: true, value: { base64: 'AAE=' }, length: 3 }],
      ['listRemoveValue', { list: 'l', value: 'b' }, {}],
      ['listRetain', { list: 'l', startIndex: 0, endIndex: 1 }, {}],
      ['listFetch', { list: 'l' }, { hit: true, values: ['a'] }],
      ['listFetch', { list: 'missing' }, { hit: false }],
      ['set', { key: 'k', value: 'v', ttlMs: 60_000 }, {}],
      ['get', { key: 'k' }, { hit: true, value: 'v' }],
      ['set', { key: 'bin', value: { base64: 'AQID' } }, {}],
      ['get', { key: 'bin' }, { hit: true, value: { base64: 'AQID' } }],
      ['updateTtl', { key: 'k', ttlMs: 120_000 }, { hit: true }],
      ['delete', { key: 'k' }, {}],
      ['get', { key: 'k' }, { hit: false }],
      ['itemGetTtl', { key: 'k' }, { hit: false }],
      ['updateTtl', { key: 'k', ttlMs: 1000 }, { hit: false }],
      ['set', { key: 't', value: 'v', ttlMs: 60_000 }, {}],
      ['increaseTtl', { key: 't', ttlMs: 120_000 }, { hit: true, set: true }],
      ['decreaseTtl', { key: 't', ttlMs: 180_000 }, { hit: true, set: false }],
      ['decreaseTtl', { key: 'absent', ttlMs: 1000 }, { hit: false }],
      ['increment', { key: 'n' }, { value: 1 }],
      ['increment', { key: 'n', amount: -3, ttlMs: 60_000 }, { value: -2 }],
      ['get', { key: 'n' }, { hit: true, value: '-2' }],
      ['setIf', { key: 'bin', value: 'text', condition: 'equal', compare: { base64: 'AQID' } }, { stored: true }],
      ['setIf', { key: 'bin', value: 'again', condition: 'absent', compare: null }, { stored: false }],
      ['get', { key: 'bin' }, { hit: true, value: 'text' }],
      ['getWithHash', { key: 'h' }, { hit: false }],
      ['setIfHash', { key: 'h', value: 'one', condition: 'unconditional' }, { stored: true, hash: sha1('one') }],
      ['getWithHash', { key: 'h' }, { hit: true, value: 'one', hash: sha1('one') }],
      ['setIfHash', { key: 'h', value: 'two', condition: 'presentAndHashEqual', hash: sha1('other') }, { stored: false }],
      ['setIfHash', { key: 'h', value: 'two', condition: 'presentAndHashEqual', hash: sha1('one'), ttlMs: 60_000 }, { stored: true, hash: sha1('two') }],
      ['setIfHash', { key: 'h', value: { base64: 'AQID' }, condition: 'absentOrNotHashEqual', hash: { base64: Buffer.from(sha1('one')).toString('base64') } }, { stored: true, hash: sha1(new Uint8Array([1, 2, 3])) }],
      ['getWithHash', { key: 'h' }, { hit: true, value: { base64: 'AQID' }, hash: sha1(new Uint8Array([1, 2, 3])) }],
      ['setIfHash', { key: 'h2', value: 'x', condition: 'presentAndNotHashEqual', hash: sha1('x') }, { stored: false }],
      ['setIfHash', { key: 'h2', value: 'x', condition: 'absentOrHashEqual', hash: sha1('y') }, { stored: true, hash: sha1('x') }],
      ['listConcatenateBack', { list: 'e', values: ['1', '2', '3'] }, { length: 3 }],
      ['listErase', { list: 'e', ranges: [{ beginIndex: 1, count: 1 }] }, { hit: true, length: 2 }],
      ['listErase', { list: 'e' }, { hit: true, length: 0 }],
      ['sortedSetPutElements', { sortedSet: 'ss', elements: [{ value: 'a', score: 2 }, { value: { base64: 'AQ==' }, score: 1 }] }, {}],
      ['sortedSetFetchByRank', { sortedSet: 'ss' }, { hit: true, elements: [{ value: { base64: 'AQ==' }, score: 1 }, { value: { base64: 'YQ==' }, score: 2 }] }],
    ];
    for (const [name, args, expected] of steps) {
      const res = await op(server, all, name, args);
      t.equal(res.status, 200, `${name} ${JSON.stringify(args)}`);
      t.same(res.body, expected, `${name} answers ${JSON.stringify(expected)}`);
    }
    const ttl = await op(server, all, 'itemGetTtl', { key: 'bin' });
    t.match(ttl.body, { hit: true, remainingTtlMs: Number });
    const pa = await op(server, all, 'pubAppend', { topic: 'room', list: 'room-history', value: 'hi', truncateFrontToSize: 5 });
    t.same(Object.keys(pa.body).sort(), ['length', 'page', 'seq', 'ts'], "pubAppend answers where the item landed and its ts, as a pub does");
    t.match(pa.body, { page: Number, seq: 1, ts: Number, length: 1 });
    const meta = await op(server, all, 'listFetch', { list: 'room-history', withMeta: true });
    t.match(meta.body, { hit: true, items: [{ value: 'hi', seq: 1, tokenId: 'backend', ts: pa.body.ts }] }, 'the ts the history element records');
  });

  t.test('credentials and permissions', async (t) => {
    const readOnly = await tokenFor(server, PermissionScopes.combine(PermissionScopes.cacheReadOnly(CACHE), PermissionScopes.topicSubscribeOnly(CACHE, '*')));
    const pub = await call(server, `/v1/topics/${CACHE}/news`, readOnly, 'x', { 'content-type': 'text/plain' });
    t.equal(pub.status, 403);
    t.match(pub.body, { error: { code: 'PERMISSION_ERROR', message: /publish/ } });
    t.match(await op(server, readOnly, 'set', { key: 'k', value: 'v' }), { status: 403, body: { error: { code: 'PERMISSION_ERROR' } } });
    t.match(await op(server, readOnly, 'get', { key: 'k' }), { status: 200 }, 'reads are allowed');
    const writeOnly = await tokenFor(server, PermissionScopes.cacheWriteOnly(CACHE));
    t.match(await op(server, writeOnly, 'increment', { key: 'wo' }), { status: 403, body: { error: { code: 'PERMISSION_ERROR', message: /may not read/ } } }, 'writeonly: no increment (Momento)');
    t.match(await op(server, writeOnly, 'setIf', { key: 'wo', value: 'v', condition: 'absent' }), { status: 403 }, 'writeonly: no conditional write');
    t.match(await op(server, writeOnly, 'setIfHash', { key: 'wo', value: 'v', condition: 'absentOrHashEqual', hash: 'h' }), { status: 403 }, 'writeonly: no hash condition');
    t.match(await op(server, writeOnly, 'setIfHash', { key: 'wo', value: 'v', condition: 'unconditional' }), { status: 200, body: { stored: true } }, 'writeonly: setWithHash is a set');
    t.match(await op(server, all, 'setIfHash', { key: 'wo', value: 'v', condition: 'presentAndHashEqual' }), { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /needs hash/ } } }, 'a condition without its hash');
    t.match(await op(server, all, 'setIfHash', { key: 'wo', value: 'v', condition: 'unconditional', hash: 'h' }), { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /hash must be absent/ } } }, 'unconditional with a hash');
    t.match(await op(server, all, 'setIfHash', { key: 'wo', value: 'v', condition: 'equal', hash: 'h' }), { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /condition must be one of unconditional/ } } }, 'setIf\'s conditions are not setIfHash\'s');
    await op(server, all, 'set', { key: 'word', value: 'five' });
    t.match(await op(server, all, 'increment', { key: 'word' }), { status: 409, body: { error: { code: 'FAILED_PRECONDITION_ERROR' } } }, 'not an integer: 409');
    await op(server, all, 'set', { key: 'path-wins', value: 'v' });
    t.match(await op(server, all, 'get', { key: 'path-wins', t: 'delete', id: 7, cache: 'other' }), { status: 200, body: { hit: true, value: 'v' } },
      'the operation and cache are the path\'s: a body naming others is not obeyed');
    const other = await call(server, `/v1/cache/other/get`, all, { key: 'k' });
    t.match(other, { status: 403, body: { error: { code: 'PERMISSION_ERROR' } } }, 'another cache is out of scope');
    t.match(await op(server, undefined, 'get', { key: 'k' }), { status: 401, body: { error: { code: 'AUTHENTICATION_ERROR' } } }, 'no credential');
    t.match(await op(server, 'not-a-token', 'get', { key: 'k' }), { status: 401, body: { error: { code: 'AUTHENTICATION_ERROR' } } }, 'garbage credential');
    const before = server.broker.sessions.size;
    await Promise.all(Array.from({ length: 20 }, (_, i) => op(server, i % 2 ? all : readOnly, 'set', { key: 'k', value: 'v' })));
    t.equal(server.broker.sessions.size, before, 'each call\'s session ends with the call, allowed or refused');
  });

  t.test('limits and malformed requests', async (t) => {
    const big = await call(server, `/v1/topics/${CACHE}/news`, all, 'x'.repeat(9 * 1024), { 'content-type': 'text/plain' });
    t.match(big, { status: 413, body: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'value_size_limit_exceeded' } } });
    const huge = await op(server, all, 'listConcatenateBack', { list: 'l', values: Array.from({ length: 100 }, () => 'y'.repeat(1000)) });
    t.match(huge, { status: 413, body: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_size_limit_exceeded' } } });
    // server.maxHttpBodyBytes (32 KiB here) is the largest body read, not the first refused.
    const sized = (bytes: number) => { const json = '{"key":"sized","value":"v"}'; return json + ' '.repeat(bytes - json.length); };
    t.match(await op(server, all, 'set', sized(32 * 1024)), { status: 200 }, 'a body of exactly server.maxHttpBodyBytes is read');
    t.match(await op(server, all, 'set', sized(32 * 1024 + 1)), { status: 413, body: { error: { code: 'LIMIT_EXCEEDED_ERROR', cause: 'request_size_limit_exceeded' } } }, 'one byte more is 413');
    const cases: Array<[string, unknown, string, number]> = [
      ['listPushBack', '{not json', 'INVALID_ARGUMENT_ERROR', 400],
      ['listPushBack', '[1,2]', 'INVALID_ARGUMENT_ERROR', 400],
      ['listPushBack', { list: 'l', value: { base64: '***' } }, 'INVALID_ARGUMENT_ERROR', 400],
      ['listPushBack', { list: 'l', value: 42 }, 'INVALID_ARGUMENT_ERROR', 400],
      ['listPushBack', { list: '', value: 'x' }, 'INVALID_ARGUMENT_ERROR', 400],
      ['listConcatenateBack', { list: 'l', values: 'x' }, 'INVALID_ARGUMENT_ERROR', 400],
      ['set', { key: 'k', value: 'v', ttlMs: -1 }, 'INVALID_ARGUMENT_ERROR', 400],
      ['sub', { topic: 'x' }, 'NOT_FOUND_ERROR', 404],
      // A publish has its own route (POST /v1/topics/{cache}/{topic}: a raw body, Idempotency-Key).
      ['pub', { topic: 'news', value: 'x' }, 'NOT_FOUND_ERROR', 404],
      ['hello', {}, 'NOT_FOUND_ERROR', 404],
      ['constructor', {}, 'NOT_FOUND_ERROR', 404],
    ];
    for (const [name, body, code, status] of cases) {
      const res = await op(server, all, name, body);
      t.equal(res.status, status, `${name} ${JSON.stringify(body)} -> ${status}`);
      t.equal(res.body.error.code, code);
    }
    const type = await call(server, `/v1/topics/${CACHE}/news`, all, '{}', { 'content-type': 'application/json' });
    t.match(type, { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR', message: /content-type/ } } });
    const badUtf8 = await call(server, `/v1/topics/${CACHE}/news`, all, new Uint8Array([0xff, 0xfe]), { 'content-type': 'text/plain' });
    t.match(badUtf8, { status: 400, body: { error: { message: /UTF-8/ } } });
    const badName = await call(server, `/v1/topics/${CACHE}/${'n'.repeat(300)}`, all, 'x', { 'content-type': 'text/plain' });
    t.match(badName, { status: 400, body: { error: { code: 'INVALID_ARGUMENT_ERROR' } } });
    // A path or method the API does not have is answered in the API's error envelope too.
    for (const [method, path] of [['GET', `/v1/topics/${CACHE}/news`], ['POST', '/v1/nothing'], ['DELETE', `/v1/cache/${CACHE}/get`], ['PUT', `/v1/cache/${CACHE}/get/more`]] as const) {
      const res = await fetch(`${server.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${all}` } });
      t.equal(res.status, 404, `${method} ${path} is not a route`);
      t.match(await res.json().catch(() => 'not JSON'), { error: { code: 'NOT_FOUND_ERROR', message: /docs\/http-api\.md/ } }, `${method} ${path}: a typed error`);
    }
  });

  t.test('CORS is off by default', async (t) => {
    const res = await call(server, `/v1/cache/${CACHE}/get`, all, { key: 'k' }, { origin: 'https://app.example' });
    t.equal(res.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${server.httpUrl}/v1/cache/${CACHE}/get`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    t.equal(pre.status, 404);
  });
});

t.test('http api - CORS for configured origins', async (t) => {
  const server = await startServer(t, { config: { server: { corsOrigins: ['https://app.example'] } } });
  const token = await tokenFor(server, PermissionScopes.cacheReadWrite(CACHE));
  const ok = await call(server, `/v1/cache/${CACHE}/get`, token, { key: 'k' }, { origin: 'https://app.example' });
  t.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example');
  const err = await call(server, `/v1/cache/${CACHE}/get`, undefined, { key: 'k' }, { origin: 'https://app.example' });
  t.equal(err.status, 401);
  t.equal(err.headers.get('access-control-allow-origin'), 'https://app.example', 'errors carry CORS headers too, so the page can read them');
  const other = await call(server, `/v1/cache/${CACHE}/get`, token, { key: 'k' }, { origin: 'https://evil.example' });
  t.equal(other.headers.get('access-control-allow-origin'), null);
  // Whether the answer carries the header depends on Origin: a shared cache must not hand this
  // answer (without it) to a listed origin's page, nor the other way round.
  t.match(other.headers.get('vary'), /Origin/, 'an unlisted origin\'s answer says it varies by Origin');
  t.match((await call(server, `/v1/cache/${CACHE}/get`, token, { key: 'k' })).headers.get('vary'), /Origin/, 'so does one without an Origin');
  t.match(ok.headers.get('vary'), /Origin/);
  const pre = await fetch(`${server.httpUrl}/v1/cache/${CACHE}/get`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
  t.equal(pre.status, 204);
  t.match(pre.headers.get('access-control-allow-headers'), /authorization/);
  t.equal(pre.headers.get('access-control-max-age'), '600');
  const bad = await fetch(`${server.httpUrl}/v1/cache/${CACHE}/get`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  t.equal(bad.status, 403);
});

testEachEngine('http api - a publish over HTTP to an input topic goes through the moderators', async (t, engine) => {
  const server = await startServer(t, { engine });
  const mod = await RawClient.open(server, await tokenFor(server, PermissionScopes.moderator(CACHE), { tokenId: 'mod' }));
  t.teardown(() => mod.close());
  await mod.ok({ t: 'gsub', cache: CACHE, group: 'mods', pattern: { nameSuffix: '-input' } });
  const reader = await RawClient.open(server, await tokenFor(server, PermissionScopes.topicSubscribeOnly(CACHE, '*')));
  t.teardown(() => reader.close());
  await reader.ok({ t: 'sub', cache: CACHE, topic: 'room' });
  const user = await tokenFor(server, PermissionScopes.topicPublishOnly(CACHE, 'room-input'), { tokenId: 'ada' });
  const direct = await call(server, `/v1/topics/${CACHE}/room`, user, 'sneaky', { 'content-type': 'text/plain' });
  t.equal(direct.status, 403, 'the user may not publish to the moderated output');
  const res = await call(server, `/v1/topics/${CACHE}/room-input`, user, 'hello   world', { 'content-type': 'text/plain' });
  t.equal(res.status, 200);
  const delivery = await mod.next((f) => f['t'] === 'delivery');
  t.match(delivery, { topic: 'room-input', output: 'room', value: 'hello   world', tokenId: 'ada' });
  await mod.ok({ t: 'accept', delivery: delivery['delivery'], value: 'hello world' });
  const [item] = await reader.items(1);
  t.match(item, { topic: 'room', value: 'hello world', tokenId: 'ada' }, 'accepted, with the HTTP publisher\'s identity');
});
