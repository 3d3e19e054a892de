import t from 'tap';
import { DeliveryQueue, type AttemptOutcome } from '../../../src/notify/delivery-queue.js';
import { BurstCollapser } from '../../../src/notify/burst-collapser.js';
import { ManualClock } from '../../../src/core/clock.js';

const limits = { queueSize: 5, maxBatch: 3, maxInFlight: 2, maxAttempts: 3, backoffInitialMs: 5, backoffMaxMs: 10 };
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

t.test('delivery queue - lanes keep order, batch what waited behind a request, run in parallel up to maxInFlight', async (t) => {
  const calls: string[][] = [];
  const gates: Array<() => void> = [];
  const q = new DeliveryQueue<string>(limits, (jobs) => { calls.push([...jobs]); return new Promise<AttemptOutcome>((r) => gates.push(() => r('delivered'))); });
  t.teardown(() => q.close());
  q.enqueue('a', 'a1'); q.enqueue('a', 'a2'); q.enqueue('b', 'b1'); q.enqueue('a', 'a3'); q.enqueue('c', 'c1');
  t.same(calls, [['a1'], ['b1']], 'a1 left at once, b1 beside it; the rest wait for a slot');
  t.notOk(q.enqueue('a', 'a4'), 'the queue is full (5 jobs)');
  t.equal(q.snapshot().deadLetters.queue_full, 1);
  gates.shift()!();
  await tick();
  t.same(calls.at(-1), ['c1'], 'a freed slot goes to the lane that waited longest');
  gates.shift()!();
  await tick();
  t.same(calls.at(-1), ['a2', 'a3'], 'what queued behind a1 goes as one batch, in order');
  gates.splice(0).forEach((g) => g());
  await tick();
  t.match(q.snapshot(), { delivered: 5, queued: 0, inFlight: 0 });
});

t.test('delivery queue - retries with a backoff holding the lane, then dead-letters', async (t) => {
  const calls: Array<[string, number]> = [];
  const q = new DeliveryQueue<string>({ ...limits, maxBatch: 1 }, async ([job], attempt) => { calls.push([job!, attempt]); return job === 'bad' ? 'retry' : job === 'no' ? 'reject' : 'delivered'; }, { random: () => 0.5 });
  t.teardown(() => q.close());
  q.enqueue('x', 'bad'); q.enqueue('x', 'after'); q.enqueue('y', 'no');
  while (q.snapshot().queued > 0) await tick(5);
  t.same(calls.filter(([j]) => j !== 'no'), [['bad', 1], ['bad', 2], ['bad', 3], ['after', 1]], 'the lane waited for the retries');
  t.match(q.snapshot(), { delivered: 1, failedAttempts: 3, deadLetters: { attempts_exhausted: 1, rejected: 1 } });
});

t.test('delivery queue - a batch stops before the job that would pass maxBatchBytes; an oversize job goes alone', async (t) => {
  const calls: string[][] = [];
  const gates: Array<() => void> = [];
  const q = new DeliveryQueue<string>({ ...limits, queueSize: 10, maxBatch: 10, maxBatchBytes: 10 }, (jobs) => {
    calls.push([...jobs]);
    return new Promise<AttemptOutcome>((r) => gates.push(() => r('delivered')));
  }, { jobBytes: (job) => job.length });
  t.teardown(() => q.close());
  for (const job of ['first', 'aaaa', 'bbbb', 'cc', 'dddddddddddd', 'e']) q.enqueue('x', job);
  while (q.snapshot().queued > 0) { gates.splice(0).forEach((g) => g()); await tick(); }
  t.same(calls, [['first'], ['aaaa', 'bbbb', 'cc'], ['dddddddddddd'], ['e']], 'cut at 10 bytes; the 12-byte job alone');
  t.equal(q.snapshot().delivered, 6, 'every job once');
});

