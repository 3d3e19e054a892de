/** tidings/client's dictionaries, sets and sorted sets against a real server over WebSocket, both
 * engines (one server each): Momento's method names, response classes and accessors, per-field Hit
 * / Miss, increments, removes, contains, pop and sample, ranks, scores and unions, the item type and
 * typed errors, printed as Momento's responses print. */
import { startServer, testEachEngine } from '../helpers/server.js';
import { sdkFor } from '../helpers/sdk.js';
import {
  CollectionTtl, ItemType, CacheDictionaryFetch, CacheDictionaryFetchResponse, CacheDictionaryGetField, CacheDictionaryGetFields,
  CacheDictionaryIncrement, CacheDictionaryLength, CacheDictionarySetField, CacheDictionaryRemoveFields, CacheItemGetType, CacheItemGetTtl,
  CacheSetAddElements, CacheSetContainsElement, CacheSetContainsElements, CacheSetFetch, CacheSetFetchResponse, CacheSetLength, CacheSetPop,
  CacheSetRemoveElement, CacheSetSample, CacheSortedSetFetch, CacheSortedSetGetRank, CacheSortedSetGetScore, CacheSortedSetGetScores,
  CacheSortedSetIncrementScore, CacheSortedSetLength, CacheSortedSetPutElements, CacheSortedSetUnionStore, SortedSetAggregate, SortedSetOrder,
} from '../../src/client/index.js';

