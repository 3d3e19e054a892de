/** Lists and scalars over a real server and WebSocket: every request frame, its reply shape, its
 * typed errors, and TTLs driven by a ManualClock (no sleeps). Each test runs on both engines. */
import { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { ManualClock, PermissionScopes, type TidingsServer } from '../../src/index.js';

async function client(t: Test, server: TidingsServer): Promise<RawClient> {
  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('app'), PermissionScopes.topicPublishSubscribe('app', '*'));
  const c = await RawClient.open(server, await tokenFor(server, scope, { tokenId: 'alice' }));
  t.teardown(() => c.close());
  return c;
}

async function fails(c: RawClient, frame: Frame, code: string, cause?: string): Promise<Frame> {
  const reply = await c.request(frame);
  if (reply['t'] !== 'err') throw new Error(`${frame['t']} should fail with ${code}, got ${JSON.stringify(reply)}`);
  if (reply['e'].code !== code || (cause !== undefined && reply['e'].cause !== cause)) {
    throw new Error(`${frame['t']}: expected ${code}/${cause}, got ${JSON.stringify(reply['e'])}`);
  }
  return reply['e'];
}

testEachEngine('list operations: requests, replies, misses', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await client(t, server);
  const L = { cache: 'app', list: 'l' };
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: false }, 'fetch of an absent list is a Miss');
  t.same(await c.ok({ t: 'listLength', ...L }), { hit: false });
  t.same(await c.ok({ t: 'listPopBack', ...L }), { hit: false });
  t.same(await c.ok({ t: 'listPopFront', ...L }), { hit: false });
  t.same(await c.ok({ t: 'listRetain', ...L, startIndex: 0, endIndex: 1 }), {}, 'retain of an absent list: Success');
  t.same(await c.ok({ t: 'listRemoveValue', ...L, value: 'x' }), {}, 'remove from an absent list: Success');

  t.same(await c.ok({ t: 'listConcatenateBack', ...L, values: ['1', '2', '3'] }), { length: 3 });
  t.same(await c.ok({ t: 'listConcatenateBack', ...L, values: ['4', '5', '6'], truncateFrontToSize: 5 }), { length: 5 });
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: true, values: ['2', '3', '4', '5', '6'] }, 'Momento docs example');
  t.same(await c.ok({ t: 'listPushBack', ...L, value: '7', truncateFrontToSize: 5 }), { length: 5 });
  t.same(await c.ok({ t: 'listPushFront', ...L, value: '0', truncateBackToSize: 5 }), { length: 5 });
  t.same(await c.ok({ t: 'listConcatenateFront', ...L, values: ['a', 'b'] }), { length: 7 });
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: true, values: ['a', 'b', '0', '3', '4', '5', '6'] });
  t.same(await c.ok({ t: 'listFetch', ...L, startIndex: -3 }), { hit: true, values: ['4', '5', '6'] }, 'negative start = last 3');
  t.same(await c.ok({ t: 'listFetch', ...L, startIndex: 1, endIndex: -4 }), { hit: true, values: ['b', '0'] });
  t.same(await c.ok({ t: 'listFetch', ...L, startIndex: 100 }), { hit: true, values: [] }, 'out of range: empty Hit');
  t.same(await c.ok({ t: 'listLength', ...L }), { hit: true, length: 7 });
  t.same(await c.ok({ t: 'listPopFront', ...L }), { hit: true, value: 'a', length: 6 });
  t.same(await c.ok({ t: 'listPopBack', ...L }), { hit: true, value: '6', length: 5 });
  t.same(await c.ok({ t: 'listRetain', ...L, startIndex: 1, endIndex: 4 }), {});
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: true, values: ['0', '3', '4'] });
  await c.ok({ t: 'listConcatenateBack', ...L, values: ['3', Buffer.from('3'), 'x'] });
  t.same(await c.ok({ t: 'listRemoveValue', ...L, value: '3' }), {});
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: true, values: ['0', '4', 'x'] }, 'every equal element removed (text and its bytes)');

  const bin = await c.ok({ t: 'listPushBack', cache: 'app', list: 'bin', value: new Uint8Array([0, 1, 255]) });
  t.same(bin, { length: 1 });
  const fetched = await c.ok({ t: 'listFetch', cache: 'app', list: 'bin' });
  t.ok(fetched['values'][0] instanceof Uint8Array, 'a binary element comes back as binary');
  t.same([...fetched['values'][0]], [0, 1, 255]);

  await c.ok({ t: 'listPopBack', cache: 'app', list: 'bin' });
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'bin' }), { hit: false }, 'an emptied list is a Miss');
});

