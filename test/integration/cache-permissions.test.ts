/** Cache permissions over a real server: role × cache × item selector (key, key prefix) against
 * every cache operation, plus pubAppend's two permissions. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor, type Frame } from '../helpers/raw-client.js';
import { PermissionScopes, type Scope } from '../../src/index.js';

type Need = 'read' | 'write' | 'both';

/** One request per operation, on cache `c` and key/list `k`, and what it needs. */
function operations(c: string, k: string): Array<[string, Frame, Need]> {
  const L = { cache: c, list: k };
  const K = { cache: c, key: k };
  // Dictionaries, sets and sorted sets under names of their own (k holds the seeded list): the key
  // selectors apply to those names as to a scalar's.
  const D = { cache: c, dictionary: `${k}-d` };
  const S = { cache: c, set: `${k}-s` };
  const Z = { cache: c, sortedSet: `${k}-z` };
  return [
    ['listPushBack', { t: 'listPushBack', ...L, value: 'v' }, 'write'],
    ['listPushFront', { t: 'listPushFront', ...L, value: 'v' }, 'write'],
    ['listConcatenateBack', { t: 'listConcatenateBack', ...L, values: ['v'] }, 'write'],
    ['listConcatenateFront', { t: 'listConcatenateFront', ...L, values: ['v'] }, 'write'],
    ['listRetain', { t: 'listRetain', ...L, startIndex: 0 }, 'write'],
    ['listRemoveValue', { t: 'listRemoveValue', ...L, value: 'nothing' }, 'write'],
    ['listFetch', { t: 'listFetch', ...L }, 'read'],
    ['listLength', { t: 'listLength', ...L }, 'read'],
    ['listPopBack', { t: 'listPopBack', ...L }, 'both'],
    ['listPopFront', { t: 'listPopFront', ...L }, 'both'],
    ['itemGetTtl', { t: 'itemGetTtl', ...K }, 'read'],
    ['updateTtl', { t: 'updateTtl', ...K, ttlMs: 60_000 }, 'write'],
    ['delete', { t: 'delete', cache: c, key: `${k}-scalar` }, 'write'],
    ['set', { t: 'set', cache: c, key: `${k}-scalar`, value: 'v' }, 'write'],
    ['get', { t: 'get', cache: c, key: `${k}-scalar` }, 'read'],
    // Momento's write-only role refuses increment (it returns the value) and conditional writes.
    ['increment', { t: 'increment', cache: c, key: `${k}-n` }, 'both'],
    ['setIf', { t: 'setIf', cache: c, key: `${k}-scalar`, value: 'v', condition: 'present' }, 'both'],
    ['getWithHash', { t: 'getWithHash', cache: c, key: `${k}-scalar` }, 'read'],
    ['setIfHash', { t: 'setIfHash', cache: c, key: `${k}-scalar`, value: 'v', condition: 'absentOrNotHashEqual', hash: 'h' }, 'both'],
    // Unconditional, it is a set (Momento's setWithHash).
    ['setIfHash unconditional', { t: 'setIfHash', cache: c, key: `${k}-scalar`, value: 'v', condition: 'unconditional' }, 'write'],
    ['listErase', { t: 'listErase', ...L, ranges: [{ beginIndex: 0, count: 1 }] }, 'write'],
    ['increaseTtl', { t: 'increaseTtl', ...K, ttlMs: 120_000 }, 'both'],
    ['decreaseTtl', { t: 'decreaseTtl', ...K, ttlMs: 1000 }, 'both'],
    ['dictionarySetFields', { t: 'dictionarySetFields', ...D, items: [{ field: 'f', value: 'v' }] }, 'write'],
    ['dictionaryGetFields', { t: 'dictionaryGetFields', ...D, fields: ['f'] }, 'read'],
    ['dictionaryFetch', { t: 'dictionaryFetch', ...D }, 'read'],
    ['dictionaryIncrement', { t: 'dictionaryIncrement', ...D, field: 'n', amount: 1 }, 'both'],
    ['dictionaryRemoveFields', { t: 'dictionaryRemoveFields', ...D, fields: ['gone'] }, 'write'],
    ['dictionaryLength', { t: 'dictionaryLength', ...D }, 'read'],
    ['setAddElements', { t: 'setAddElements', ...S, elements: ['e'] }, 'write'],
    ['setRemoveElements', { t: 'setRemoveElements', ...S, elements: ['gone'] }, 'write'],
    ['setFetch', { t: 'setFetch', ...S }, 'read'],
    ['setContainsElements', { t: 'setContainsElements', ...S, elements: ['e'] }, 'read'],
    ['setLength', { t: 'setLength', ...S }, 'read'],
    ['setPop', { t: 'setPop', ...S, count: 1 }, 'both'],
    ['setSample', { t: 'setSample', ...S, limit: 1 }, 'read'],
    ['sortedSetPutElements', { t: 'sortedSetPutElements', ...Z, elements: [{ value: 'e', score: 1 }] }, 'write'],
    ['sortedSetFetchByRank', { t: 'sortedSetFetchByRank', ...Z }, 'read'],
    ['sortedSetFetchByScore', { t: 'sortedSetFetchByScore', ...Z }, 'read'],
    ['sortedSetGetScores', { t: 'sortedSetGetScores', ...Z, values: ['e'] }, 'read'],
    ['sortedSetGetRank', { t: 'sortedSetGetRank', ...Z, value: 'e' }, 'read'],
    ['sortedSetIncrementScore', { t: 'sortedSetIncrementScore', ...Z, value: 'e', amount: 1 }, 'both'],
    ['sortedSetRemoveElements', { t: 'sortedSetRemoveElements', ...Z, values: ['gone'] }, 'write'],
    ['sortedSetLength', { t: 'sortedSetLength', ...Z }, 'read'],
    ['sortedSetLengthByScore', { t: 'sortedSetLengthByScore', ...Z, minScore: 0 }, 'read'],
    // Write on the destination, read on each source: here the same sorted set.
    ['sortedSetUnionStore', { t: 'sortedSetUnionStore', ...Z, sources: [{ sortedSet: Z.sortedSet, weight: 1 }] }, 'both'],
  ];
}

