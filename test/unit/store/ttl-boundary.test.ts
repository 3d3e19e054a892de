/** An item is alive up to and including the instant its TTL ends, on both engines. */
import { testEachStore, storeWith } from '../../helpers/stores.js';

testEachStore('an item is still there at exactly its expiry instant', async (t, engine) => {
  const { store, clock } = await storeWith(t, engine);
  await store.set('c', 's', 'v', 1000);
  await store.listPushBack('c', 'l', ['a'], { ttl: { ttlMs: 1000, refresh: true } });
  clock.advance(1000);
  t.equal(await store.get('c', 's'), 'v', 'scalar at now = set + ttl');
  t.equal(await store.itemGetTtl('c', 's'), 0, 'remaining 0');
  t.equal(await store.listLength('c', 'l'), 1, 'list at now = push + ttl');
  clock.advance(1);
  t.equal(await store.get('c', 's'), undefined, 'gone 1 ms later');
  t.equal(await store.listLength('c', 'l'), undefined, 'gone 1 ms later');
});