testEachEngine('scalars: get, set, delete and TTL with an injected clock', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { store: { defaultTtlSec: 60, maxTtlSec: 3600 }, moderation: { historyTtlSec: 3600 } } });
  const c = await client(t, server);
  const K = { cache: 'app', key: 'k' };
  t.same(await c.ok({ t: 'get', ...K }), { hit: false });
  t.same(await c.ok({ t: 'set', ...K, value: 'hello' }), {});
  t.same(await c.ok({ t: 'get', ...K }), { hit: true, value: 'hello' });
  t.same(await c.ok({ t: 'itemGetTtl', ...K }), { hit: true, remainingTtlMs: 60_000 }, 'default TTL');
  t.same(await c.ok({ t: 'set', cache: 'app', key: 'b', value: new Uint8Array([7, 8]), ttlMs: 2000 }), {});
  const b = await c.ok({ t: 'get', cache: 'app', key: 'b' });
  t.ok(b['value'] instanceof Uint8Array, 'binary stays binary');
  clock.advance(1500);
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'b' }), { hit: true, remainingTtlMs: 500 });
  t.same(await c.ok({ t: 'updateTtl', cache: 'app', key: 'b', ttlMs: 10_000 }), { hit: true }, 'updateTtl: Set');
  clock.advance(9_999);
  t.same(await c.ok({ t: 'get', cache: 'app', key: 'b' }), { hit: true, value: new Uint8Array([7, 8]) });
  clock.advance(2);
  t.same(await c.ok({ t: 'get', cache: 'app', key: 'b' }), { hit: false }, 'expired');
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'b' }), { hit: false });
  t.same(await c.ok({ t: 'updateTtl', cache: 'app', key: 'b', ttlMs: 1000 }), { hit: false }, 'updateTtl: Miss');
  t.same(await c.ok({ t: 'increaseTtl', cache: 'app', key: 'b', ttlMs: 1000 }), { hit: false }, 'increaseTtl: Miss');
  await c.ok({ t: 'set', cache: 'app', key: 'c', value: 'v', ttlMs: 2000 });
  t.same(await c.ok({ t: 'increaseTtl', cache: 'app', key: 'c', ttlMs: 2000 }), { hit: true, set: false }, 'increaseTtl to the same: NotSet');
  t.same(await c.ok({ t: 'increaseTtl', cache: 'app', key: 'c', ttlMs: 3000 }), { hit: true, set: true }, 'increaseTtl: Set');
  t.same(await c.ok({ t: 'decreaseTtl', cache: 'app', key: 'c', ttlMs: 500 }), { hit: true, set: true }, 'decreaseTtl: Set');
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'c' }), { hit: true, remainingTtlMs: 500 });
  await fails(c, { t: 'increaseTtl', cache: 'app', key: 'c' }, 'INVALID_ARGUMENT_ERROR');
  await fails(c, { t: 'increaseTtl', cache: 'app', key: 'c', ttlMs: 3_600_001 }, 'LIMIT_EXCEEDED_ERROR', 'ttl_limit_exceeded');
  t.same(await c.ok({ t: 'delete', ...K }), {});
  t.same(await c.ok({ t: 'get', ...K }), { hit: false });
  t.same(await c.ok({ t: 'delete', ...K }), {}, 'delete of an absent key: Success');

  // Collection TTL over the wire: refresh on by default, off with refreshTtl: false.
  await c.ok({ t: 'listPushBack', cache: 'app', list: 'h', value: '1', ttlMs: 1000 });
  clock.advance(600);
  await c.ok({ t: 'listPushBack', cache: 'app', list: 'h', value: '2', ttlMs: 1000, refreshTtl: false });
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'h' }), { hit: true, remainingTtlMs: 400 }, 'refreshTtl false keeps the expiry');
  await c.ok({ t: 'listPushBack', cache: 'app', list: 'h', value: '3', ttlMs: 1000 });
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'h' }), { hit: true, remainingTtlMs: 1000 }, 'a refreshing write resets it');
  // listRetain takes the same CollectionTtl: refreshTtl false keeps the expiry, a refreshing retain sets it.
  clock.advance(300);
  await c.ok({ t: 'listRetain', cache: 'app', list: 'h', startIndex: 1, ttlMs: 5000, refreshTtl: false });
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'h' }), { hit: true, remainingTtlMs: 700 }, 'a listRetain with refreshTtl false keeps the expiry');
  await c.ok({ t: 'listRetain', cache: 'app', list: 'h', startIndex: 0, ttlMs: 2000 });
  t.same(await c.ok({ t: 'itemGetTtl', cache: 'app', key: 'h' }), { hit: true, remainingTtlMs: 2000 }, 'a refreshing listRetain sets it');
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'h' }), { hit: true, values: ['2', '3'] }, 'the retained elements');
  clock.advance(2001);
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'h' }), { hit: false }, 'the list expired');
});

