import { startServer, testEachEngine } from '../helpers/server.js';
import { RawClient, tokenFor } from '../helpers/raw-client.js';
import { PermissionScopes } from '../../src/index.js';

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
