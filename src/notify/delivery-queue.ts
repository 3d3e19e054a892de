/** A bounded outbound queue for one destination (a webhook endpoint, the push services): jobs in
 * lanes, one lane per topic, so a topic's jobs go out in order while different topics go out in
 * parallel (up to maxInFlight). A lane sends up to maxBatch of its waiting jobs (and at most
 * maxBatchBytes of them) in one attempt, so a busy topic is not limited to one job per round trip.
 * A failed attempt is retried after an exponential backoff with full jitter, and not before the
 * destination's Retry-After (up to the backoff cap), holding its lane (order beats latency); after maxAttempts the job is dead-lettered and the lane moves on. Enqueueing
 * never waits: a full queue (queueSize jobs, or maxQueuedBytes of them) dead-letters the new job
 * (`queue_full`).
 *
 * Lanes belong to an owner (Web Push: the user's tokenId; webhooks: one owner for all). Each owner
 * holds at most maxQueuedPerOwner jobs and maxInFlightPerOwner attempts, and free slots go to the
 * owners in turn, one attempt per turn: one owner's dead or slow destinations cannot fill the queue
 * or every slot and starve everyone else's. An owner's jobs can be dropped at once (Web Push: its
 * tokenId was revoked): queued ones and pending retries are dead-lettered, attempts in flight are
 * aborted. */
import { Fifo } from '../lib/fifo.js';

/** What one attempt came to. `retry`: try again later (5xx, timeout, network); `reject`: the
 * destination refused it for good (a 4xx other than 408/429), dead-lettered at once; `gone`: the
 * destination no longer exists (Web Push 404/410), dropped without counting as a dead letter;
 * `unregistered`: not sent, the destination is no longer the owner's (Web Push: unregistered or
 * moved to another tokenId since the job was queued), dead-lettered. */
export type AttemptOutcome = 'delivered' | 'retry' | 'reject' | 'gone' | 'unregistered';
/** `revoked`: the owner's jobs were dropped by dropOwner (Web Push: its tokenId was revoked);
 * `unregistered`: the attempt answered `unregistered`. */
export type DeadLetterReason = 'queue_full' | 'attempts_exhausted' | 'rejected' | 'revoked' | 'unregistered';

export interface DeliveryLimits {
  queueSize: number;
  /** Bytes of the jobs waiting or in flight, as `jobBytes` counts them; unset: no byte bound. */
  maxQueuedBytes?: number;
  /** Jobs of one lane sent together in one attempt (1 = one at a time). */
  maxBatch: number;
  /** Bytes of one batch at most, as `jobBytes` counts them; a job bigger than this alone still goes
   * alone. Unset: no byte bound. */
  maxBatchBytes?: number;
  maxInFlight: number;
  /** Jobs one owner may have queued (waiting or in flight); unset: queueSize. */
  maxQueuedPerOwner?: number;
  /** Attempts of one owner in flight at once; unset: maxInFlight. */
  maxInFlightPerOwner?: number;
  maxAttempts: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export interface DeliveryOptions<J> {
  /** Injected so tests can pin the jitter. */
  random?: () => number;
  /** A job's share of a batch, in the unit of maxBatchBytes. */
  jobBytes?: (job: J) => number;
}

export interface DeliveryStats {
  queued: number;
  inFlight: number;
  delivered: number;
  gone: number;
  failedAttempts: number;
  deadLetters: Record<DeadLetterReason, number>;
}

/** A `retry` not before `afterMs` (the destination's Retry-After); honoured up to backoffMaxMs. */
export interface RetryLater { outcome: 'retry'; afterMs: number }

/** Sends a batch of one lane's jobs (oldest first) as one; must not throw (a throw counts as `retry`).
 * `signal` aborts when the owner's jobs are dropped: the request should stop at once. */
export type Attempt<J> = (jobs: readonly J[], attempt: number, signal: AbortSignal) => Promise<AttemptOutcome | RetryLater>;

interface Lane<J> { key: string; owner: Owner<J>; jobs: Fifo<J>; retry?: { batch: J[]; attempt: number } }

interface Owner<J> {
  key: string;
  lanes: Map<string, Lane<J>>;
  /** Lanes with jobs and nothing in flight or waiting for a retry. */
  ready: Fifo<Lane<J>>;
  /** Lanes whose backoff is over, waiting for a free slot (served before `ready`: they are older). */
  retries: Fifo<Lane<J>>;
  queued: number;
  queuedBytes: number;
  inFlight: number;
  /** In `turns` (at most once). */
  waiting: boolean;
  /** Its attempts in flight, to abort them when the owner is dropped. */
  attempts: Set<AbortController>;
  /** Dropped (dropOwner): its attempts still settling are forgotten, its retries not made. */
  dropped: boolean;
}

/** Owner of jobs enqueued without one (webhooks: the endpoint is the only owner). */
const SOLE_OWNER = '';

export class DeliveryQueue<J> {
  private readonly owners = new Map<string, Owner<J>>();
  /** Owners with a lane to send and a slot of their own left, in turn order. */
  private readonly turns = new Fifo<Owner<J>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private readonly jobBytes: ((job: J) => number) | undefined;
  private queued = 0;
  private queuedBytes = 0;
  private inFlight = 0;
  private closed = false;
  readonly stats: DeliveryStats = {
    queued: 0, inFlight: 0, delivered: 0, gone: 0, failedAttempts: 0,
    deadLetters: { queue_full: 0, attempts_exhausted: 0, rejected: 0, revoked: 0, unregistered: 0 },
  };

