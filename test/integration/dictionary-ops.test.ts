/** Dictionaries, sets and sorted sets over a real server: the WebSocket frames (docs/protocol.md
 * "Dictionaries", "Sets", "Sorted sets"), their replies, typed errors and TTLs with a ManualClock, and the same operations through
 * the HTTP API with JSON values. One server per engine. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes } from '../../src/index.js';

testEachEngine('dictionaries, sets and sorted sets over WebSocket and HTTP: replies, misses, errors, TTL', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { store: { maxDictionaryFields: 3, maxSetElements: 3, maxSortedSetElements: 4, maxElementBytes: 64, defaultTtlSec: 60 } } });
  const token = await tokenFor(server, PermissionScopes.cacheReadWrite('app'), { tokenId: 'alice' });
  const c = await RawClient.open(server, token);
  t.teardown(() => c.close());
  const D = { cache: 'app', dictionary: 'user-1' };
  const fails = async (frame: Frame, code: string, cause?: string): Promise<void> => {
    const reply = await c.request(frame);
    t.equal(reply['t'], 'err', `${String(frame['t'])} is refused`);
    t.match(reply['e'], cause === undefined ? { code } : { code, cause }, `${String(frame['t'])}: ${code} ${cause ?? ''}`);
  };

  t.same(await c.ok({ t: 'dictionaryFetch', ...D }), { hit: false }, 'no dictionary: Miss');
  t.same(await c.ok({ t: 'dictionaryGetFields', ...D, fields: ['name'] }), { hit: false });
  t.same(await c.ok({ t: 'dictionaryLength', ...D }), { hit: false });
  t.same(await c.ok({ t: 'itemGetType', cache: 'app', key: 'user-1' }), { hit: false });

  t.same(await c.ok({ t: 'dictionarySetFields', ...D, items: [{ field: 'name', value: 'Ada' }, { field: 'avatar', value: new Uint8Array([0, 255]) }], ttlMs: 10_000 }), {});
  const got = await c.ok({ t: 'dictionaryGetFields', ...D, fields: ['name', 'age', 'avatar'] });
  t.same(got['values'].slice(0, 2), ['Ada', null], 'per field: the value, or null for a field it lacks');
  t.ok(got['values'][2] instanceof Uint8Array, 'a binary value comes back as binary');
  t.same(await c.ok({ t: 'dictionaryIncrement', ...D, field: 'visits', amount: 4, idempotencyKey: 'k-1' }), { value: 4 });
  t.same(await c.ok({ t: 'dictionaryIncrement', ...D, field: 'visits', amount: 4, idempotencyKey: 'k-1' }), { value: 4 }, 'a retried increment is applied once');
  t.same(await c.ok({ t: 'dictionaryLength', ...D }), { hit: true, length: 3 });
  t.same(await c.ok({ t: 'itemGetType', cache: 'app', key: 'user-1' }), { hit: true, type: 'dictionary' });
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'user-1' }), { hit: true, remainingTtlMs: 60_000 }, 'the increment refreshed the TTL to the default');

  await fails({ t: 'dictionaryIncrement', ...D, field: 'name' }, 'FAILED_PRECONDITION_ERROR');
  await fails({ t: 'dictionarySetFields', ...D, items: [{ field: 'a', value: '1' }] }, 'LIMIT_EXCEEDED_ERROR', 'dictionary_fields_limit_exceeded');
  await fails({ t: 'dictionarySetFields', ...D, items: [{ field: 'f'.repeat(40), value: 'v'.repeat(30) }] }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  // A field name alone past store.maxElementBytes (64): an increment would store it.
  await fails({ t: 'dictionaryIncrement', cache: 'app', dictionary: 'counters', field: 'f'.repeat(65) }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  t.same(await c.ok({ t: 'dictionaryFetch', cache: 'app', dictionary: 'counters' }), { hit: false }, '...and nothing is stored');
  // The field name and the sum's decimal text are stored together: one element, within 64 bytes too.
  const C = { cache: 'app', dictionary: 'counters', field: 'f'.repeat(60) };
  await fails({ t: 'dictionaryIncrement', ...C, amount: 12_345 }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  t.same(await c.ok({ t: 'dictionaryFetch', cache: 'app', dictionary: 'counters' }), { hit: false }, '...nor a field name of 60 bytes with a sum of 5 digits');
  t.same(await c.ok({ t: 'dictionaryIncrement', ...C, amount: 1234 }), { value: 1234 }, '60 + 4 bytes: stored');
  await fails({ t: 'dictionaryIncrement', ...C, amount: 10_000 }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  t.same(await c.ok({ t: 'dictionaryGetFields', cache: 'app', dictionary: 'counters', fields: [C.field] }), { hit: true, values: ['1234'] }, 'a sum that would grow past it is refused, the field unchanged');
  await c.ok({ t: 'dictionaryRemoveFields', cache: 'app', dictionary: 'counters' });
  await fails({ t: 'dictionaryGetFields', ...D, fields: ['f'.repeat(65)] }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  await fails({ t: 'dictionaryGetFields', ...D, fields: [] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'dictionaryRemoveFields', ...D, fields: [] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'dictionarySetFields', ...D, items: [] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'dictionarySetFields', ...D, items: [{ field: 1, value: 'v' }] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'listFetch', cache: 'app', list: 'user-1' }, 'FAILED_PRECONDITION_ERROR');
  await c.ok({ t: 'set', cache: 'app', key: 'plain', value: 'v' });
  await fails({ t: 'dictionaryFetch', cache: 'app', dictionary: 'plain' }, 'FAILED_PRECONDITION_ERROR');

  // The same dictionary through the HTTP API: JSON values, binary as { base64 }.
  const http = async (operation: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> => {
    const r = await fetch(`${server.httpUrl}/v1/cache/app/${operation}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, json: await r.json() as Record<string, unknown> };
  };
  t.same((await http('dictionaryGetFields', { dictionary: 'user-1', fields: ['avatar', 'age'] })).json, { hit: true, values: [{ base64: 'AP8=' }, null] });
  t.same((await http('dictionarySetFields', { dictionary: 'user-1', items: [{ field: 'avatar', value: { base64: 'AQI=' } }] })).json, {});
  const fetched = (await http('dictionaryFetch', { dictionary: 'user-1' })).json as { items: Array<{ field: string; value: unknown }> };
  t.same(fetched.items.find((i) => i.field === 'avatar'), { field: 'avatar', value: { base64: 'AQI=' } }, 'set over HTTP, read back over HTTP');
  t.equal((await http('dictionaryIncrement', { dictionary: 'user-1', field: 'name' })).status, 409, 'a non-integer field: 409 FAILED_PRECONDITION');
  // JSON may escape a lone surrogate ("\ud800"), which has no UTF-8 form to store or answer it by.
  t.equal((await http('dictionarySetFields', { dictionary: 'odd', items: [{ field: '\ud800', value: 'v' }] })).status, 400, 'a field name with a lone surrogate: 400 INVALID_ARGUMENT');
  t.same(await c.ok({ t: 'dictionaryFetch', cache: 'app', dictionary: 'odd' }), { hit: false }, '...and nothing is stored');
  t.same((await http('dictionaryRemoveFields', { dictionary: 'user-1', fields: ['avatar', 'visits'] })).json, {});
  t.same(await c.ok({ t: 'dictionaryFetch', ...D }), { hit: true, items: [{ field: 'name', value: 'Ada' }] }, 'WebSocket sees the HTTP writes');

  await c.ok({ t: 'dictionarySetFields', ...D, items: [{ field: 'x', value: '1' }], ttlMs: 9000, refreshTtl: false });
  clock.advance(59_000);
  t.same(await c.ok({ t: 'dictionaryLength', ...D }), { hit: true, length: 2 }, 'refreshTtl false kept the expiry (1 s left)');
  clock.advance(1001);
  t.same(await c.ok({ t: 'dictionaryFetch', ...D }), { hit: false }, 'expired');
  await c.ok({ t: 'dictionarySetFields', ...D, items: [{ field: 'x', value: '1' }] });
  t.same(await c.ok({ t: 'dictionaryRemoveFields', ...D }), {}, 'no fields: the whole dictionary');
  t.same(await c.ok({ t: 'dictionaryLength', ...D }), { hit: false });

  // Sets: elements are bytes (text as its UTF-8), answered as bytes.
  const S = { cache: 'app', set: 'room-1' };
  const hex = (elements: unknown) => (elements as Uint8Array[]).map((e) => Buffer.from(e).toString('hex')).sort();
  t.same(await c.ok({ t: 'setFetch', ...S }), { hit: false }, 'no set: Miss');
  t.same(await c.ok({ t: 'setContainsElements', ...S, elements: ['ada'] }), { hit: false });
  t.same(await c.ok({ t: 'setPop', ...S, count: 1 }), { hit: false });
  t.same(await c.ok({ t: 'setAddElements', ...S, elements: ['ada', new Uint8Array([0x61, 0x64, 0x61]), new Uint8Array([0, 255])], ttlMs: 10_000 }), {});
  const members = await c.ok({ t: 'setFetch', ...S });
  t.same(hex(members['elements']), ['00ff', '616461'], 'text "ada" and its bytes are one element; elements come back as bytes');
  t.same(await c.ok({ t: 'setContainsElements', ...S, elements: ['bob', 'ada'] }), { hit: true, contains: [false, true] });
  t.same(await c.ok({ t: 'setLength', ...S }), { hit: true, length: 2 });
  t.same(await c.ok({ t: 'itemGetType', cache: 'app', key: 'room-1' }), { hit: true, type: 'set' });
  t.equal((await c.ok({ t: 'setSample', ...S, limit: 5 }))['elements'].length, 2, 'a sample of more than the set: all of it');
  await fails({ t: 'setAddElements', ...S, elements: ['b', 'c'] }, 'LIMIT_EXCEEDED_ERROR', 'set_elements_limit_exceeded');
  await fails({ t: 'setAddElements', ...S, elements: ['e'.repeat(65)] }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  await fails({ t: 'setAddElements', ...S, elements: [] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'setPop', ...S, count: 0 }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'setSample', ...S }, 'INVALID_ARGUMENT_ERROR');
  await c.ok({ t: 'set', cache: 'app', key: 'plain', value: 'v' });
  await fails({ t: 'setFetch', cache: 'app', set: 'plain' }, 'FAILED_PRECONDITION_ERROR');
  await fails({ t: 'listLength', cache: 'app', list: 'room-1' }, 'FAILED_PRECONDITION_ERROR');

  t.same((await http('setAddElements', { set: 'room-1', elements: ['bob'] })).json, {}, 'HTTP: text elements');
  t.same((await http('setContainsElements', { set: 'room-1', elements: [{ base64: 'AP8=' }, 'bob', 'cy'] })).json, { hit: true, contains: [true, true, false] }, 'HTTP: binary elements as { base64 }');
  const viaHttp = (await http('setFetch', { set: 'room-1' })).json as { elements: Array<{ base64: string }> };
  t.same(viaHttp.elements.map((e) => e.base64).sort(), ['AP8=', 'Ym9i', 'YWRh'].sort(), 'HTTP: elements come back as { base64 }');
  t.same((await http('setRemoveElements', { set: 'room-1', elements: [{ base64: 'AP8=' }] })).json, {});
  t.same((await http('setPop', { set: 'room-1', count: 1 })).status, 200);
  t.same(await c.ok({ t: 'setLength', ...S }), { hit: true, length: 1 }, 'WebSocket sees the HTTP writes and the pop');

  await c.ok({ t: 'setAddElements', ...S, elements: ['x'], ttlMs: 9000, refreshTtl: false });
  clock.advance(60_001);
  t.same(await c.ok({ t: 'setFetch', ...S }), { hit: false }, 'refreshTtl false kept the expiry of the last add (the default 60 s): expired');
  await c.ok({ t: 'setAddElements', ...S, elements: ['x', 'y'] });
  t.same(await c.ok({ t: 'setRemoveElements', ...S }), {}, 'no elements: the whole set');
  t.same(await c.ok({ t: 'setLength', ...S }), { hit: false });

  // Sorted sets: elements as bytes with finite scores, ordered by score then bytes.
  const Z = { cache: 'app', sortedSet: 'board' };
  const named = (r: Frame) => (r['elements'] as Array<{ value: Uint8Array; score: number }>).map((e) => [Buffer.from(e.value).toString(), e.score]);
  t.same(await c.ok({ t: 'sortedSetFetchByRank', ...Z }), { hit: false }, 'no sorted set: Miss');
  t.same(await c.ok({ t: 'sortedSetGetRank', ...Z, value: 'ada' }), { hit: false });
  t.same(await c.ok({ t: 'sortedSetPutElements', ...Z, elements: [{ value: 'ada', score: 3 }, { value: new Uint8Array([0x62, 0x6f, 0x62]), score: 1 }, { value: 'cy', score: 3 }] }), {});
  t.same(named(await c.ok({ t: 'sortedSetFetchByRank', ...Z, order: 'descending' })), [['cy', 3], ['ada', 3], ['bob', 1]], 'descending; ties by bytes, reversed');
  t.same(named(await c.ok({ t: 'sortedSetFetchByScore', ...Z, minScore: 1, exclusiveMin: true })), [['ada', 3], ['cy', 3]]);
  t.same(await c.ok({ t: 'sortedSetGetScores', ...Z, values: ['bob', 'zed'] }), { hit: true, scores: [1, null] });
  t.same(await c.ok({ t: 'sortedSetGetRank', ...Z, value: 'zed' }), { hit: true, rank: null }, 'a value not held: rank null');
  t.same(await c.ok({ t: 'sortedSetIncrementScore', ...Z, value: 'bob', amount: 2.5, idempotencyKey: 'z-1' }), { score: 3.5 });
  t.same(await c.ok({ t: 'sortedSetIncrementScore', ...Z, value: 'bob', amount: 2.5, idempotencyKey: 'z-1' }), { score: 3.5 }, 'a retried score increment is answered, not applied again');
  t.same(await c.ok({ t: 'sortedSetGetScores', ...Z, values: ['bob'] }), { hit: true, scores: [3.5] }, 'one increment applied');
  t.same(await c.ok({ t: 'sortedSetGetRank', ...Z, value: 'bob', order: 'descending' }), { hit: true, rank: 0 });
  t.same(await c.ok({ t: 'sortedSetLengthByScore', ...Z, minScore: 3, maxScore: 3 }), { hit: true, length: 2 });
  t.same(await c.ok({ t: 'itemGetType', cache: 'app', key: 'board' }), { hit: true, type: 'sortedSet' });
  await fails({ t: 'sortedSetPutElements', ...Z, elements: [{ value: 'd', score: 1 }, { value: 'e', score: 1 }] }, 'LIMIT_EXCEEDED_ERROR', 'sorted_set_elements_limit_exceeded');
  await fails({ t: 'sortedSetPutElements', ...Z, elements: [{ value: 'd', score: Number.NaN }] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetPutElements', ...Z, elements: [{ value: 'd', score: Number.POSITIVE_INFINITY }] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetPutElements', ...Z, elements: [{ value: 'd' }] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetPutElements', ...Z, elements: [] }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetFetchByRank', ...Z, startRank: 3, endRank: 1 }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetFetchByRank', ...Z, startRank: 2, endRank: 1 }, 'INVALID_ARGUMENT_ERROR');
  t.same(await c.ok({ t: 'sortedSetFetchByRank', ...Z, startRank: 2, endRank: 2 }), { hit: true, elements: [] }, 'startRank = endRank: an empty range, not refused');
  await fails({ t: 'sortedSetFetchByRank', ...Z, startRank: -2, endRank: -2 }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetFetchByScore', ...Z, minScore: 3, maxScore: 1 }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetFetchByScore', ...Z, minScore: 3, maxScore: 2.5 }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetFetchByScore', ...Z, offset: -1 }, 'INVALID_ARGUMENT_ERROR');
  await fails({ t: 'sortedSetFetchByRank', ...Z, order: 'sideways' }, 'INVALID_ARGUMENT_ERROR');
  t.same(await c.ok({ t: 'sortedSetIncrementScore', cache: 'app', sortedSet: 'big', value: 'v', amount: Number.MAX_VALUE }), { score: Number.MAX_VALUE });
  await fails({ t: 'sortedSetIncrementScore', cache: 'app', sortedSet: 'big', value: 'v', amount: Number.MAX_VALUE }, 'INVALID_ARGUMENT_ERROR');
  t.same(await c.ok({ t: 'sortedSetIncrementScore', cache: 'app', sortedSet: 'counted', value: 'v' }), { score: 1 }, 'amount defaults to 1');
  await fails({ t: 'sortedSetUnionStore', ...Z, sources: [] }, 'INVALID_ARGUMENT_ERROR');
  await c.ok({ t: 'set', cache: 'app', key: 'plain', value: 'v' });
  await fails({ t: 'sortedSetFetchByRank', cache: 'app', sortedSet: 'plain' }, 'FAILED_PRECONDITION_ERROR');
  await fails({ t: 'sortedSetUnionStore', cache: 'app', sortedSet: 'u', sources: [{ sortedSet: 'plain', weight: 1 }] }, 'FAILED_PRECONDITION_ERROR');

  // A union needs read on each source: a token for keys "lb-" may not fold in "board".
  const own = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheKeyPrefixReadWrite('app', 'lb-')));
  t.teardown(() => own.close());
  const refused = await own.request({ t: 'sortedSetUnionStore', cache: 'app', sortedSet: 'lb-all', sources: [{ sortedSet: 'board', weight: 1 }] });
  t.match(refused, { t: 'err', e: { code: 'PERMISSION_ERROR' } }, 'a source the token may not read');
  t.same(await c.ok({ t: 'itemGetType', cache: 'app', key: 'lb-all' }), { hit: false }, '...stores nothing');

  t.same((await http('sortedSetPutElements', { sortedSet: 'board', elements: [{ value: { base64: 'AP8=' }, score: -1 }] })).json, {}, 'HTTP: a binary value as { base64 }');
  t.same((await http('sortedSetFetchByRank', { sortedSet: 'board', endRank: 2 })).json, { hit: true, elements: [{ value: { base64: 'AP8=' }, score: -1 }, { value: { base64: 'YWRh' }, score: 3 }] }, 'HTTP: elements come back as { value: { base64 }, score }');
  t.same((await http('sortedSetUnionStore', { sortedSet: 'double', sources: [{ sortedSet: 'board', weight: 2 }], aggregate: 'sum', ttlMs: 5000 })).json, { length: 4 });
  t.same((await http('sortedSetGetScores', { sortedSet: 'double', values: ['bob', { base64: 'AP8=' }] })).json, { hit: true, scores: [7, -2] }, 'HTTP: the union, weighted');
  clock.advance(1000);
  t.same(await c.ok({ t: 'sortedSetUnionStore', cache: 'app', sortedSet: 'double', sources: [{ sortedSet: 'board', weight: 1 }], ttlMs: 9000 }), { length: 4 });
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'double' }), { hit: true, remainingTtlMs: 9000 }, 'a union replacing a sorted set takes the TTL of the union');
  t.equal((await http('sortedSetPutElements', { sortedSet: 'board', elements: [{ value: 'x', score: 'high' }] })).status, 400, 'HTTP: a score that is no number');
  t.same(await c.ok({ t: 'sortedSetRemoveElements', ...Z, values: ['ada', 'cy'] }), {});
  t.same(await c.ok({ t: 'sortedSetLength', ...Z }), { hit: true, length: 2 }, 'WebSocket sees the HTTP write and the removes');
  t.same(await c.ok({ t: 'sortedSetRemoveElements', ...Z }), {}, 'no values: the whole sorted set');
  t.same(await c.ok({ t: 'sortedSetLength', ...Z }), { hit: false });
});