testEachEngine('bad input and limits get typed errors naming the cause', async (t, engine) => {
  const server = await startServer(t, {
    engine,
    config: {
      store: { maxElementBytes: 100, maxItemBytes: 300, maxListLength: 4, maxTtlSec: 60, defaultTtlSec: 30, caches: ['app'] },
      moderation: { historyTtlSec: 60, historyLength: 4 },
    },
  });
  const c = await client(t, server);
  const L = { cache: 'app', list: 'l' };
  await fails(c, { t: 'listPushBack', ...L, value: 'x'.repeat(101) }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  await fails(c, { t: 'listConcatenateBack', ...L, values: ['ok', new Uint8Array(101)] }, 'LIMIT_EXCEEDED_ERROR', 'element_size_limit_exceeded');
  await fails(c, { t: 'listConcatenateBack', ...L, values: ['1', '2', '3', '4', '5'] }, 'LIMIT_EXCEEDED_ERROR', 'list_length_limit_exceeded');
  t.same(await c.ok({ t: 'listConcatenateBack', ...L, values: ['1', '2', '3', '4', '5'], truncateFrontToSize: 4 }), { length: 4 });
  await fails(c, { t: 'listConcatenateBack', cache: 'app', list: 'big', values: ['x'.repeat(100), 'x'.repeat(100), 'x'.repeat(100)] }, 'LIMIT_EXCEEDED_ERROR', 'item_size_limit_exceeded');
  await fails(c, { t: 'set', cache: 'app', key: 'k', value: 'x'.repeat(301) }, 'LIMIT_EXCEEDED_ERROR', 'item_size_limit_exceeded');
  await fails(c, { t: 'set', cache: 'app', key: 'k', value: 'v', ttlMs: 60_001 }, 'LIMIT_EXCEEDED_ERROR', 'ttl_limit_exceeded');
  await fails(c, { t: 'listPushBack', ...L, value: 'v', ttlMs: 61_000 }, 'LIMIT_EXCEEDED_ERROR', 'ttl_limit_exceeded');
  await fails(c, { t: 'updateTtl', cache: 'app', key: 'l', ttlMs: 61_000 }, 'LIMIT_EXCEEDED_ERROR', 'ttl_limit_exceeded');
  t.same(await c.ok({ t: 'set', cache: 'app', key: 'k', value: 'v', ttlMs: 60_000 }), {}, 'exactly maxTtlSec is fine');

  const invalid: Frame[] = [
    { t: 'set', cache: 'app', key: 'k', value: 'v', ttlMs: 0 },
    { t: 'set', cache: 'app', key: 'k', value: 'v', ttlMs: 1.5 },
    { t: 'set', cache: 'app', key: 'k', value: 12 },
    { t: 'set', cache: 'app', key: '', value: 'v' },
    { t: 'get', cache: 'app' },
    { t: 'updateTtl', cache: 'app', key: 'k' },
    { t: 'listPushBack', ...L },
    { t: 'listPushBack', ...L, value: 'v', truncateFrontToSize: 0 },
    { t: 'listPushBack', ...L, value: 'v', refreshTtl: 'yes' },
    { t: 'listConcatenateBack', ...L, values: [] },
    { t: 'listConcatenateBack', ...L, values: 'abc' },
    { t: 'listFetch', ...L, startIndex: 0, endIndex: 0 },
    { t: 'listFetch', ...L, startIndex: 3, endIndex: 1 },
    { t: 'listFetch', ...L, startIndex: -1, endIndex: -2 },
    { t: 'listFetch', ...L, startIndex: 'a' },
    { t: 'listFetch', ...L, withMeta: 1 },
    { t: 'listFetch', cache: 'app', list: 'bad\u0000name' },
    { t: 'pubAppend', ...L, value: 'v' },
  ];
  for (const frame of invalid) await fails(c, frame, 'INVALID_ARGUMENT_ERROR');
  t.pass(`${invalid.length} malformed requests refused with INVALID_ARGUMENT_ERROR`);

  await c.ok({ t: 'set', cache: 'app', key: 's', value: 'scalar' });
  await fails(c, { t: 'listPushBack', cache: 'app', list: 's', value: 'x' }, 'FAILED_PRECONDITION_ERROR');
  await fails(c, { t: 'get', cache: 'app', key: 'l' }, 'FAILED_PRECONDITION_ERROR');
  await fails(c, { t: 'get', cache: 'elsewhere', key: 'k' }, 'PERMISSION_ERROR');
  const admin = await RawClient.open(server, await tokenFor(server, PermissionScopes.allDataReadWrite()));
  t.teardown(() => admin.close());
  await fails(admin, { t: 'get', cache: 'elsewhere', key: 'k' }, 'NOT_FOUND_ERROR');
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: true, values: ['2', '3', '4', '5'] }, 'refused writes changed nothing');
});