  constructor(
    private readonly limits: DeliveryLimits,
    private readonly attempt: Attempt<J>,
    options: DeliveryOptions<J> = {},
  ) {
    this.random = options.random ?? Math.random;
    this.jobBytes = options.jobBytes;
  }

  /** Queues `job` behind the earlier jobs of `owner`'s lane `laneKey`. False (and a `queue_full`
   * dead letter) when the queue, or the owner's share of it, is full. O(1): runs inside a publish. */
  enqueue(laneKey: string, job: J, ownerKey = SOLE_OWNER): boolean {
    if (this.closed) return false;
    let owner = this.owners.get(ownerKey);
    const bytes = this.jobBytes?.(job) ?? 0;
    if (this.queued >= this.limits.queueSize || (owner?.queued ?? 0) >= (this.limits.maxQueuedPerOwner ?? Infinity)
      || this.queuedBytes + bytes > (this.limits.maxQueuedBytes ?? Infinity)) {
      this.stats.deadLetters.queue_full++;
      return false;
    }
    if (!owner) {
      owner = { key: ownerKey, lanes: new Map(), ready: new Fifo(), retries: new Fifo(), queued: 0, queuedBytes: 0, inFlight: 0, waiting: false, attempts: new Set(), dropped: false };
      this.owners.set(ownerKey, owner);
    }
    this.queued++;
    this.queuedBytes += bytes;
    owner.queued++;
    owner.queuedBytes += bytes;
    let lane = owner.lanes.get(laneKey);
    if (!lane) {
      lane = { key: laneKey, owner, jobs: new Fifo() };
      owner.lanes.set(laneKey, lane);
      owner.ready.push(lane);
      this.offerTurn(owner);
    }
    lane.jobs.push(job);
    this.pump();
    return true;
  }

  snapshot(): DeliveryStats {
    return { ...this.stats, queued: this.queued, inFlight: this.inFlight, deadLetters: { ...this.stats.deadLetters } };
  }

  /** Drops every job of `ownerKey` at once: waiting ones and those waiting for a retry are
   * dead-lettered with `reason`, attempts in flight are aborted (and counted with them, whatever
   * they would have come to). Jobs enqueued later for the key start afresh. Answers how many. */
  dropOwner(ownerKey: string, reason: DeadLetterReason): number {
    const owner = this.owners.get(ownerKey);
    if (!owner) return 0;
    this.owners.delete(ownerKey);
    owner.dropped = true;
    const dropped = owner.queued;
    this.queued -= dropped;
    this.queuedBytes -= owner.queuedBytes;
    owner.queued = 0;
    owner.queuedBytes = 0;
    this.stats.deadLetters[reason] += dropped;
    owner.lanes.clear();
    owner.ready.clear();
    owner.retries.clear();
    // Their slots come back as the aborted attempts settle (run()).
    for (const controller of owner.attempts) controller.abort();
    owner.attempts.clear();
    return dropped;
  }