testEachEngine('cache - dictionaries, sets and sorted sets with Momento names and semantics', async (t, engine) => {
  const server = await startServer(t, { engine });
  const { cache } = await sdkFor(t, server);
  t.ok((await cache.dictionaryFetch('chat', 'room')) instanceof CacheDictionaryFetch.Miss, 'no dictionary: Miss');
  t.ok((await cache.dictionaryGetField('chat', 'room', 'topic')) instanceof CacheDictionaryGetField.Miss);
  t.ok((await cache.dictionaryGetFields('chat', 'room', ['topic'])) instanceof CacheDictionaryGetFields.Miss, 'no dictionary: Miss, not a Hit without fields');

  const set = await cache.dictionarySetField('chat', 'room', 'topic', 'news', { ttl: CollectionTtl.of(30) });
  t.ok(set instanceof CacheDictionarySetField.Success);
  await cache.dictionarySetFields('chat', 'room', { owner: 'ada', logo: new Uint8Array([1, 2]) });
  await cache.dictionarySetFields('chat', 'room', new Map([['pinned', '7']]));

  const topic = await cache.dictionaryGetField('chat', 'room', 'topic');
  t.ok(topic instanceof CacheDictionaryGetField.Hit);
  t.equal((topic as CacheDictionaryGetField.Hit).valueString(), 'news');
  t.equal((topic as CacheDictionaryGetField.Hit).fieldString(), 'topic');
  t.equal(String(topic), 'Hit: news');
  t.ok((await cache.dictionaryGetField('chat', 'room', 'nope')) instanceof CacheDictionaryGetField.Miss, 'a live dictionary without the field: Miss');

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

  // Sets, on the same server.
  t.ok((await cache.setFetch('chat', 'members')) instanceof CacheSetFetch.Miss, 'no set: Miss');
  t.ok((await cache.setContainsElement('chat', 'members', 'ada')) instanceof CacheSetContainsElement.Miss);
  const added = await cache.setAddElements('chat', 'members', ['ada', 'bob', new Uint8Array([0x61, 0x64, 0x61])], { ttl: CollectionTtl.of(30) });
  t.ok(added instanceof CacheSetAddElements.Success);
  await cache.setAddElement('chat', 'members', new Uint8Array([0, 255]));
  const members = await cache.setFetch('chat', 'members');
  t.equal(members.type, CacheSetFetchResponse.Hit);
  const fetched = members as CacheSetFetch.Hit;
  t.same(fetched.valueArrayString().filter((e) => e === 'ada' || e === 'bob').sort(), ['ada', 'bob'], 'text "ada" and its bytes are one element');
  t.equal(fetched.valueArrayUint8Array().length, 3);
  t.ok(fetched.valueArrayUint8Array().some((e) => e.length === 2 && e[0] === 0 && e[1] === 255), 'bytes come back as bytes');
  t.equal(String(members), 'Hit: 3 elements');
  t.equal(((await cache.setContainsElement('chat', 'members', 'bob')) as CacheSetContainsElement.Hit).containsElement(), true);
  t.equal(((await cache.setContainsElement('chat', 'members', 'cy')) as CacheSetContainsElement.Hit).containsElement(), false, 'a live set without the element: Hit, false');
  t.same(((await cache.setContainsElements('chat', 'members', ['cy', 'ada'])) as CacheSetContainsElements.Hit).containsElements(), { cy: false, ada: true });
  t.equal(((await cache.setLength('chat', 'members')) as CacheSetLength.Hit).length(), 3);
  t.equal(((await cache.itemGetType('chat', 'members')) as CacheItemGetType.Hit).itemType(), ItemType.SET);
  t.equal(((await cache.setSample('chat', 'members', 2)) as CacheSetSample.Hit).valueSetString().size, 2, 'sample: two distinct elements');
  t.ok((await cache.setRemoveElement('chat', 'members', new Uint8Array([0, 255]))) instanceof CacheSetRemoveElement.Success);
  const popped = await cache.setPop('chat', 'members', 5);
  t.same((popped as CacheSetPop.Hit).valueArrayString().sort(), ['ada', 'bob'], 'pop past the length: every element');
  t.ok((await cache.setLength('chat', 'members')) instanceof CacheSetLength.Miss, 'emptied by pop: gone');
  await cache.set('chat', 'plain', 'v');
  const wrong = await cache.setAddElement('chat', 'plain', 'x');
  t.equal((wrong as CacheSetAddElements.Error).errorCode(), 'FAILED_PRECONDITION_ERROR', 'a scalar is no set');
  t.equal(((await cache.setPop('chat', 'members', 0)) as CacheSetPop.Error).errorCode(), 'INVALID_ARGUMENT_ERROR', 'a pop of 0 elements');

  // Sorted sets, on the same server.
  t.ok((await cache.sortedSetFetchByRank('chat', 'board')) instanceof CacheSortedSetFetch.Miss, 'no sorted set: Miss');
  t.ok((await cache.sortedSetGetRank('chat', 'board', 'ada')) instanceof CacheSortedSetGetRank.Miss);
  const put = await cache.sortedSetPutElements('chat', 'board', { ada: 30, bob: 10 }, { ttl: CollectionTtl.of(30) });
  t.ok(put instanceof CacheSortedSetPutElements.Success);
  await cache.sortedSetPutElement('chat', 'board', new Uint8Array([0x63, 0x79]), 20);
  await cache.sortedSetPutElements('chat', 'board', [['dee', 20]]);
  const top = await cache.sortedSetFetchByRank('chat', 'board', { order: SortedSetOrder.Descending, endRank: 3 });
  t.same((top as CacheSortedSetFetch.Hit).valueArrayStringElements(), [{ value: 'ada', score: 30 }, { value: 'dee', score: 20 }, { value: 'cy', score: 20 }], 'descending, ties by bytes reversed');
  t.equal(String(top), 'Hit: 3 elements');
  const middle = await cache.sortedSetFetchByRank('chat', 'board', { order: SortedSetOrder.Ascending, startRank: 1, endRank: 3 });
  t.same((middle as CacheSortedSetFetch.Hit).valueArrayStringElements(), [{ value: 'cy', score: 20 }, { value: 'dee', score: 20 }], 'ascending asked for, from startRank');
  t.same((await cache.sortedSetFetchByScore('chat', 'board', { minScore: 15, maxScore: 25, offset: 1 }) as CacheSortedSetFetch.Hit).valueArray(), [{ value: 'dee', score: 20 }]);
  t.same((await cache.sortedSetFetchByScore('chat', 'board', { minScore: 15, count: 1 }) as CacheSortedSetFetch.Hit).valueArray(), [{ value: 'cy', score: 20 }], 'at most count');
  t.equal(((await cache.sortedSetGetRank('chat', 'board', 'bob')) as CacheSortedSetGetRank.Hit).rank(), 0);
  t.ok((await cache.sortedSetGetRank('chat', 'board', 'zed')) instanceof CacheSortedSetGetRank.Miss, 'an element not held: Miss, as Momento');
  t.equal(((await cache.sortedSetGetScore('chat', 'board', 'cy')) as CacheSortedSetGetScore.Hit).score(), 20);
  t.ok((await cache.sortedSetGetScore('chat', 'board', 'zed')) instanceof CacheSortedSetGetScore.Miss, 'an element not held: Miss');
  t.same(((await cache.sortedSetGetScores('chat', 'board', ['ada', 'zed'])) as CacheSortedSetGetScores.Hit).valueRecord(), { ada: 30 });
  t.equal(((await cache.sortedSetIncrementScore('chat', 'board', 'bob', 25)) as CacheSortedSetIncrementScore.Success).score(), 35);
  t.equal(((await cache.sortedSetLengthByScore('chat', 'board', { minScore: 20 })) as CacheSortedSetLength.Hit).length(), 4);
  await cache.sortedSetPutElement('chat', 'extra', 'ada', 5);
  const sources = [{ sortedSetName: 'board', weight: 1 }, { sortedSetName: 'extra', weight: 1 }, { sortedSetName: 'none', weight: 1 }];
  const union = await cache.sortedSetUnionStore('chat', 'best', sources, { aggregate: SortedSetAggregate.MAX, ttl: CollectionTtl.of(30) });
  t.equal((union as CacheSortedSetUnionStore.Success).length(), 4, 'union: the elements stored');
  t.equal(((await cache.sortedSetGetScore('chat', 'best', 'ada')) as CacheSortedSetGetScore.Hit).score(), 30, 'MAX of 30 and 5, not their sum');
  t.ok(((await cache.itemGetTtl('chat', 'best')) as CacheItemGetTtl.Hit).remainingTtlMillis() <= 30_000, 'the union takes the ttl asked for');
  t.equal(((await cache.itemGetType('chat', 'best')) as CacheItemGetType.Hit).itemType(), ItemType.SORTED_SET);
  await cache.sortedSetRemoveElements('chat', 'board', ['ada', 'bob', 'cy']);
  await cache.sortedSetRemoveElement('chat', 'board', 'dee');
  t.ok((await cache.sortedSetLength('chat', 'board')) instanceof CacheSortedSetLength.Miss, 'emptied by removes: gone');
  const wrongKind = await cache.sortedSetPutElement('chat', 'plain', 'x', 1);
  t.equal((wrongKind as CacheSortedSetPutElements.Error).errorCode(), 'FAILED_PRECONDITION_ERROR', 'a scalar is no sorted set');
  t.equal(((await cache.sortedSetPutElement('chat', 'board', 'x', Number.NaN)) as CacheSortedSetPutElements.Error).errorCode(), 'INVALID_ARGUMENT_ERROR', 'a NaN score');
});
