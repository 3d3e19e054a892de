/** Lone surrogates: sizes and equality on both engines. */
import { ErrorCode, LimitCause } from '../../../src/protocol/index.js';
import { testEachStore, storeWith } from '../../helpers/stores.js';

const refresh = { refresh: true };

testEachStore('a lone high surrogate before a non-ASCII char counts its WTF-8 bytes', async (t, engine) => {
  // "\uD800é" is 3 (lone surrogate) + 2 (é) = 5 bytes as the Redis store stores it (WTF-8).
  const { store } = await storeWith(t, engine, { maxItemBytes: 5, maxElementBytes: 5 });
  await t.rejects(async () => store.set('c', 'k', '\uD800é', undefined),
    { code: ErrorCode.LIMIT_EXCEEDED_ERROR, cause_: LimitCause.ITEM_SIZE }, 'key (1) + value (5) = 6 > 5');
  await t.rejects(async () => store.listPushBack('c', 'l', ['\uD800\uD800'], { ttl: refresh }),
    { code: ErrorCode.LIMIT_EXCEEDED_ERROR, cause_: LimitCause.ITEM_SIZE }, 'key (1) + two lone surrogates (6) = 7 > 5');
});

testEachStore('removeValue of a binary needle and a stored text with a lone surrogate agree', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  await store.listPushBack('c', 'l', ['\uD800', 'x'], { ttl: refresh });
  await store.listRemoveValue('c', 'l', new Uint8Array([0xef, 0xbf, 0xbd])); // U+FFFD
  t.same(await store.listFetch('c', 'l', {}), ['\uD800', 'x'], 'U+FFFD bytes are not the stored text');
});
