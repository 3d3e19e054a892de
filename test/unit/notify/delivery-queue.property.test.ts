/** DeliveryQueue (src/notify/delivery-queue.ts) driven by random enqueues across owners and lanes,
 * attempt outcomes (delivered / retry / reject / gone) settled in random order, backoffs running
 * out, and close(). Guarantees proved, checked after every step:
 * - attempts in flight never pass maxInFlight in total nor maxInFlightPerOwner for one owner;
 * - an owner never holds more than maxQueuedPerOwner jobs, the queue never more than queueSize;
 * - a lane has at most one attempt in flight (or one batch waiting for its retry), its jobs go out
 *   oldest first, and a retry resends the same batch;
 * - a batch holds at most maxBatch jobs and at most maxBatchBytes bytes (a first job alone may pass it);
 * - while a slot is free, no owner with a sendable lane and a slot of its own left is kept waiting;
 * - the owners map and the turn queue hold no owner with nothing queued (no memory left behind);
 * - every accepted job ends exactly once (delivered, gone or dead-lettered, matching the stats),
 *   and once every attempt succeeds everything drains (unless the queue was closed). */
import t from 'tap';
import fc from 'fast-check';
import { DeliveryQueue, type AttemptOutcome, type DeliveryLimits } from '../../../src/notify/delivery-queue.js';

interface Job { id: number; owner: string; lane: string; bytes: number }
type Cmd =
  | { k: 'enqueue'; owner: number; lane: number; bytes: number }
  | { k: 'settle'; pick: number; outcome: AttemptOutcome }
  | { k: 'wait' }
  | { k: 'close' };

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('enqueue' as const), owner: fc.nat(2), lane: fc.nat(1), bytes: fc.nat(12) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('settle' as const), pick: fc.nat(), outcome: fc.constantFrom<AttemptOutcome>('delivered', 'delivered', 'retry', 'reject', 'gone') }) },
  { weight: 1, arbitrary: fc.constant({ k: 'wait' as const }) },
);
/** Most runs never close (so they reach the drain); a quarter close at a random step. */
const cmds: fc.Arbitrary<Cmd[]> = fc.tuple(fc.array(cmd, { minLength: 10, maxLength: 80 }), fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(60) }))
  .map(([list, closeAt]) => (closeAt < 0 ? list : [...list.slice(0, closeAt), { k: 'close' as const }, ...list.slice(closeAt)]));

const limitsArb: fc.Arbitrary<DeliveryLimits> = fc.record({
  queueSize: fc.integer({ min: 1, max: 16 }),
  maxBatch: fc.integer({ min: 1, max: 4 }),
  maxBatchBytes: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
  maxInFlight: fc.integer({ min: 1, max: 4 }),
  maxQueuedPerOwner: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  maxInFlightPerOwner: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  maxAttempts: fc.integer({ min: 1, max: 3 }),
  backoffInitialMs: fc.constant(1),
  backoffMaxMs: fc.constant(2),
});

/** The queue's private state, read for the memory and liveness invariants. */
interface Internals {
  owners: Map<string, { key: string; queued: number; inFlight: number; waiting: boolean; lanes: Map<string, unknown>; ready: { length: number }; retries: { length: number } }>;
  turns: { length: number; [Symbol.iterator](): Iterator<{ key: string }> };
  inFlight: number;
}

