/** A bounded outbound queue for one destination (a webhook endpoint, the push services): jobs in
 * lanes, one lane per topic, so a topic's jobs go out in order while different topics go out in
 * parallel (up to maxInFlight). A lane sends up to maxBatch of its waiting jobs in one attempt, so
 * a busy topic is not limited to one job per round trip. A failed attempt is retried after an exponential backoff with full
 * jitter, holding its lane (order beats latency); after maxAttempts the job is dead-lettered and
 * the lane moves on. Enqueueing never waits: a full queue dead-letters the new job (`queue_full`). */
import { Fifo } from '../lib/fifo.js';

/** What one attempt came to. `retry`: try again later (5xx, timeout, network); `reject`: the
 * destination refused it for good (a 4xx other than 408/429), dead-lettered at once; `gone`: the
 * destination no longer exists (Web Push 404/410), dropped without counting as a dead letter. */
export type AttemptOutcome = 'delivered' | 'retry' | 'reject' | 'gone';
export type DeadLetterReason = 'queue_full' | 'attempts_exhausted' | 'rejected';

export interface DeliveryLimits {
  queueSize: number;
  /** Jobs of one lane sent together in one attempt (1 = one at a time). */
  maxBatch: number;
  maxInFlight: number;
  maxAttempts: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export interface DeliveryStats {
  queued: number;
  inFlight: number;
  delivered: number;
  gone: number;
  failedAttempts: number;
  deadLetters: Record<DeadLetterReason, number>;
}

/** Sends a batch of one lane's jobs (oldest first) as one; must not throw (a throw counts as `retry`). */
export type Attempt<J> = (jobs: readonly J[], attempt: number) => Promise<AttemptOutcome>;

interface Lane<J> { key: string; jobs: Fifo<J>; retry?: { batch: J[]; attempt: number } }

export class DeliveryQueue<J> {
  private readonly lanes = new Map<string, Lane<J>>();
  /** Lanes with jobs and nothing in flight or waiting for a retry. */
  private readonly ready = new Fifo<Lane<J>>();
  /** Lanes whose backoff is over, waiting for a free slot (served before `ready`: they are older). */
  private readonly retries = new Fifo<Lane<J>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private queued = 0;
  private inFlight = 0;
  private closed = false;
  readonly stats: DeliveryStats = {
    queued: 0, inFlight: 0, delivered: 0, gone: 0, failedAttempts: 0,
    deadLetters: { queue_full: 0, attempts_exhausted: 0, rejected: 0 },
  };

  constructor(
    private readonly limits: DeliveryLimits,
    private readonly attempt: Attempt<J>,
    /** Injected so tests can pin the jitter. */
    private readonly random: () => number = Math.random,
  ) {}

  /** Queues `job` behind the lane's earlier jobs. False (and a `queue_full` dead letter) when the
   * queue is full. O(1): runs inside a publish. */
  enqueue(laneKey: string, job: J): boolean {
    if (this.closed) return false;
    if (this.queued >= this.limits.queueSize) {
      this.stats.deadLetters.queue_full++;
      return false;
    }
    this.queued++;
    let lane = this.lanes.get(laneKey);
    if (!lane) {
      lane = { key: laneKey, jobs: new Fifo() };
      this.lanes.set(laneKey, lane);
      this.ready.push(lane);
    }
    lane.jobs.push(job);
    this.pump();
    return true;
  }

  snapshot(): DeliveryStats {
    return { ...this.stats, queued: this.queued, inFlight: this.inFlight, deadLetters: { ...this.stats.deadLetters } };
  }

  /** Drops everything queued and stops retrying (server shutdown). */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.lanes.clear();
    this.ready.clear();
    this.retries.clear();
    this.queued = 0;
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && (this.retries.length > 0 || this.ready.length > 0)) {
      if (this.retries.length > 0) {
        // A retry takes a slot like any attempt: maxInFlight bounds the requests at the destination.
        const lane = this.retries.shift()!;
        const { batch, attempt } = lane.retry!;
        lane.retry = undefined;
        this.inFlight++;
        void this.run(lane, batch, attempt);
        continue;
      }
      const lane = this.ready.shift()!;
      this.inFlight++;
      const batch: J[] = [];
      for (let i = 0; i < this.limits.maxBatch && i < lane.jobs.length; i++) batch.push(lane.jobs.at(i)!);
      void this.run(lane, batch, 1);
    }
  }

  private async run(lane: Lane<J>, batch: J[], attempt: number): Promise<void> {
    let outcome: AttemptOutcome;
    try {
      outcome = await this.attempt(batch, attempt);
    } catch {
      outcome = 'retry';
    }
    if (this.closed) return;
    if (outcome === 'retry') {
      this.stats.failedAttempts++;
      if (attempt < this.limits.maxAttempts) {
        // The lane stays held while it waits: a later job of the topic must not overtake this one.
        this.inFlight--;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (this.closed) return;
          lane.retry = { batch, attempt: attempt + 1 };
          this.retries.push(lane);
          this.pump();
        }, this.backoff(attempt));
        timer.unref();
        this.timers.add(timer);
        this.pump();
        return;
      }
      this.stats.deadLetters.attempts_exhausted += batch.length;
    } else if (outcome === 'reject') {
      this.stats.deadLetters.rejected += batch.length;
    } else if (outcome === 'gone') {
      this.stats.gone += batch.length;
    } else {
      this.stats.delivered += batch.length;
    }
    this.inFlight--;
    this.finish(lane, batch.length);
  }

  /** The lane's head jobs are settled: the next ones may go. */
  private finish(lane: Lane<J>, settled: number): void {
    for (let i = 0; i < settled; i++) lane.jobs.shift();
    this.queued -= settled;
    if (lane.jobs.length > 0) this.ready.push(lane);
    else this.lanes.delete(lane.key);
    this.pump();
  }

  /** Exponential backoff with full jitter (a random delay up to the capped exponential), so
   * endpoints recovering from an outage are not hit by every sender at once. */
  private backoff(attempt: number): number {
    const cap = Math.min(this.limits.backoffMaxMs, this.limits.backoffInitialMs * 2 ** (attempt - 1));
    return Math.max(1, Math.floor(this.random() * cap));
  }
}