testEachEngine('increment, setIf, getWithHash, setIfHash and listErase over the wire: replies, TTLs, typed errors, idempotency keys', async (t, engine) => {
  const clock = new ManualClock(Date.now());
  const server = await startServer(t, { engine, clock, config: { store: { defaultTtlSec: 60, maxTtlSec: 3600, maxItemBytes: 300, maxElementBytes: 100 }, moderation: { historyTtlSec: 3600 } } });
  const c = await client(t, server);
  const N = { cache: 'app', key: 'n' };
  t.same(await c.ok({ t: 'increment', ...N }), { value: 1 }, 'amount defaults to 1');
  t.same(await c.ok({ t: 'increment', ...N, amount: 41, ttlMs: 2000 }), { value: 42 });
  t.same(await c.ok({ t: 'get', ...N }), { hit: true, value: '42' });
  t.same(await c.ok({ t: 'itemGetTtl', ...N }), { hit: true, remainingTtlMs: 2000 }, 'the increment set the TTL');
  t.same(await c.ok({ t: 'increment', ...N, amount: -50 }), { value: -8 });
  t.same(await c.ok({ t: 'itemGetTtl', ...N }), { hit: true, remainingTtlMs: 60_000 }, 'no ttlMs: the default, as a set');
  await c.ok({ t: 'set', cache: 'app', key: 'word', value: 'five' });
  t.match((await fails(c, { t: 'increment', cache: 'app', key: 'word' }, 'FAILED_PRECONDITION_ERROR'))['message'], /does not hold a base-10 integer/, 'the message says why: no integer held');
  await c.ok({ t: 'set', cache: 'app', key: 'max', value: '9223372036854775807' });
  t.match((await fails(c, { t: 'increment', cache: 'app', key: 'max' }, 'FAILED_PRECONDITION_ERROR'))['message'], /would leave the signed 64-bit range/, '...or a result past 64 bits');

  const K = { cache: 'app', key: 'lock' };
  t.same(await c.ok({ t: 'setIf', ...K, value: 'ada', condition: 'absent', ttlMs: 1000 }), { stored: true });
  t.same(await c.ok({ t: 'setIf', ...K, value: 'bob', condition: 'absent' }), { stored: false });
  t.same(await c.ok({ t: 'setIf', ...K, value: 'bob', condition: 'equal', compare: 'bob' }), { stored: false });
  t.same(await c.ok({ t: 'setIf', ...K, value: 'ada2', condition: 'equal', compare: new TextEncoder().encode('ada'), ttlMs: 3000 }), { stored: true }, 'compare as bytes');
  t.same(await c.ok({ t: 'setIf', ...K, value: 'x', condition: 'presentAndNotEqual', compare: 'ada2' }), { stored: false });
  t.same(await c.ok({ t: 'setIf', ...K, value: 'y', condition: 'notEqual', compare: 'zzz', ttlMs: 500 }), { stored: true });
  t.same(await c.ok({ t: 'get', ...K }), { hit: true, value: 'y' });
  clock.advance(500);
  t.same(await c.ok({ t: 'setIf', ...K, value: 'late', condition: 'absentOrEqual', compare: 'nope' }), { stored: false }, 'still there at its expiry instant');
  clock.advance(1);
  t.same(await c.ok({ t: 'setIf', ...K, value: 'late', condition: 'absentOrEqual', compare: 'nope' }), { stored: true }, 'expired: absent');
  t.same(await c.ok({ t: 'setIf', cache: 'app', key: 'nobody', value: 'v', condition: 'present' }), { stored: false });
  t.same(await c.ok({ t: 'get', cache: 'app', key: 'nobody' }), { hit: false });
  await fails(c, { t: 'setIf', ...K, value: 'x'.repeat(301), condition: 'absent' }, 'LIMIT_EXCEEDED_ERROR', 'item_size_limit_exceeded');
  await fails(c, { t: 'setIf', ...K, value: 'v', condition: 'absent', ttlMs: 3_600_001 }, 'LIMIT_EXCEEDED_ERROR', 'ttl_limit_exceeded');
  await fails(c, { t: 'increment', ...N, ttlMs: 3_600_001 }, 'LIMIT_EXCEEDED_ERROR', 'ttl_limit_exceeded');

  // Compare-and-set by hash: the hash getWithHash reads is the one the conditions compare.
  const H = { cache: 'app', key: 'doc' };
  const sha1 = (value: string | Uint8Array) => createHash('sha1').update(value).digest('hex');
  t.same(await c.ok({ t: 'getWithHash', ...H }), { hit: false });
  t.same(await c.ok({ t: 'setIfHash', ...H, value: 'v1', condition: 'presentAndHashEqual', hash: sha1('v1') }), { stored: false }, 'presentAndHashEqual: missing');
  t.same(await c.ok({ t: 'setIfHash', ...H, value: 'v1', condition: 'absentOrHashEqual', hash: sha1('zzz'), ttlMs: 2000 }), { stored: true, hash: sha1('v1') }, 'absentOrHashEqual: missing');
  const read = await c.ok({ t: 'getWithHash', ...H });
  t.same(read, { hit: true, value: 'v1', hash: sha1('v1') }, 'the SHA-1 of the value in hex');
  t.same(await c.ok({ t: 'itemGetTtl', ...H }), { hit: true, remainingTtlMs: 2000 }, 'the stored value got its ttlMs');
  t.same(await c.ok({ t: 'setIfHash', ...H, value: 'v2', condition: 'presentAndNotHashEqual', hash: read['hash'] }), { stored: false }, 'presentAndNotHashEqual: equal');
  t.same(await c.ok({ t: 'itemGetTtl', ...H }), { hit: true, remainingTtlMs: 2000 }, 'not stored: the expiry is unchanged');
  t.same(await c.ok({ t: 'setIfHash', ...H, value: 'v2', condition: 'presentAndHashEqual', hash: new TextEncoder().encode(read['hash'] as string) }), { stored: true, hash: sha1('v2') }, 'a hash as bytes compares as its text');
  t.same(await c.ok({ t: 'itemGetTtl', ...H }), { hit: true, remainingTtlMs: 60_000 }, 'no ttlMs: the default, as a set');
  t.same(await c.ok({ t: 'setIfHash', ...H, value: 'v3', condition: 'absentOrNotHashEqual', hash: sha1('v2') }), { stored: false }, 'absentOrNotHashEqual: equal');
  t.same(await c.ok({ t: 'setIfHash', ...H, value: new Uint8Array([0, 255]), condition: 'unconditional' }), { stored: true, hash: sha1(new Uint8Array([0, 255])) });
  t.same(await c.ok({ t: 'getWithHash', ...H }), { hit: true, value: new Uint8Array([0, 255]), hash: sha1(new Uint8Array([0, 255])) }, 'binary stays binary');
  await c.ok({ t: 'listPushBack', cache: 'app', list: 'hl', value: 'a' });
  await fails(c, { t: 'getWithHash', cache: 'app', key: 'hl' }, 'FAILED_PRECONDITION_ERROR');
  await fails(c, { t: 'setIfHash', cache: 'app', key: 'hl', value: 'v', condition: 'absentOrNotHashEqual', hash: sha1('a') }, 'FAILED_PRECONDITION_ERROR');
  await fails(c, { t: 'setIfHash', ...H, value: 'x'.repeat(301), condition: 'absentOrHashEqual', hash: 'h' }, 'LIMIT_EXCEEDED_ERROR', 'item_size_limit_exceeded');

  const L = { cache: 'app', list: 'l' };
  t.same(await c.ok({ t: 'listErase', ...L }), { hit: false });
  await c.ok({ t: 'listConcatenateBack', ...L, values: ['a', 'b', 'c', 'd'] });
  t.same(await c.ok({ t: 'listErase', ...L, ranges: [{ beginIndex: 0, count: 1 }, { beginIndex: 2, count: 1 }] }), { hit: true, length: 2 });
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: true, values: ['b', 'd'] });
  t.same(await c.ok({ t: 'listErase', ...L }), { hit: true, length: 0 }, 'no ranges: all');
  t.same(await c.ok({ t: 'listFetch', ...L }), { hit: false });

  const invalid: Frame[] = [
    { t: 'increment', ...N, amount: 1.5 },
    { t: 'increment', ...N, amount: 2 ** 64 },
    { t: 'increment', ...N, amount: '1' },
    { t: 'setIf', ...K, value: 'v' },
    { t: 'setIf', ...K, value: 'v', condition: 'sometimes' },
    { t: 'setIf', ...K, value: 'v', condition: 'equal' },
    { t: 'setIf', ...K, value: 'v', condition: 'absent', compare: 'v' },
    { t: 'setIf', ...K, condition: 'absent' },
    { t: 'setIfHash', ...K, value: 'v' },
    { t: 'setIfHash', ...K, value: 'v', condition: 'equal', hash: 'h' },
    { t: 'setIfHash', ...K, value: 'v', condition: 'presentAndHashEqual' },
    { t: 'setIfHash', ...K, value: 'v', condition: 'unconditional', hash: 'h' },
    { t: 'setIfHash', ...K, value: 'v', condition: 'absentOrHashEqual', hash: 7 },
    { t: 'setIfHash', ...K, condition: 'unconditional' },
    { t: 'listErase', ...L, ranges: [{ beginIndex: -1, count: 1 }] },
    { t: 'listErase', ...L, ranges: [{ beginIndex: 0 }] },
    { t: 'listErase', ...L, ranges: {} },
  ];
  for (const frame of invalid) await fails(c, frame, 'INVALID_ARGUMENT_ERROR');

  // A retried increment or setIf with its idempotencyKey is answered, not applied again.
  const first = await c.ok({ t: 'increment', cache: 'app', key: 'once', amount: 5, idempotencyKey: 'inc-1' });
  t.same(await c.ok({ t: 'increment', cache: 'app', key: 'once', amount: 5, idempotencyKey: 'inc-1' }), first, 'the first answer');
  t.same(await c.ok({ t: 'get', cache: 'app', key: 'once' }), { hit: true, value: '5' }, 'applied once');
  t.same(await c.ok({ t: 'setIf', cache: 'app', key: 'own', value: 'v', condition: 'absent', idempotencyKey: 'own-1' }), { stored: true });
  t.same(await c.ok({ t: 'setIf', cache: 'app', key: 'own', value: 'v', condition: 'absent', idempotencyKey: 'own-1' }), { stored: true }, 'the retry hears "stored", not "not stored"');
  const cas = { t: 'setIfHash', cache: 'app', key: 'own', value: 'w', condition: 'presentAndHashEqual', hash: sha1('v'), idempotencyKey: 'own-2' };
  t.same(await c.ok(cas), { stored: true, hash: sha1('w') });
  t.same(await c.ok(cas), { stored: true, hash: sha1('w') }, 'a setIfHash retry hears its first answer too');
});

