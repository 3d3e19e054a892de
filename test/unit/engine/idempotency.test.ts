import t from 'tap';
import { ManualClock } from '../../../src/core/clock.js';
import { IdempotentResults } from '../../../src/engine/idempotency.js';

function setup(max: number, windowMs = 1000) {
  const clock = new ManualClock();
  const results = new IdempotentResults({ idempotencyWindowMs: windowMs, maxIdempotencyKeys: max }, clock);
  let applied = 0;
  /** Runs a write; true when it was applied (not answered from memory). */
  const write = (scope: string, key: string) => {
    const before = applied;
    results.run(scope, 'pub', key, () => ++applied);
    return applied > before;
  };
  return { clock, results, write };
}

t.test('idempotency - a repeat within the window is answered, not applied; after it, applied again', async (t) => {
  const { clock, results, write } = setup(10);
  t.ok(write('a', 'k'));
  t.notOk(write('a', 'k'), 'repeat answered');
  t.ok(write('b', 'k'), 'another scope is its own');
  clock.advance(999);
  t.notOk(write('a', 'k'), 'still within the window');
  clock.advance(1);
  t.ok(write('a', 'k'), 'past the window: applied');
  t.equal(results.size, 2, 'held until seen again or pushed out (bounded by count)');
});

t.test('idempotency - to make room, a key past the window goes before anyone\'s live one', async (t) => {
  const { clock, write } = setup(3, 1000);
  t.ok(write('idle', 'old'));
  clock.advance(1000);
  t.ok(write('busy', 'b1'));
  t.ok(write('busy', 'b2'));
  t.ok(write('busy', 'b3'), 'full: room made');
  t.notOk(write('busy', 'b1'), 'by the expired key, not the busy scope\'s oldest');
});

t.test('idempotency - a failed write is forgotten, so its retry is applied', async (t) => {
  const { results } = setup(10);
  await t.rejects(results.run('a', 'pub', 'k', () => Promise.reject(new Error('no'))) as Promise<unknown>);
  await new Promise((r) => setImmediate(r));
  t.equal(results.size, 0);
  t.equal(await results.run('a', 'pub', 'k', () => Promise.resolve(7)), 7);
  t.equal(await results.run('a', 'pub', 'k', () => Promise.resolve(8)), 7, 'the settled result is answered');
});

t.test('idempotency - past the bound the scope holding the most keys loses its oldest', async (t) => {
  const { results, write } = setup(10);
  t.ok(write('victim', 'v1'));
  t.ok(write('victim', 'v2'));
  for (let i = 0; i < 100; i++) t.ok(write('flooder', `f${i}`));
  t.equal(results.size, 10);
  t.notOk(write('victim', 'v1'), 'the victim keeps its keys');
  t.notOk(write('victim', 'v2'));
  t.notOk(write('flooder', 'f99'), 'the flooder keeps its newest');
  t.ok(write('flooder', 'f91'), 'and lost its oldest');
});

t.test('idempotency - random churn: bounded, counts consistent, each scope keeps its newest keys', async (t) => {
  const { clock, results, write } = setup(50, 10_000);
  const written = new Map<string, string[]>();
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  type Entry = { key: string };
  type Internals = { entries: Map<string, Entry>; scopes: Map<string, { count: number; queue: Iterable<Entry> }>; byCount: Array<unknown[] | undefined>; maxCount: number };
  const inner = results as unknown as Internals;
  const held = (scope: string) => [...(inner.scopes.get(scope)?.queue ?? [])].filter((e) => inner.entries.get(e.key) === e).map((e) => e.key);
  let bad = 0;
  for (let i = 0; i < 5000; i++) {
    const scope = `s${rand(rand(20) + 1)}`;
    const key = `k${i}`;
    write(scope, key);
    written.set(scope, [...(written.get(scope) ?? []), `${scope}\u0000pub\u0000${key}`]);
    if (rand(10) === 0) clock.advance(rand(100));
    const counts = [...inner.scopes].map(([name, s]) => (held(name).length === s.count ? s.count : -1));
    const sum = counts.reduce((a, b) => a + b, 0);
    const byCount = inner.byCount.reduce((a: number, bucket, n) => a + n * (bucket?.length ?? 0), 0);
    if (results.size > 50 || sum !== results.size || byCount !== sum || inner.maxCount !== Math.max(0, ...counts)) bad++;
  }
  t.equal(bad, 0, 'at every step: at most 50, the counts per scope add up, the largest is known');
  for (const [scope, keys] of written) {
    const kept = held(scope);
    t.same(kept, keys.slice(keys.length - kept.length), `${scope} holds its ${kept.length} newest keys`);
  }
});

t.test('idempotency - writes that fail leave no trace: the queues stay bounded by the keys held', async (t) => {
  // A failed write is forgotten out of order; its entry stays queued until a rebuild, and with the
  // count bound never reached nothing else would drop it.
  const { results, write } = setup(1000);
  type Internals = { oldest: { length: number }; scopes: Map<string, { queue: { length: number } }> };
  const inner = results as unknown as Internals;
  t.ok(write('a', 'held'));
  const failing = Array.from({ length: 500 }, (_, i) => results.run('a', 'pub', `failed-${i}`, () => Promise.reject(new Error('no'))) as Promise<unknown>);
  const settled = await Promise.allSettled(failing);
  t.equal(settled.filter((s) => s.status === 'rejected').length, 500, 'every failed write rejects');
  await new Promise((r) => setImmediate(r));
  t.equal(results.size, 1, 'only the key that succeeded is held');
  // Rebuilt once more than twice the keys held plus 16 are queued: at most 19 for one key.
  t.ok(inner.scopes.get('a')!.queue.length <= 19, `the scope's queue holds ${inner.scopes.get('a')!.queue.length} entries`);
  t.ok(inner.oldest.length <= 19, `the window's queue holds ${inner.oldest.length} entries`);
  t.notOk(write('a', 'held'), 'the held key is still answered');
});

t.test('idempotency - an idempotencyKey of 1 to 128 characters', async (t) => {
  const { results } = setup(10);
  t.equal(results.run('a', 'pub', 'k'.repeat(128), () => 1), 1);
  t.throws(() => results.run('a', 'pub', 'k'.repeat(129), () => 1), { code: 'INVALID_ARGUMENT_ERROR' });
  t.throws(() => results.run('a', 'pub', '', () => 1), { code: 'INVALID_ARGUMENT_ERROR' });
});
