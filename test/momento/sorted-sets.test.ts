/** Conformance: Momento's sorted sets through the official SDKs (Node over gRPC, web over
 * grpc-web-text) against one real Tidings server per engine: a leaderboard's puts, fetches by rank
 * and by score, ranks, scores, increments, removes, lengths, the union (Node: the web SDK has no
 * sortedSetUnionStore), the collection TTL, the item type, wrong-kind, limit and permission errors;
 * then what no SDK method sends (values without scores, a fetch without a range, exclusive bounds,
 * a non-finite score) with a plain grpc-js client. */
import { CollectionTtl, MomentoErrorCode, type CacheItemGetType, type CacheKeysExist, type CacheSortedSetFetch } from '@gomomento/sdk';
import { cache } from '@gomomento/generated-types';
import { status } from '@grpc/grpc-js';
import { apiKeyFor, errorCode, scsCall, startMomentoServer } from '../helpers/momento.js';
import { testEachEngine } from '../helpers/server.js';
import { SDKS, kind } from '../helpers/momento-sdks.js';

/** A fetch's Hit as [element, score] pairs, in the order answered. */
const pairs = (fetched: unknown) => (fetched as CacheSortedSetFetch.Hit).valueArrayStringElements().map(({ value, score }) => [value, score]);
/** Hits whose accessors the SDKs type on sdk-core's response modules, which @gomomento/sdk does not re-export. */
type Scored = { score(): number };
type Ranked = { rank(): number };
type Length = { length(): number };
type Scores = { valueRecordString(): Record<string, number> };

