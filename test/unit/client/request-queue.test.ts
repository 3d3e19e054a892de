/** RequestQueue keeps requests in the order they were queued, never holds more than maxRequests
 * entries or maxBytes bytes, puts re-sent entries ahead of what waits only as far as both bounds
 * allow (refusing from the first misfit on, so order is kept), and remove()/takeAll() keep its
 * totals exact, also over many entries removed one by one in any order. */
import t from 'tap';
import { RequestQueue } from '../../../src/client/request-queue.js';

type Item = { name: string };
const item = (name: string): Item => ({ name });
const names = (items: Item[]) => items.map((i) => i.name);

t.test('request queue - takeAll returns the entries in the order pushed and empties the queue', async (t) => {
  const q = new RequestQueue<Item>({ maxRequests: 10, maxBytes: 1000 });
  for (const [i, n] of ['a', 'b', 'c'].entries()) q.push(item(n), 10 * (i + 1));
  t.equal(q.length, 3);
  t.equal(q.bytes, 60);
  t.same(names(q.takeAll()), ['a', 'b', 'c']);
  t.equal(q.length, 0);
  t.equal(q.bytes, 0);
  t.same(q.takeAll(), [], 'empty after takeAll');
  q.push(item('d'), 5);
  t.same(names(q.takeAll()), ['d'], 'usable again after takeAll');
});

t.test('request queue - refusal names the bound a new entry would pass, with what waits now', async (t) => {
  const q = new RequestQueue<Item>({ maxRequests: 2, maxBytes: 100 });
  t.equal(q.refusal(100), undefined, 'an entry of exactly maxBytes fits an empty queue');
  t.same(q.refusal(101), { bound: 'bytes', requests: 0, bytes: 0 }, 'one larger than maxBytes never fits');
  q.push(item('a'), 60);
  t.equal(q.refusal(40), undefined, 'fits exactly up to maxBytes');
  t.same(q.refusal(41), { bound: 'bytes', requests: 1, bytes: 60 });
  q.push(item('b'), 40);
  t.same(q.refusal(0), { bound: 'requests', requests: 2, bytes: 100 }, 'the count bound is checked first');
  const zeroCount = new RequestQueue<Item>({ maxRequests: 0, maxBytes: 100 });
  t.same(zeroCount.refusal(1), { bound: 'requests', requests: 0, bytes: 0 }, 'maxRequests 0 refuses everything');
  const zeroBytes = new RequestQueue<Item>({ maxRequests: 10, maxBytes: 0 });
  t.same(zeroBytes.refusal(1), { bound: 'bytes', requests: 0, bytes: 0 }, 'maxBytes 0 refuses every non-empty frame');
});

t.test('request queue - remove takes out one entry wherever it is and keeps the rest in order', async (t) => {
  const q = new RequestQueue<Item>({ maxRequests: 10, maxBytes: 1000 });
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
  q.push(a, 1); q.push(b, 2); q.push(c, 4); q.push(d, 8);
  t.equal(q.remove(c), true, 'from the middle');
  t.equal(q.bytes, 11);
  t.equal(q.remove(a), true, 'the first');
  t.equal(q.remove(d), true, 'the last');
  t.equal(q.remove(c), false, 'not twice');
  t.equal(q.remove(item('b')), false, 'an equal-looking item is not the same entry');
  t.equal(q.length, 1);
  t.equal(q.bytes, 2);
  t.equal(q.refusal(998), undefined, 'removed bytes are free again');
  t.same(names(q.takeAll()), ['b']);
  t.equal(q.remove(b), false, 'taken entries are no longer in the queue');
});

t.test('request queue - prependFitting puts entries ahead in their order, within both bounds, counting what waits', async (t) => {
  const q = new RequestQueue<Item>({ maxRequests: 4, maxBytes: 100 });
  q.push(item('w1'), 30);
  const refused = q.prependFitting([{ item: item('r1'), bytes: 20 }, { item: item('r2'), bytes: 20 }]);
  t.same(refused, [], 'both fit');
  t.equal(q.length, 3);
  t.equal(q.bytes, 70);
  t.same(names(q.takeAll()), ['r1', 'r2', 'w1'], 'the re-sent ones first, in their order, then what waited');
  const exact = new RequestQueue<Item>({ maxRequests: 4, maxBytes: 50 });
  exact.push(item('w1'), 30);
  t.same(exact.prependFitting([{ item: item('r1'), bytes: 20 }]), [], 'filling maxBytes exactly fits, as in refusal()');
});