t.test('delivery queue - an owner is held to its share of the queue, and the slots go round the owners', async (t) => {
  const calls: string[] = [];
  const gates: Array<() => void> = [];
  const q = new DeliveryQueue<string>({ ...limits, queueSize: 10, maxBatch: 1, maxInFlight: 3, maxQueuedPerOwner: 4, maxInFlightPerOwner: 2 }, ([job]) => {
    calls.push(job!);
    return new Promise<AttemptOutcome>((r) => gates.push(() => r('delivered')));
  });
  t.teardown(() => q.close());
  const accepted = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'].map((job) => q.enqueue(job, job, 'alice'));
  t.same(accepted, [true, true, true, true, false, false], 'alice queues 4, past her share new jobs are refused');
  t.equal(q.snapshot().deadLetters.queue_full, 2, 'and counted');
  t.same(calls, ['a1', 'a2'], 'alice holds at most 2 slots though 3 are free');
  t.ok(q.enqueue('b1', 'b1', 'bob'), 'bob still has room in the queue');
  t.ok(q.enqueue('b2', 'b2', 'bob'));
  t.same(calls, ['a1', 'a2', 'b1'], 'bob takes the slot alice may not');
  gates.shift()!(); // a1 done: bob waited for a slot before alice got back under her cap
  await tick();
  t.same(calls.slice(3), ['b2'], 'the freed slot goes to the owner whose turn came first');
  gates.shift()!(); // a2 done
  await tick();
  t.same(calls.slice(4), ['a3'], 'then alice\'s turn');
  gates.splice(0).forEach((g) => g());
  await tick();
  gates.splice(0).forEach((g) => g());
  await tick();
  t.same(calls.slice(5), ['a4']);
  t.match(q.snapshot(), { delivered: 6, queued: 0, inFlight: 0 });
});

t.test('burst collapser - first at once, the rest as one with a count, quiet keys forgotten', async (t) => {
  const out: Array<[string, string, number]> = [];
  const clock = new ManualClock();
  const c = new BurstCollapser<string>(clock, 30, (k, v, n) => out.push([k, v, n]));
  t.teardown(() => c.close());
  c.offer('o', 'k', 'v1'); c.offer('o', 'k', 'v2'); c.offer('o', 'k', 'v3'); c.offer('o', 'j', 'w1');
  t.same(out, [['k', 'v1', 1], ['j', 'w1', 1]]);
  clock.advance(29);
  t.equal(out.length, 2, 'nothing more within the window');
  clock.advance(1);
  t.same(out.slice(2), [['k', 'v3', 2]]);
  t.equal(c.collapsed, 1, 'v2 was folded into v3');
  clock.advance(30);
  t.equal(c.size, 0, 'no timer left for quiet keys');
  t.equal(clock.pending, 0);
});

t.test('delivery queue - maxQueuedBytes bounds the bytes waiting or in flight; settled and dropped jobs free theirs', async (t) => {
  const gates: Array<() => void> = [];
  const q = new DeliveryQueue<string>({ ...limits, queueSize: 100, maxBatch: 1, maxInFlight: 1, maxQueuedBytes: 10 }, () =>
    new Promise<AttemptOutcome>((r) => gates.push(() => r('delivered'))), { jobBytes: (job) => job.length });
  t.teardown(() => q.close());
  t.same(['aaaa', 'bbbb', 'cc', 'd'].map((job) => q.enqueue('x', job, 'alice')), [true, true, true, false], '4 + 4 + 2 bytes fit in 10, one more does not');
  t.equal(q.snapshot().deadLetters.queue_full, 1);
  gates.shift()!();
  await tick();
  t.ok(q.enqueue('x', 'eeee', 'alice'), 'the delivered job\'s 4 bytes are free again');
  t.notOk(q.enqueue('y', 'f', 'bob'), 'the bound is the queue\'s, whoever enqueues');
  t.equal(q.dropOwner('alice', 'revoked'), 3);
  t.ok(q.enqueue('y', '0123456789', 'bob'), 'an owner\'s dropped jobs free their bytes');
});
