/** A push of more values than one Lua unpack takes keeps their order at both ends, on both engines. */
import { testEachStore, storeWith } from '../../helpers/stores.js';
testEachStore('pushes of more than 1000 values keep their order at both ends', async (t, engine) => {
  const { store } = await storeWith(t, engine);
  const vs = Array.from({ length: 2500 }, (_, i) => `v${i}`);
  await store.listPushBack('c', 'l', ['mid'], { ttl: { refresh: true } });
  await store.listPushFront('c', 'l', vs, { ttl: { refresh: true }, truncateToSize: 2200 });
  await store.listPushBack('c', 'l', vs, { ttl: { refresh: true }, truncateToSize: 3000 });
  const got = await store.listFetch('c', 'l', {}) as string[];
  const want = [...vs.slice(0, 2200), ...vs].slice(-3000);
  t.same(got, want);
});
