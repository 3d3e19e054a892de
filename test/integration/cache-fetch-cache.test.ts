import t from 'tap';
import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { sdkFor } from '../helpers/sdk.js';
import { PermissionScopes } from '../../src/index.js';
import { CacheListFetch } from '../../src/client/index.js';

/** On Redis there is no fetch cache (store.fetchCacheBytes is the memory store's): the same
 * sequence then checks that every fetch sees every write. */
testEachEngine('fetch cache - repeated fetches are served from the cache and every write invalidates it', async (t, engine) => {
  for (const fetchCacheBytes of [16 * 1024 * 1024, 0]) {
    const server = await startServer(t, { engine, config: { store: { fetchCacheBytes } } });
    const c = await RawClient.open(server, await tokenFor(server, PermissionScopes.combine(PermissionScopes.cacheReadWrite('chat'), PermissionScopes.topicPublishSubscribe('chat', '*'))));
    const fetch = async (extra: Record<string, unknown> = {}) => (await c.ok({ t: 'listFetch', cache: 'chat', list: 'h', ...extra }));
    const label = fetchCacheBytes ? 'cache on' : 'cache off';
    await c.ok({ t: 'listConcatenateBack', cache: 'chat', list: 'h', values: ['a', 'b', 'c'] });
    t.same(await fetch(), { hit: true, values: ['a', 'b', 'c'] }, `${label}: first fetch`);
    t.same(await fetch(), { hit: true, values: ['a', 'b', 'c'] }, `${label}: repeated fetch`);
    t.same(await fetch({ startIndex: -2 }), { hit: true, values: ['b', 'c'] }, `${label}: another range is its own entry`);
    await c.ok({ t: 'listPushBack', cache: 'chat', list: 'h', value: 'd', truncateFrontToSize: 3 });
    t.same(await fetch(), { hit: true, values: ['b', 'c', 'd'] }, `${label}: a push invalidates`);
    t.same(await fetch({ startIndex: -2 }), { hit: true, values: ['c', 'd'] }, `${label}: every range`);
    await c.ok({ t: 'listRemoveValue', cache: 'chat', list: 'h', value: 'c' });
    t.same(await fetch(), { hit: true, values: ['b', 'd'] }, `${label}: a removal invalidates`);
    await c.ok({ t: 'listPopFront', cache: 'chat', list: 'h' });
    await c.ok({ t: 'pubAppend', cache: 'chat', topic: 'h', list: 'h', value: 'e' });
    t.match(await fetch({ withMeta: true }), { hit: true, items: [{ value: 'd' }, { value: 'e', seq: 1 }] }, `${label}: pops and pubAppend invalidate; withMeta is its own entry`);
    await c.ok({ t: 'delete', cache: 'chat', key: 'h' });
    t.same(await fetch(), { hit: false }, `${label}: a deleted list is a Miss`);
    await c.ok({ t: 'listPushBack', cache: 'chat', list: 'h', value: 'new' });
    t.same(await fetch(), { hit: true, values: ['new'] }, `${label}: a recreated list is not confused with the old one`);
  }
});

/** The memory store's fetch reply is encoded once and its `ok` frame reused with each request's id
 * written in (engine/replies.ts): over WebSocket the very same buffer is sent for every id, so a
 * transport that held on to it would deliver a later id's bytes. Many fetches in flight on two
 * connections, ids past the reused frame's 32-bit slot, and the SDK over http (whose transport
 * queues frames) at the same time must each get their own reply. */
t.test('fetch cache - a reused reply frame carries each request\'s own id on every transport', async (t) => {
  const server = await startServer(t, { engine: 'memory' });
  const scope = PermissionScopes.combine(PermissionScopes.cacheReadWrite('chat'), PermissionScopes.topicPublishSubscribe('chat', '*'));
  const a = await RawClient.open(server, await tokenFor(server, scope));
  const b = await RawClient.open(server, await tokenFor(server, scope));
  const sdk = await sdkFor(t, server, { transport: 'http', webSocket: undefined });
  const values = Array.from({ length: 100 }, (_, i) => `message ${i} `.padEnd(100, 'x'));
  await a.ok({ t: 'listConcatenateBack', cache: 'chat', list: 'h', values });
  const fetch = { t: 'listFetch', cache: 'chat', list: 'h', startIndex: -100 };
  const ids = [...Array.from({ length: 150 }, (_, i) => i + 1), 0, 0xffffffff, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
  const replies = await Promise.all([
    ...ids.map((id) => a.request({ ...fetch, id })),
    ...ids.map((id) => b.request({ ...fetch, id })),
    ...Array.from({ length: 10 }, () => sdk.cache.listFetch('chat', 'h', { startIndex: -100 })),
  ]);
  const raw = replies.slice(0, 2 * ids.length) as Array<Record<string, unknown>>;
  t.same(raw.map((r) => r['id']), [...ids, ...ids], 'every reply has its request\'s id');
  t.ok(raw.every((r) => r['t'] === 'ok' && JSON.stringify(r['r']) === JSON.stringify({ hit: true, values })), 'and the whole list');
  const viaHttp = replies.slice(2 * ids.length) as unknown[];
  t.ok(viaHttp.every((r) => r instanceof CacheListFetch.Hit && JSON.stringify(r.valueListString()) === JSON.stringify(values)), 'the SDK over http gets the same list');
  t.equal(a.frames.length + b.frames.length, 0, 'no reply unmatched (a wrong id would be left over)');
  await a.ok({ t: 'listPushBack', cache: 'chat', list: 'h', value: 'new', truncateFrontToSize: 100 });
  t.same((await b.ok(fetch))['values'], [...values.slice(1), 'new'], 'a write still invalidates the cached frame');
});