t.test('request queue - prependFitting refuses from the first misfit on, even when a later one would fit', async (t) => {
  const byBytes = new RequestQueue<Item>({ maxRequests: 10, maxBytes: 100 });
  byBytes.push(item('w1'), 50);
  const refused = byBytes.prependFitting([
    { item: item('r1'), bytes: 30 }, { item: item('r2'), bytes: 30 }, { item: item('r3'), bytes: 1 },
  ]);
  t.same(names(refused), ['r2', 'r3'], 'r2 would pass maxBytes; r3 would fit but comes after it');
  t.equal(byBytes.bytes, 80);
  t.same(names(byBytes.takeAll()), ['r1', 'w1']);

  const byCount = new RequestQueue<Item>({ maxRequests: 3, maxBytes: 1000 });
  byCount.push(item('w1'), 1);
  byCount.push(item('w2'), 1);
  t.same(names(byCount.prependFitting([{ item: item('r1'), bytes: 1 }, { item: item('r2'), bytes: 1 }])), ['r2'], 'the count bound too');
  t.equal(byCount.length, 3);
  t.same(names(byCount.takeAll()), ['r1', 'w1', 'w2']);

  const full = new RequestQueue<Item>({ maxRequests: 1, maxBytes: 1000 });
  full.push(item('w1'), 1);
  t.same(names(full.prependFitting([{ item: item('r1'), bytes: 1 }])), ['r1'], 'nothing fits a full queue');
  t.same(names(full.takeAll()), ['w1'], 'what waited stays');
});

t.test('request queue - matches a plain list model over many pushes, removes and prepends in random order', async (t) => {
  // A seeded generator: the same sequence on every run.
  let seed = 42;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const bounds = { maxRequests: 4_000, maxBytes: 80_000 };
  const q = new RequestQueue<Item>(bounds);
  let model: Array<{ item: Item; bytes: number }> = [];
  let modelBytes = 0;
  let n = 0;
  let mismatches = 0;
  let refusals = 0;
  for (let step = 0; step < 30_000; step++) {
    const op = rand(10);
    if (op < 6) {
      const bytes = 1 + rand(40);
      const refusal = q.refusal(bytes);
      const fits = model.length + 1 <= bounds.maxRequests && modelBytes + bytes <= bounds.maxBytes;
      if ((refusal === undefined) !== fits) mismatches++;
      if (fits) { const e = { item: item(`p${n++}`), bytes }; q.push(e.item, bytes); model.push(e); modelBytes += bytes; } else refusals++;
    } else if (op < 9 && model.length > 0) {
      const [e] = model.splice(rand(model.length), 1);
      modelBytes -= e!.bytes;
      if (!q.remove(e!.item)) mismatches++;
    } else if (op === 9) {
      const batch = Array.from({ length: 1 + rand(5) }, () => ({ item: item(`r${n++}`), bytes: 1 + rand(40) }));
      let count = model.length;
      let sum = modelBytes;
      const admitted: typeof batch = [];
      for (const e of batch) {
        if (count + 1 > bounds.maxRequests || sum + e.bytes > bounds.maxBytes) break;
        admitted.push(e); count++; sum += e.bytes;
      }
      const refused = q.prependFitting(batch);
      if (names(refused).join() !== names(batch.slice(admitted.length).map((e) => e.item)).join()) mismatches++;
      model = [...admitted, ...model];
      modelBytes = sum;
    }
    if (q.length !== model.length || q.bytes !== modelBytes) mismatches++;
    if (q.length > bounds.maxRequests || q.bytes > bounds.maxBytes) mismatches++;
  }
  t.equal(mismatches, 0, 'every refusal, removal, prepend and total agreed with the model');
  t.ok(model.length > 1000, `the queue grew large (${model.length} entries)`);
  t.ok(refusals > 0, `the bounds were reached (${refusals} refusals)`);
  t.same(names(q.takeAll()), names(model.map((e) => e.item)), 'the same entries in the same order');

  // Many entries removed one by one, newest first (the order the old list paid most for).
  const big = new RequestQueue<Item>({ maxRequests: 100_000, maxBytes: 100_000 });
  const items = Array.from({ length: 100_000 }, (_, i) => item(`b${i}`));
  for (const it of items) big.push(it, 1);
  let removed = 0;
  for (let i = items.length - 1; i >= 0; i -= 2) if (big.remove(items[i]!)) removed++;
  t.equal(removed, 50_000);
  t.equal(big.length, 50_000);
  t.equal(big.bytes, 50_000);
  t.same(names(big.takeAll()).slice(0, 3), ['b0', 'b2', 'b4'], 'the rest in order');
});