async function run(limits: DeliveryLimits, cmds: Cmd[]): Promise<void> {
  // A throw inside the attempt would count as a `retry` to the queue: remember it, throw in check().
  const violations: string[] = [];
  const fail = (msg: string): never => { violations.push(msg); throw new Error(msg); };
  const calls: Array<{ jobs: Job[]; attempt: number; resolve: (o: AttemptOutcome) => void }> = [];
  const inFlightByOwner = new Map<string, number>();
  const laneBusy = new Set<string>();
  /** Per lane, the accepted jobs not ended yet, oldest first. */
  const open = new Map<string, Job[]>();
  /** Per lane, the batch whose retry is due (it must come back unchanged). */
  const retrying = new Map<string, { ids: number[]; attempt: number }>();
  const ended = new Map<number, number>();
  const accepted = new Set<number>();
  let inFlight = 0;
  let nextId = 0;
  let closed = false;
  const perOwnerCap = limits.maxInFlightPerOwner ?? Infinity;
  const laneId = (j: Job) => `${j.owner}/${j.lane}`;

  const q = new DeliveryQueue<Job>(limits, (jobs, attempt) => {
    if (closed) fail('an attempt after close()');
    const first = jobs[0] ?? fail('an empty batch');
    const lane = laneId(first);
    if (jobs.some((j) => laneId(j) !== lane)) fail('a batch mixes lanes');
    if (laneBusy.has(lane)) fail(`two attempts of lane ${lane} at once`);
    if (jobs.length > limits.maxBatch) fail(`batch of ${jobs.length} > maxBatch ${limits.maxBatch}`);
    const bytes = jobs.reduce((s, j) => s + j.bytes, 0);
    if (jobs.length > 1 && bytes > (limits.maxBatchBytes ?? Infinity)) fail(`batch of ${bytes} bytes > maxBatchBytes`);
    const head = (open.get(lane) ?? []).slice(0, jobs.length).map((j) => j.id);
    if (head.join() !== jobs.map((j) => j.id).join()) fail(`lane ${lane} sent ${jobs.map((j) => j.id)} but its oldest are ${head}`);
    const due = retrying.get(lane);
    if (due) {
      if (attempt !== due.attempt || due.ids.join() !== jobs.map((j) => j.id).join()) fail(`lane ${lane}: retry is not the same batch`);
      retrying.delete(lane);
    } else if (attempt !== 1) fail(`attempt ${attempt} without a failed one before`);
    inFlight++;
    inFlightByOwner.set(first.owner, (inFlightByOwner.get(first.owner) ?? 0) + 1);
    if (inFlight > limits.maxInFlight) fail(`${inFlight} attempts in flight > maxInFlight ${limits.maxInFlight}`);
    if (inFlightByOwner.get(first.owner)! > perOwnerCap) fail(`owner ${first.owner} has more than maxInFlightPerOwner in flight`);
    laneBusy.add(lane);
    return new Promise<AttemptOutcome>((resolve) => {
      calls.push({ jobs: [...jobs], attempt, resolve: (outcome) => {
        inFlight--;
        inFlightByOwner.set(first.owner, inFlightByOwner.get(first.owner)! - 1);
        laneBusy.delete(lane);
        const final = outcome !== 'retry' || attempt >= limits.maxAttempts;
        if (final) {
          for (const j of jobs) ended.set(j.id, (ended.get(j.id) ?? 0) + 1);
          open.set(lane, open.get(lane)!.slice(jobs.length));
        } else retrying.set(lane, { ids: jobs.map((j) => j.id), attempt: attempt + 1 });
        resolve(outcome);
      } });
    });
  }, { random: () => 0.99, jobBytes: (j) => j.bytes });

  const internals = q as unknown as Internals;
  const check = () => {
    if (violations.length > 0) throw new Error(violations[0]);
    if (closed) return;
    let queuedTotal = 0;
    for (const [key, owner] of internals.owners) {
      if (owner.queued <= 0) fail(`owner ${key} kept with nothing queued`);
      if (owner.queued > (limits.maxQueuedPerOwner ?? Infinity)) fail(`owner ${key} holds ${owner.queued} > maxQueuedPerOwner`);
      const openJobs = [...open.entries()].filter(([lane]) => lane.startsWith(`${key}/`)).reduce((s, [, js]) => s + js.length, 0);
      if (openJobs !== owner.queued) fail(`owner ${key} counts ${owner.queued} queued, ${openJobs} are open`);
      queuedTotal += owner.queued;
      const sendable = owner.ready.length + owner.retries.length > 0 && owner.inFlight < perOwnerCap;
      // Liveness: a free slot never sits beside an owner that could use it.
      if (sendable && internals.inFlight < limits.maxInFlight) fail(`owner ${key} waits while a slot is free`);
      if (sendable && !owner.waiting) fail(`owner ${key} has a lane to send but no turn`);
    }
    for (const owner of internals.turns) if (!internals.owners.has(owner.key)) fail(`turns hold forgotten owner ${owner.key}`);
    if (queuedTotal > limits.queueSize) fail('queue holds more than queueSize');
    if (q.snapshot().queued !== queuedTotal) fail('snapshot().queued disagrees with the owners');
    if (internals.turns.length > internals.owners.size) fail('more turns than owners');
  };

  try {
    for (const c of cmds) {
      if (c.k === 'enqueue') {
        const job: Job = { id: nextId++, owner: `o${c.owner}`, lane: `l${c.lane}`, bytes: c.bytes };
        // Open before enqueue: the first attempt may start inside it.
        const before = open.get(laneId(job)) ?? [];
        open.set(laneId(job), [...before, job]);
        if (q.enqueue(job.lane, job, job.owner)) {
          if (closed) fail('accepted after close()');
          accepted.add(job.id);
        } else open.set(laneId(job), before);
      } else if (c.k === 'settle') {
        if (calls.length > 0) calls.splice(c.pick % calls.length, 1)[0]!.resolve(c.outcome);
      } else if (c.k === 'wait') {
        await sleep(3);
      } else {
        q.close();
        closed = true;
      }
      await turn();
      check();
    }
    if (violations.length > 0) throw new Error(violations[0]);
    if (closed) return;
    // Liveness: every attempt succeeds from now on, so everything must drain.
    for (let i = 0; i < 2000 && (q.snapshot().queued > 0 || calls.length > 0); i++) {
      for (const call of calls.splice(0)) call.resolve('delivered');
      await (retrying.size > 0 ? sleep(1) : turn());
      check();
    }
    const s = q.snapshot();
    if (violations.length > 0) throw new Error(violations[0]);
    if (s.queued !== 0 || s.inFlight !== 0) fail(`not drained: ${JSON.stringify(s)}`);
    if (internals.owners.size !== 0 || internals.turns.length !== 0) fail('owners or turns left behind after draining');
    for (const id of accepted) if (ended.get(id) !== 1) fail(`job ${id} ended ${ended.get(id) ?? 0} times`);
    if (ended.size !== accepted.size) fail('a job that was never accepted ended');
    const settled = s.delivered + s.gone + s.deadLetters.rejected + s.deadLetters.attempts_exhausted;
    if (settled !== accepted.size) fail(`stats count ${settled} ended jobs, ${accepted.size} were accepted`);
  } finally {
    q.close();
    for (const call of calls.splice(0)) call.resolve('delivered');
  }
}

t.test('delivery queue invariants hold under random enqueues, outcomes, backoffs and close()', async (t) => {
  await fc.assert(fc.asyncProperty(limitsArb, cmds, run), { numRuns: 300 });
  t.pass('every run kept the invariants');
});
