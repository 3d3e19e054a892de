/** Every `*Ms` setting above 2^31 - 1 (Node's longest timer, which fires after 1 ms past it) is
 * refused with a ConfigError naming the key. */
import t from 'tap';
import { resolveConfig, ConfigError } from '../../src/core/config.js';
import { systemClock } from '../../src/core/clock.js';
import { MemoryPresence } from '../../src/presence/memory-presence.js';
import { MemoryCacheStore } from '../../src/store/memory-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
process.removeAllListeners('warning');

t.test('presence.leaveGraceMs past the timer range is refused, or honoured (not collapsed to 1 ms)', async (t) => {
  let config;
  try { config = resolveConfig({ dev: true, presence: { leaveGraceMs: 2 ** 31 } }); } catch (err) { t.type(err, ConfigError); t.match((err as Error).message, 'presence.leaveGraceMs'); return; }
  const presence = new MemoryPresence(config.presence, systemClock);
  const who = { connectionId: 'c1', tokenId: 'alice' };
  presence.add('cache', 'room', who);
  presence.remove('cache', 'room', who);
  await sleep(50);
  t.ok(presence.isPresent('cache', 'room', 'alice'), 'alice is still within her ~24.8-day grace 50 ms later');
  presence.close();
});

t.test('store.purgeIntervalMs past the timer range is refused, or honoured (not run every 1 ms)', async (t) => {
  let config;
  try { config = resolveConfig({ dev: true, store: { purgeIntervalMs: 2 ** 31 } }); } catch (err) { t.type(err, ConfigError); t.match((err as Error).message, 'store.purgeIntervalMs'); return; }
  const store = new MemoryCacheStore(config.store, systemClock);
  let purges = 0;
  const lru = (store as unknown as { lru: { purgeStale(): boolean } }).lru;
  const orig = lru.purgeStale.bind(lru);
  lru.purgeStale = () => { purges++; return orig(); };
  store.start();
  await sleep(100);
  store.close();
  t.equal(purges, 0, `purged ${purges} times in 100 ms with a ~24.8-day interval`);
});