const allows = (role: string, need: Need) =>
  role === 'readwrite' || (role === 'readonly' && need === 'read') || (role === 'writeonly' && need === 'write');

testEachEngine('role × cache × item selector over every cache operation', async (t, engine) => {
  const server = await startServer(t, { engine });
  const admin = await RawClient.open(server, await tokenFor(server, PermissionScopes.allDataReadWrite()));
  t.teardown(() => admin.close());

  // [token name, scope, does it cover (cache, key)?, role]
  const tokens: Array<[string, Scope, (cache: string, key: string) => boolean, string]> = [
    ['readwrite cache app', PermissionScopes.cacheReadWrite('app'), (c) => c === 'app', 'readwrite'],
    ['readonly cache app', PermissionScopes.cacheReadOnly('app'), (c) => c === 'app', 'readonly'],
    ['writeonly cache app', PermissionScopes.cacheWriteOnly('app'), (c) => c === 'app', 'writeonly'],
    ['readwrite key app/user-1', PermissionScopes.cacheKeyReadWrite('app', 'user-1'), (c, k) => c === 'app' && k === 'user-1', 'readwrite'],
    ['readwrite prefix app/user-', PermissionScopes.cacheKeyPrefixReadWrite('app', 'user-'), (c, k) => c === 'app' && k.startsWith('user-'), 'readwrite'],
    ['readonly prefix app/user-', PermissionScopes.cacheKeyPrefixReadOnly('app', 'user-'), (c, k) => c === 'app' && k.startsWith('user-'), 'readonly'],
    ['writeonly key app/user-1', PermissionScopes.cacheKeyWriteOnly('app', 'user-1'), (c, k) => c === 'app' && k === 'user-1', 'writeonly'],
    ['readwrite every cache', PermissionScopes.cacheReadWrite('*'), () => true, 'readwrite'],
    ['topics only', PermissionScopes.topicPublishSubscribe('*', '*'), () => false, 'none'],
  ];
  const targets: Array<[string, string]> = [['app', 'user-1'], ['app', 'user-2'], ['app', 'other'], ['elsewhere', 'user-1']];

  let checked = 0;
  const wrong: string[] = [];
  for (const [name, scope, covers, role] of tokens) {
    const c = await RawClient.open(server, await tokenFor(server, scope));
    for (const [cache, key] of targets) {
      for (const [op, frame, need] of operations(cache, key)) {
        // Give reads something to find and writes something to change.
        await admin.ok({ t: 'listPushBack', cache, list: key, value: 'seed' });
        await admin.ok({ t: 'set', cache, key: `${key}-scalar`, value: 'seed' });
        const item = frame['list'] ?? frame['key'] ?? frame['dictionary'] ?? frame['set'] ?? frame['sortedSet'];
        const expected = covers(cache, item as string) && allows(role, need);
        const reply = await c.request(frame);
        const got = reply['t'] === 'ok' ? 'ok' : reply['e'].code;
        checked++;
        if (got !== (expected ? 'ok' : 'PERMISSION_ERROR')) wrong.push(`${name}: ${op} on ${cache}/${key} gave ${got}, expected ${expected ? 'ok' : 'PERMISSION_ERROR'}`);
      }
    }
    c.close();
  }
  t.same(wrong, [], `${checked} (token, operation, key) combinations allowed or refused as the role and selectors say`);
});

