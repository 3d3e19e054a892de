import t from 'tap';
import { Deque } from '../../../src/lib/deque.js';
import {
  equalTo, fetchRange, planPush, pushBack, pushFront, rangeProblem, removeWhere, resolveRange, retainRange, valuesEqual,
} from '../../../src/store/list-ops.js';

const list = (...xs: number[]) => new Deque(xs);

t.test('push back / concatenate back with truncateFrontToSize', async (t) => {
  const cases: Array<{ name: string; start: number[]; add: number[]; trunc?: number; want: number[]; dropped: number[] }> = [
    { name: 'Momento docs: [1,2,3] + [4,5,6], truncateFrontToSize 5', start: [1, 2, 3], add: [4, 5, 6], trunc: 5, want: [2, 3, 4, 5, 6], dropped: [1] },
    { name: 'Momento docs: truncateFrontToSize 10 cuts nothing', start: [1, 2, 3], add: [4, 5, 6], trunc: 10, want: [1, 2, 3, 4, 5, 6], dropped: [] },
    { name: 'no truncation', start: [1, 2, 3], add: [4, 5, 6], want: [1, 2, 3, 4, 5, 6], dropped: [] },
    { name: 'onto an empty list', start: [], add: [7], want: [7], dropped: [] },
    { name: 'single push, cap 3 (chat history)', start: [1, 2, 3], add: [4], trunc: 3, want: [2, 3, 4], dropped: [1] },
    { name: 'cap smaller than the new values keeps their tail', start: [1, 2, 3], add: [4, 5, 6], trunc: 2, want: [5, 6], dropped: [1, 2, 3] },
    { name: 'cap 1', start: [1], add: [2, 3], trunc: 1, want: [3], dropped: [1] },
    { name: 'cap equal to the result length', start: [1, 2], add: [3], trunc: 3, want: [1, 2, 3], dropped: [] },
  ];
  for (const c of cases) {
    const l = list(...c.start);
    const dropped = pushBack(l, c.add, c.trunc);
    t.same([...l], c.want, c.name);
    t.same(dropped, c.dropped, `${c.name}: dropped`);
  }
});

t.test('push front / concatenate front with truncateBackToSize', async (t) => {
  const cases: Array<{ name: string; start: number[]; add: number[]; trunc?: number; want: number[]; dropped: number[] }> = [
    { name: 'Momento docs: [4,5,6] placed before [1,2,3]', start: [1, 2, 3], add: [4, 5, 6], want: [4, 5, 6, 1, 2, 3], dropped: [] },
    { name: 'truncateBackToSize 5', start: [1, 2, 3], add: [4, 5, 6], trunc: 5, want: [4, 5, 6, 1, 2], dropped: [3] },
    { name: 'cap smaller than the new values keeps their head', start: [1, 2, 3], add: [4, 5, 6], trunc: 2, want: [4, 5], dropped: [3, 2, 1] },
    { name: 'single push front, cap 3', start: [1, 2, 3], add: [0], trunc: 3, want: [0, 1, 2], dropped: [3] },
    { name: 'onto an empty list', start: [], add: [1, 2], want: [1, 2], dropped: [] },
  ];
  for (const c of cases) {
    const l = list(...c.start);
    const dropped = pushFront(l, c.add, c.trunc);
    t.same([...l], c.want, c.name);
    t.same(dropped, c.dropped, `${c.name}: dropped`);
  }
});

t.test('planPush predicts what the push does', async (t) => {
  t.same(planPush(3, 3, 5), { dropExisting: 1, dropNew: 0, newLength: 5 });
  t.same(planPush(3, 3, 2), { dropExisting: 3, dropNew: 1, newLength: 2 });
  t.same(planPush(0, 4), { dropExisting: 0, dropNew: 0, newLength: 4 });
});