  /** Drops everything queued, aborts the attempts in flight and stops retrying (server shutdown,
   * an endpoint removed or replaced: a replacement's new queue must not add its requests to the
   * old one's at the destination, past maxInFlight). */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const owner of this.owners.values()) for (const controller of owner.attempts) controller.abort();
    this.owners.clear();
    this.turns.clear();
    this.queued = 0;
    this.queuedBytes = 0;
  }

  /** Queues the owner for a slot if it has a lane to send and is under its own in-flight cap. */
  private offerTurn(owner: Owner<J>): void {
    if (owner.waiting || owner.inFlight >= (this.limits.maxInFlightPerOwner ?? Infinity)) return;
    if (owner.retries.length === 0 && owner.ready.length === 0) return;
    owner.waiting = true;
    this.turns.push(owner);
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.turns.length > 0) {
      const owner = this.turns.shift()!;
      owner.waiting = false;
      if (owner.dropped) continue;
      let lane: Lane<J>;
      let batch: J[];
      let attempt: number;
      if (owner.retries.length > 0) {
        // A retry takes a slot like any attempt: maxInFlight bounds the requests at the destination.
        lane = owner.retries.shift()!;
        ({ batch, attempt } = lane.retry!);
        lane.retry = undefined;
      } else {
        lane = owner.ready.shift()!;
        batch = this.batchOf(lane);
        attempt = 1;
      }
      this.inFlight++;
      owner.inFlight++;
      // One attempt per turn: the owner goes to the back, behind everyone else waiting.
      this.offerTurn(owner);
      void this.run(lane, batch, attempt);
    }
  }

  /** The lane's oldest jobs, up to maxBatch and maxBatchBytes (the first one goes whatever its size). */
  private batchOf(lane: Lane<J>): J[] {
    const first = lane.jobs.at(0)!;
    const batch = [first];
    const maxBytes = this.limits.maxBatchBytes ?? Infinity;
    let bytes = this.jobBytes?.(first) ?? 0;
    for (let i = 1; i < this.limits.maxBatch && i < lane.jobs.length; i++) {
      const job = lane.jobs.at(i)!;
      bytes += this.jobBytes?.(job) ?? 0;
      if (bytes > maxBytes) break;
      batch.push(job);
    }
    return batch;
  }

  private async run(lane: Lane<J>, batch: J[], attempt: number): Promise<void> {
    const owner = lane.owner;
    const controller = new AbortController();
    owner.attempts.add(controller);
    let outcome: AttemptOutcome;
    let notBeforeMs = 0;
    try {
      const result = await this.attempt(batch, attempt, controller.signal);
      if (typeof result === 'string') outcome = result;
      else ({ outcome, afterMs: notBeforeMs } = result);
    } catch {
      outcome = 'retry';
    }
    if (this.closed) return;
    this.inFlight--;
    if (owner.dropped) {
      // Counted when dropped; only the slot is left to give back.
      this.pump();
      return;
    }
    owner.attempts.delete(controller);
    owner.inFlight--;
    if (outcome === 'retry') {
      this.stats.failedAttempts++;
      if (attempt < this.limits.maxAttempts) {
        // The lane stays held while it waits: a later job of the topic must not overtake this one.
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (this.closed || owner.dropped) return;
          lane.retry = { batch, attempt: attempt + 1 };
          owner.retries.push(lane);
          this.offerTurn(owner);
          this.pump();
        }, Math.max(this.backoff(attempt), Math.min(notBeforeMs, this.limits.backoffMaxMs)));
        timer.unref();
        this.timers.add(timer);
        // The owner's freed slot may serve its other lanes.
        this.offerTurn(owner);
        this.pump();
        return;
      }
      this.stats.deadLetters.attempts_exhausted += batch.length;
    } else if (outcome === 'reject') {
      this.stats.deadLetters.rejected += batch.length;
    } else if (outcome === 'unregistered') {
      this.stats.deadLetters.unregistered += batch.length;
    } else if (outcome === 'gone') {
      this.stats.gone += batch.length;
    } else {
      this.stats.delivered += batch.length;
    }
    this.finish(lane, batch.length);
  }

  /** The lane's head jobs are settled: the next ones may go. */
  private finish(lane: Lane<J>, settled: number): void {
    const owner = lane.owner;
    for (let i = 0; i < settled; i++) {
      const job = lane.jobs.shift()!;
      const bytes = this.jobBytes?.(job) ?? 0;
      this.queuedBytes -= bytes;
      owner.queuedBytes -= bytes;
    }
    this.queued -= settled;
    owner.queued -= settled;
    if (lane.jobs.length > 0) owner.ready.push(lane);
    else owner.lanes.delete(lane.key);
    // An owner with nothing queued has no lane, no turn and nothing in flight: forget it.
    if (owner.queued === 0) this.owners.delete(owner.key);
    else this.offerTurn(owner);
    this.pump();
  }

  /** Exponential backoff with full jitter (a random delay up to the capped exponential), so
   * endpoints recovering from an outage are not hit by every sender at once. */
  private backoff(attempt: number): number {
    const cap = Math.min(this.limits.backoffMaxMs, this.limits.backoffInitialMs * 2 ** (attempt - 1));
    return Math.max(1, Math.floor(this.random() * cap));
  }
}