testEachEngine('readonly cannot write, writeonly cannot read, and what writeonly gets back', async (t, engine) => {
  const server = await startServer(t, { engine });
  const ro = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheReadOnly('app')));
  const wo = await RawClient.open(server, await tokenFor(server, PermissionScopes.cacheWriteOnly('app')));
  t.teardown(() => { ro.close(); wo.close(); });

  const push = await ro.request({ t: 'listPushBack', cache: 'app', list: 'l', value: 'x' });
  t.match(push, { t: 'err', e: { code: 'PERMISSION_ERROR', message: /may not write key "l" in cache "app"/ } });
  t.same(await wo.ok({ t: 'listPushBack', cache: 'app', list: 'l', value: 'x' }), { length: 1 }, 'writeonly: the write succeeds and reports the length (documented choice)');
  t.match(await wo.request({ t: 'listFetch', cache: 'app', list: 'l' }), { t: 'err', e: { code: 'PERMISSION_ERROR', message: /may not read/ } });
  t.match(await wo.request({ t: 'listPopBack', cache: 'app', list: 'l' }), { t: 'err', e: { code: 'PERMISSION_ERROR' } }, 'pop returns a value: it needs read too');
  t.same(await ro.ok({ t: 'listFetch', cache: 'app', list: 'l' }), { hit: true, values: ['x'] });
  t.match(await ro.request({ t: 'listPopFront', cache: 'app', list: 'l' }), { t: 'err', e: { code: 'PERMISSION_ERROR' } }, 'pop removes: it needs write too');
  t.same(await ro.ok({ t: 'listLength', cache: 'app', list: 'l' }), { hit: true, length: 1 }, 'refused pops removed nothing');

  // Momento's write-only role: no increment (it returns the value), no conditional write.
  t.match(await wo.request({ t: 'increment', cache: 'app', key: 'n' }), { t: 'err', e: { code: 'PERMISSION_ERROR', message: /may not read key "n"/ } });
  t.match(await wo.request({ t: 'setIf', cache: 'app', key: 's', value: 'v', condition: 'absent' }), { t: 'err', e: { code: 'PERMISSION_ERROR', message: /may not read key "s"/ } });
  t.match(await ro.request({ t: 'increment', cache: 'app', key: 'n' }), { t: 'err', e: { code: 'PERMISSION_ERROR', message: /may not write key "n"/ } });
  t.match(await ro.request({ t: 'setIf', cache: 'app', key: 's', value: 'v', condition: 'absent' }), { t: 'err', e: { code: 'PERMISSION_ERROR', message: /may not write/ } });
  t.same(await ro.ok({ t: 'get', cache: 'app', key: 'n' }), { hit: false }, 'the refused increment created nothing');
  t.same(await ro.ok({ t: 'get', cache: 'app', key: 's' }), { hit: false }, 'the refused setIf stored nothing');
});

testEachEngine('pubAppend needs publish on the topic and write on the list', async (t, engine) => {
  const server = await startServer(t, { engine });
  const cases: Array<[string, Scope, boolean]> = [
    ['publishonly + writeonly', PermissionScopes.combine(PermissionScopes.topicPublishOnly('chat', 'room'), PermissionScopes.cacheKeyWriteOnly('chat', 'room-history')), true],
    ['publishsubscribe + readwrite', PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', '*'), PermissionScopes.cacheReadWrite('chat')), true],
    ['subscribeonly + readwrite', PermissionScopes.combine(PermissionScopes.topicSubscribeOnly('chat', 'room'), PermissionScopes.cacheReadWrite('chat')), false],
    ['publishsubscribe + readonly', PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', 'room'), PermissionScopes.cacheReadOnly('chat')), false],
    ['publish on another topic + readwrite', PermissionScopes.combine(PermissionScopes.topicPublishOnly('chat', 'lobby'), PermissionScopes.cacheReadWrite('chat')), false],
    ['publishsubscribe + write on another key', PermissionScopes.combine(PermissionScopes.topicPublishSubscribe('chat', 'room'), PermissionScopes.cacheKeyWriteOnly('chat', 'other')), false],
    ['cache only', PermissionScopes.cacheReadWrite('chat'), false],
  ];
  const watcher = await RawClient.open(server, await tokenFor(server, PermissionScopes.allDataReadWrite()));
  t.teardown(() => watcher.close());
  await watcher.ok({ t: 'sub', cache: 'chat', topic: 'room' });
  let published = 0;
  for (const [name, scope, allowed] of cases) {
    const c = await RawClient.open(server, await tokenFor(server, scope));
    const reply = await c.request({ t: 'pubAppend', cache: 'chat', topic: 'room', list: 'room-history', value: name });
    if (allowed) {
      t.match(reply, { t: 'ok', r: { seq: ++published } }, `${name}: allowed`);
    } else {
      t.match(reply, { t: 'err', e: { code: 'PERMISSION_ERROR' } }, `${name}: refused`);
    }
    c.close();
  }
  const items = await watcher.items(published);
  t.same(items.map((i) => i['value']), cases.filter((c) => c[2]).map((c) => c[0]), 'only allowed pubAppends were published');
  t.same((await watcher.ok({ t: 'listFetch', cache: 'chat', list: 'room-history' }))['values'], cases.filter((c) => c[2]).map((c) => c[0]), 'and only they were appended');
  t.same(await watcher.drain('item', 100), [], 'no refused pubAppend leaked an item');
});