t.test('fetch ranges: start inclusive, end exclusive, negatives from the end, overshoot clamps', async (t) => {
  const l = list(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
  const cases: Array<[number | undefined, number | undefined, number[]]> = [
    [undefined, undefined, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    [2, 5, [2, 3, 4]],
    [2, undefined, [2, 3, 4, 5, 6, 7, 8, 9]],
    [undefined, 3, [0, 1, 2]],
    [-3, undefined, [7, 8, 9]],
    [-10, undefined, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    [-100, undefined, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    [-3, -1, [7, 8]],
    [0, -1, [0, 1, 2, 3, 4, 5, 6, 7, 8]],
    [8, 100, [8, 9]],
    [10, undefined, []],
    [50, 60, []],
    [5, -6, []],
    [-2, 3, []],
    [undefined, -20, []],
  ];
  for (const [start, end, want] of cases) t.same(fetchRange(l, start, end), want, `[${start}, ${end})`);
  t.same(fetchRange(list(), 0, 5), [], 'empty list');
  t.same(fetchRange(list(), -3), [], 'empty list, negative start');
});

t.test('range validation (same-sign pairs only)', async (t) => {
  t.equal(rangeProblem(0, 0), 'endIndex (exclusive) must be larger than startIndex (inclusive)');
  t.ok(rangeProblem(5, 3));
  t.ok(rangeProblem(-1, -3));
  t.ok(rangeProblem(-2, -2));
  t.equal(rangeProblem(3, 5), undefined);
  t.equal(rangeProblem(-3, -1), undefined);
  t.equal(rangeProblem(-3, 2), undefined, 'mixed signs resolve against the length');
  t.equal(rangeProblem(5, -1), undefined);
  t.equal(rangeProblem(undefined, 0), undefined);
  t.equal(rangeProblem(2, undefined), undefined);
  t.same(resolveRange(4, 3, 1), [3, 3], 'a resolved range never runs backwards');
});

t.test('retain keeps the slice and returns the rest', async (t) => {
  const cases: Array<[number | undefined, number | undefined, number[], number[]]> = [
    [1, 3, [1, 2], [0, 3, 4]],
    [-2, undefined, [3, 4], [0, 1, 2]],
    [undefined, undefined, [0, 1, 2, 3, 4], []],
    [10, 20, [], [0, 1, 2, 3, 4]],
    [0, 100, [0, 1, 2, 3, 4], []],
  ];
  for (const [start, end, kept, removed] of cases) {
    const l = list(0, 1, 2, 3, 4);
    t.same(retainRange(l, start, end), removed, `[${start}, ${end}) removed`);
    t.same([...l], kept, `[${start}, ${end}) kept`);
  }
});

t.test('remove every equal element', async (t) => {
  const l = new Deque(['a', 'b', 'a', 'c', 'a']);
  t.same(removeWhere(l, equalTo('a')), ['a', 'a', 'a']);
  t.same([...l], ['b', 'c']);
  t.same(removeWhere(l, equalTo('zzz')), [], 'no match: nothing removed');
  t.same([...l], ['b', 'c']);
});

t.test('value equality treats text as its UTF-8 bytes', async (t) => {
  const enc = new TextEncoder();
  t.ok(valuesEqual('héllo', 'héllo'));
  t.notOk(valuesEqual('a', 'b'));
  t.ok(valuesEqual('héllo', enc.encode('héllo')));
  t.ok(valuesEqual(enc.encode('x'), 'x'));
  t.ok(valuesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  t.notOk(valuesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])));
  t.notOk(valuesEqual(new Uint8Array([1, 3]), new Uint8Array([1, 2])));
  const m = equalTo('ok');
  t.ok(m(enc.encode('ok')));
  t.ok(m('ok'));
  t.notOk(m(enc.encode('no')));
});

t.test('deque: both ends, wraparound, growth and shrink', async (t) => {
  const d = new Deque<number>();
  const model: number[] = [];
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const mismatches: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const r = rand();
    if (r < 0.3) { d.pushBack(i); model.push(i); }
    else if (r < 0.55) { d.pushFront(i); model.unshift(i); }
    else if (r < 0.78) { const [a, b] = [d.popBack(), model.pop()]; if (a !== b) mismatches.push(`step ${i}: popBack ${a} != ${b}`); }
    else { const [a, b] = [d.popFront(), model.shift()]; if (a !== b) mismatches.push(`step ${i}: popFront ${a} != ${b}`); }
    if (d.length !== model.length) mismatches.push(`step ${i}: length ${d.length} != ${model.length}`);
  }
  t.same(mismatches, [], 'every pop matches the array model');
  t.same([...d], model, 'same content as an array model after 5000 random operations');
  t.same(d.slice(1, 3), model.slice(1, 3));
  t.ok(d.capacity >= d.length && (d.capacity <= 4 || d.capacity <= 4 * Math.max(d.length, 1)), 'capacity within 4x length');
  while (d.length > 0) d.popFront();
  t.equal(d.popBack(), undefined);
  t.equal(d.popFront(), undefined);
  t.equal(d.capacity, 4, 'shrinks back when emptied');
});