testEachEngine('pubAppend over the wire: item published, element stored with its origin', async (t, engine) => {
  const server = await startServer(t, { engine });
  const c = await client(t, server);
  const sub = await c.ok({ t: 'sub', cache: 'app', topic: 'room' });
  const r = await c.ok({ t: 'pubAppend', cache: 'app', topic: 'room', list: 'room-history', value: 'hi', truncateFrontToSize: 2 });
  const [item] = await c.items(1);
  t.match(item, { t: 'item', cache: 'app', topic: 'room', value: 'hi', seq: 1, page: sub['page'], tokenId: 'alice', ts: Number });
  t.same(r, { seq: 1, page: sub['page'], ts: item!['ts'], length: 1 }, "the reply has the item's ts, as a pub's does");
  await c.ok({ t: 'pubAppend', cache: 'app', topic: 'room', list: 'room-history', value: new Uint8Array([2]), truncateFrontToSize: 2 });
  const third = await c.ok({ t: 'pubAppend', cache: 'app', topic: 'room', list: 'room-history', value: 'three', truncateFrontToSize: 2 });
  const items = await c.items(2);
  t.same(third, { seq: 3, page: sub['page'], ts: items[1]!['ts'], length: 2 }, 'capped at 2');
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'room-history' }), { hit: true, values: [new Uint8Array([2]), 'three'] }, 'plain fetch stays Momento-exact');
  t.same(await c.ok({ t: 'listFetch', cache: 'app', list: 'room-history', withMeta: true }), {
    hit: true,
    items: [
      { value: new Uint8Array([2]), page: sub['page'], seq: 2, tokenId: 'alice', ts: items[0]!['ts'] },
      { value: 'three', page: sub['page'], seq: 3, tokenId: 'alice', ts: items[1]!['ts'] },
    ],
  }, 'withMeta gives each element the (page, seq, tokenId, ts) of its item');
  await c.ok({ t: 'listPushBack', cache: 'app', list: 'room-history', value: 'plain' });
  const mixed = await c.ok({ t: 'listFetch', cache: 'app', list: 'room-history', withMeta: true, startIndex: -1 });
  t.same(mixed, { hit: true, items: [{ value: 'plain' }] }, 'an element from a plain push has no origin');
  await fails(c, { t: 'pubAppend', cache: 'app', topic: 'room', list: 'room-history', value: 'x'.repeat(70 * 1024) }, 'LIMIT_EXCEEDED_ERROR', 'value_size_limit_exceeded');
});
