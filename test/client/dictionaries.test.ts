/** tidings/client's dictionaries against a real server over WebSocket, both engines: Momento's
 * method names, response classes and accessors, per-field Hit / Miss, increments, removes, the
 * item type and a typed error, printed as Momento's responses print. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { sdkFor } from '../helpers/sdk.js';
import {
  CollectionTtl, ItemType, CacheDictionaryFetch, CacheDictionaryFetchResponse, CacheDictionaryGetField, CacheDictionaryGetFields,
  CacheDictionaryIncrement, CacheDictionaryLength, CacheDictionarySetField, CacheDictionaryRemoveFields, CacheItemGetType, CacheItemGetTtl,
} from '../../src/client/index.js';

testEachEngine('cache - dictionaries with Momento names and semantics', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  t.ok((await cache.dictionaryFetch('chat', 'room')) instanceof CacheDictionaryFetch.Miss, 'no dictionary: Miss');
  t.ok((await cache.dictionaryGetField('chat', 'room', 'topic')) instanceof CacheDictionaryGetField.Miss);

  const set = await cache.dictionarySetField('chat', 'room', 'topic', 'news', { ttl: CollectionTtl.of(30) });
  t.ok(set instanceof CacheDictionarySetField.Success);
  await cache.dictionarySetFields('chat', 'room', { owner: 'ada', logo: new Uint8Array([1, 2]) });
  await cache.dictionarySetFields('chat', 'room', new Map([['pinned', '7']]));

  const topic = await cache.dictionaryGetField('chat', 'room', 'topic');
  t.ok(topic instanceof CacheDictionaryGetField.Hit);
  t.equal((topic as CacheDictionaryGetField.Hit).valueString(), 'news');
  t.equal((topic as CacheDictionaryGetField.Hit).fieldString(), 'topic');
  t.equal(String(topic), 'Hit: news');

  const some = await cache.dictionaryGetFields('chat', 'room', ['owner', 'nope', 'logo']);
  t.ok(some instanceof CacheDictionaryGetFields.Hit);
  const hit = some as CacheDictionaryGetFields.Hit;
  t.same(hit.responses.map((r) => r.type), ['Hit', 'Miss', 'Hit'], 'a response per field asked, in order');
  t.same(hit.valueRecord(), { owner: 'ada', logo: '\u0001\u0002' });
  t.same(hit.valueMapStringUint8Array().get('logo'), new Uint8Array([1, 2]), 'bytes come back as bytes');

  const all = await cache.dictionaryFetch('chat', 'room');
  t.equal(all.type, CacheDictionaryFetchResponse.Hit);
  t.same(Object.keys((all as CacheDictionaryFetch.Hit).valueRecord()).sort(), ['logo', 'owner', 'pinned', 'topic']);
  t.equal(String(all), 'Hit: 4 fields');

  const inc = await cache.dictionaryIncrement('chat', 'room', 'pinned', 3);
  t.equal(inc instanceof CacheDictionaryIncrement.Success && inc.value(), 10, 'adds to the integer a field holds');
  const refused = await cache.dictionaryIncrement('chat', 'room', 'owner');
  t.ok(refused instanceof CacheDictionaryIncrement.Error);
  t.equal((refused as CacheDictionaryIncrement.Error).errorCode(), 'FAILED_PRECONDITION_ERROR', 'a field holding text');

  t.equal(((await cache.itemGetType('chat', 'room')) as CacheItemGetType.Hit).itemType(), ItemType.DICTIONARY);
  t.ok((await cache.itemGetType('chat', 'none')) instanceof CacheItemGetType.Miss);
  t.ok(((await cache.itemGetTtl('chat', 'room')) as CacheItemGetTtl.Hit).remainingTtlMillis() > 30_000, 'the default CollectionTtl refreshed the 30 s to the server default');

  t.ok((await cache.dictionaryRemoveFields('chat', 'room', ['logo', 'pinned'])) instanceof CacheDictionaryRemoveFields.Success);
  await cache.dictionaryRemoveField('chat', 'room', 'owner');
  t.equal(((await cache.dictionaryLength('chat', 'room')) as CacheDictionaryLength.Hit).length(), 1);
  await cache.dictionaryRemoveField('chat', 'room', 'topic');
  t.ok((await cache.dictionaryLength('chat', 'room')) instanceof CacheDictionaryLength.Miss, 'emptied: gone');
});