testEachEngine('sorted sets through both official SDKs and plain gRPC', async (t, engine) => {
  const server = await startMomentoServer(t, { engine, config: { store: { maxSortedSetElements: 5 } } });
  const apiKey = await apiKeyFor(server);

  for (const sdk of SDKS) {
    await t.test(sdk.name, async (t) => {
      const { cache } = await sdk.clients(t, server, apiKey);
      const { SortedSetOrder } = sdk.lib;
      const Z = `board-${sdk.name}`;
      t.equal(kind(await cache.sortedSetFetchByRank('app', Z)), 'Miss', 'no sorted set: Miss');
      t.equal(kind(await cache.sortedSetFetchByScore('app', Z)), 'Miss');
      t.equal(kind(await cache.sortedSetGetRank('app', Z, 'ada')), 'Miss');
      t.equal(kind(await cache.sortedSetGetScore('app', Z, 'ada')), 'Miss');
      t.equal(kind(await cache.sortedSetLength('app', Z)), 'Miss');
      t.equal(kind(await cache.sortedSetLengthByScore('app', Z)), 'Miss');

      t.equal(kind(await cache.sortedSetPutElement('app', Z, 'ada', 30, { ttl: CollectionTtl.of(30) })), 'Success');
      t.equal(kind(await cache.sortedSetPutElements('app', Z, { bob: 10, cy: 20, dee: 20 })), 'Success');
      t.same(pairs(await cache.sortedSetFetchByRank('app', Z)), [['bob', 10], ['cy', 20], ['dee', 20], ['ada', 30]], 'by score, ties by bytes');
      t.same(pairs(await cache.sortedSetFetchByRank('app', Z, { order: SortedSetOrder.Descending, endRank: 2 })), [['ada', 30], ['dee', 20]], 'the top two');
      t.same(pairs(await cache.sortedSetFetchByRank('app', Z, { startRank: 1, endRank: 3 })), [['cy', 20], ['dee', 20]], 'ranks [1, 3)');
      t.same(pairs(await cache.sortedSetFetchByRank('app', Z, { startRank: -2 })), [['dee', 20], ['ada', 30]], 'negative ranks count from the end');
      t.same(pairs(await cache.sortedSetFetchByScore('app', Z, { minScore: 15, maxScore: 30 })), [['cy', 20], ['dee', 20], ['ada', 30]], 'scores [15, 30], inclusive');
      t.same(pairs(await cache.sortedSetFetchByScore('app', Z, { order: SortedSetOrder.Descending, offset: 1, count: 2 })), [['dee', 20], ['cy', 20]], 'descending, offset, count');
      t.equal(((await cache.sortedSetGetRank('app', Z, 'ada')) as unknown as Ranked).rank(), 3);
      t.equal(((await cache.sortedSetGetRank('app', Z, 'ada', { order: SortedSetOrder.Descending })) as unknown as Ranked).rank(), 0, 'rank 0 from the top');
      t.equal(kind(await cache.sortedSetGetRank('app', Z, 'nobody')), 'Miss', 'not an element: Miss');
      t.equal(((await cache.sortedSetGetScore('app', Z, 'cy')) as unknown as Scored).score(), 20);
      t.same(((await cache.sortedSetGetScores('app', Z, ['bob', 'nobody', 'ada'])) as unknown as Scores).valueRecordString(), { bob: 10, ada: 30 }, 'scores of the elements held');
      t.equal(((await cache.sortedSetLength('app', Z)) as unknown as Length).length(), 4);
      t.equal(((await cache.sortedSetLengthByScore('app', Z, { minScore: 20 })) as unknown as Length).length(), 3);
      t.equal(((await cache.sortedSetLengthByScore('app', Z, { minScore: 15, maxScore: 20 })) as unknown as Length).length(), 2, 'scores [15, 20], inclusive');

      t.equal(((await cache.sortedSetIncrementScore('app', Z, 'bob', 25)) as unknown as Scored).score(), 35, 'increment adds');
      t.equal(((await cache.sortedSetIncrementScore('app', Z, 'eve')) as unknown as Scored).score(), 1, 'increment creates an element (by 1)');
      t.equal(((await cache.sortedSetGetRank('app', Z, 'bob', { order: SortedSetOrder.Descending })) as unknown as Ranked).rank(), 0, 'bob leads now');
      const bin = new Uint8Array([0, 255, 7]);
      t.equal(errorCode(await cache.sortedSetPutElement('app', Z, bin, 5)), MomentoErrorCode.LIMIT_EXCEEDED_ERROR, 'a sixth element past a limit of five');
      t.equal(((await cache.sortedSetLength('app', Z)) as unknown as Length).length(), 5, 'the refused put changed nothing');
      t.equal(kind(await cache.sortedSetRemoveElements('app', Z, ['eve', 'nobody'])), 'Success');
      t.equal(kind(await cache.sortedSetPutElement('app', Z, bin, 5)), 'Success');
      t.ok(((await cache.sortedSetFetchByRank('app', Z, { endRank: 1 })) as CacheSortedSetFetch.Hit).valueArrayUint8Elements()[0]!.value.every((b, i) => b === bin[i]), 'binary elements come back as sent');

      t.equal(((await cache.itemGetType('app', Z)) as CacheItemGetType.Hit).itemType(), sdk.lib.ItemType.SORTED_SET);
      t.same(((await cache.keysExist('app', [Z, 'nothing'])) as CacheKeysExist.Success).exists(), [true, false], 'a sorted set exists');
      const ttl = (await cache.itemGetTtl('app', Z) as unknown as { remainingTtlMillis(): number }).remainingTtlMillis();
      t.ok(ttl > 30_000 && ttl <= 60_000, `the default CollectionTtl (client's 60 s, refreshed) replaced the 30 s: ${ttl}`);
      await cache.sortedSetPutElement('app', Z, 'ada', 31, { ttl: CollectionTtl.of(10).withNoRefreshTtlOnUpdates() });
      t.ok((await cache.itemGetTtl('app', Z) as unknown as { remainingTtlMillis(): number }).remainingTtlMillis() > 10_000, 'refreshTtl false: the existing expiry stays');

      if (sdk.name === 'node-sdk') {
        await cache.sortedSetPutElements('app', `week-${sdk.name}`, { ada: 5 });
        const union = await cache.sortedSetUnionStore('app', `all-${sdk.name}`, [{ sortedSetName: Z, weight: 1 }, { sortedSetName: `week-${sdk.name}`, weight: 2 }]);
        t.equal((union as unknown as Length).length(), 5, 'union: the elements stored');
        t.equal(((await cache.sortedSetGetScore('app', `all-${sdk.name}`, 'ada')) as unknown as Scored).score(), 41, 'sum of weighted scores');
      }

      await cache.sortedSetRemoveElement('app', Z, bin);
      t.equal(((await cache.sortedSetLength('app', Z)) as unknown as Length).length(), 4, 'removeElement');
      t.equal(kind(await cache.delete('app', Z)), 'Success');
      t.equal(kind(await cache.sortedSetLength('app', Z)), 'Miss', 'delete removes a sorted set');

      await cache.set('app', `scalar-${sdk.name}`, '1');
      await cache.sortedSetPutElement('app', `scores-${sdk.name}`, 'x', 1);
      t.equal(errorCode(await cache.sortedSetFetchByRank('app', `scalar-${sdk.name}`)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a scalar is no sorted set');
      t.equal(errorCode(await cache.sortedSetPutElement('app', `scalar-${sdk.name}`, 'x', 1)), MomentoErrorCode.FAILED_PRECONDITION_ERROR);
      t.equal(errorCode(await cache.setFetch('app', `scores-${sdk.name}`)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'a sorted set is no set');
      t.equal(errorCode(await cache.listFetch('app', `scores-${sdk.name}`)), MomentoErrorCode.FAILED_PRECONDITION_ERROR, 'nor a list');

      const scope = (role: 'readonly' | 'writeonly') => server.auth.mintDisposableToken({ scope: { permissions: [{ role, cache: 'app' }] }, expiresInSec: 60 });
      const { cache: reader } = await sdk.clients(t, server, (await scope('readonly')).token);
      t.equal(kind(await reader.sortedSetFetchByScore('app', `scores-${sdk.name}`)), 'Hit', 'readonly reads');
      t.equal(errorCode(await reader.sortedSetPutElement('app', `scores-${sdk.name}`, 'y', 2)), MomentoErrorCode.PERMISSION_ERROR, 'readonly may not put');
      const { cache: writer } = await sdk.clients(t, server, (await scope('writeonly')).token);
      t.equal(kind(await writer.sortedSetPutElement('app', `scores-${sdk.name}`, 'y', 2)), 'Success', 'writeonly puts');
      t.equal(errorCode(await writer.sortedSetGetRank('app', `scores-${sdk.name}`, 'y')), MomentoErrorCode.PERMISSION_ERROR, 'writeonly may not read');
      t.equal(errorCode(await writer.sortedSetIncrementScore('app', `scores-${sdk.name}`, 'y', 1)), MomentoErrorCode.PERMISSION_ERROR, 'nor increment: it returns the score');
      t.equal(((await cache.sortedSetGetScore('app', `scores-${sdk.name}`, 'y')) as unknown as Scored).score(), 2, 'the refused increment changed nothing');
    });
  }

  await t.test('grpc: values without scores, a fetch without a range, exclusive bounds, refused scores and names', async (t) => {
    const call = scsCall(t, server, apiKey);
    const pb = cache.cache_client;
    const name = Buffer.from('z');
    const element = (value: string, score: number) => new pb._SortedSetElement({ value: Buffer.from(value), score });
    t.equal((await call('SortedSetPut', new pb._SortedSetPutRequest({ set_name: name, elements: [element('a', 1), element('b', 2), element('c', 3)], ttl_milliseconds: 60_000, refresh_ttl: true }))).code, status.OK);
    const ByScore = pb._SortedSetFetchRequest._ByScore;
    const fetched = await call<InstanceType<typeof pb._SortedSetFetchResponse>>('SortedSetFetch', new pb._SortedSetFetchRequest({
      set_name: name, with_scores: false,
      by_score: new ByScore({ min_score: new ByScore._Score({ score: 1, exclusive: true }), max_score: new ByScore._Score({ score: 3, exclusive: false }), offset: 0, count: -1 }),
    }));
    t.same(fetched.reply?.found.values.values.map((v) => Buffer.from(v).toString()), ['b', 'c'], 'with_scores false: values only; min exclusive');
    const fetchByScore = async (byScore: InstanceType<typeof ByScore>) => (await call<InstanceType<typeof pb._SortedSetFetchResponse>>('SortedSetFetch', new pb._SortedSetFetchRequest({ set_name: name, with_scores: false, by_score: byScore })))
      .reply?.found.values.values.map((v) => Buffer.from(v).toString());
    t.same(await fetchByScore(new ByScore({ min_score: new ByScore._Score({ score: 1, exclusive: false }), max_score: new ByScore._Score({ score: 3, exclusive: true }), offset: 0, count: -1 })), ['a', 'b'], 'max exclusive');
    t.same(await fetchByScore(new ByScore({ offset: 0, count: 0 })), [], 'count 0: none (only a negative count is all)');
    t.equal((await call('SortedSetFetch', new pb._SortedSetFetchRequest({ set_name: name }))).code, status.INVALID_ARGUMENT, 'neither by_index nor by_score');
    const byScore = await call<InstanceType<typeof pb._SortedSetLengthByScoreResponse>>('SortedSetLengthByScore', new pb._SortedSetLengthByScoreRequest({ set_name: name, exclusive_min: 1, exclusive_max: 3 }));
    t.equal(byScore.reply?.found.length, 1, 'length by score, both bounds exclusive');
    t.equal((await call('SortedSetPut', new pb._SortedSetPutRequest({ set_name: name, elements: [element('d', Number.NaN)] }))).code, status.INVALID_ARGUMENT, 'a NaN score');
    t.equal((await call('SortedSetPut', new pb._SortedSetPutRequest({ set_name: name, elements: [element('d', Number.POSITIVE_INFINITY)] }))).code, status.INVALID_ARGUMENT, 'an infinite score');
    t.equal((await call('SortedSetIncrement', new pb._SortedSetIncrementRequest({ set_name: name, value: Buffer.from('a'), amount: Number.MAX_VALUE }))).code, status.OK);
    t.equal((await call('SortedSetIncrement', new pb._SortedSetIncrementRequest({ set_name: name, value: Buffer.from('a'), amount: Number.MAX_VALUE }))).code, status.INVALID_ARGUMENT, 'a sum past the largest double');
    const Union = pb._SortedSetUnionStoreRequest;
    const doubled = new Union({ set_name: name, sources: [new Union._Source({ set_name: name, weight: 2 })], aggregate: Union.AggregateFunction.SUM });
    t.equal((await call('SortedSetUnionStore', doubled)).code, status.INVALID_ARGUMENT, 'a union whose score would pass the largest double');
    const unknown = new Union({ set_name: Buffer.from('u'), sources: [new Union._Source({ set_name: name, weight: 1 })], aggregate: 7 as InstanceType<typeof Union>['aggregate'] });
    t.equal((await call('SortedSetUnionStore', unknown)).code, status.INVALID_ARGUMENT, 'an aggregate function Tidings does not know');
    const score = await call<InstanceType<typeof pb._SortedSetGetScoreResponse>>('SortedSetGetScore', new pb._SortedSetGetScoreRequest({ set_name: name, values: [Buffer.from('a')] }));
    t.equal(score.reply?.found.elements[0]?.score, Number.MAX_VALUE, 'the refused union changed no score');
    t.equal((await call('SortedSetRemove', new pb._SortedSetRemoveRequest({ set_name: name }))).code, status.INVALID_ARGUMENT, 'neither all nor some');
    t.equal((await call('SortedSetLength', new pb._SortedSetLengthRequest({ set_name: new Uint8Array([0xff]) }))).code, status.INVALID_ARGUMENT, 'a name that is not UTF-8');
    const length = await call<InstanceType<typeof pb._SortedSetLengthResponse>>('SortedSetLength', new pb._SortedSetLengthRequest({ set_name: name }));
    t.equal(length.reply?.found.length, 3, 'the refused writes changed nothing');
    t.equal((await call('SortedSetRemove', new pb._SortedSetRemoveRequest({ set_name: name, all: new pb._SortedSetRemoveRequest._All() }))).code, status.OK);
    t.equal((await call<InstanceType<typeof pb._SortedSetLengthResponse>>('SortedSetLength', new pb._SortedSetLengthRequest({ set_name: name }))).reply?.sorted_set, 'missing', '`all` removed the sorted set');
  });
});
