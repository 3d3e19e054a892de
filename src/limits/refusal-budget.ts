/** What a connection may cost the server in refusals before it is closed. Every refused frame is
 * still answered (a typed error, a few µs), so a peer that keeps sending what is refused would
 * otherwise cost CPU without bound: frames refused for being over the request rate or the requests
 * in flight, and malformed ones, are charged to a refusal bucket of the connection (limits.connectionRefusalsPerSec, burst
 * limits.connectionRefusalsBurst), and malformed frames are counted too (limits.maxMalformedFrames).
 * Either one running out closes the connection (docs/protocol.md, "bye and close codes"). A client
 * that briefly exceeds its rate and backs off lets the bucket refill and is never closed. */
import { CloseCode } from '../protocol/index.js';
import type { LimitsConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { takeCompact, type BucketRate, type CompactBucket } from './token-bucket.js';

/** A connection's refusals so far: kept on the connection only once it was first refused. */
export interface RefusalRecord extends CompactBucket { malformed: number }

export interface RefusalHolder { refusals: RefusalRecord | undefined }

export class RefusalBudget {
  private readonly rate: BucketRate;
  /** What the buckets' times count from (as IdentityLimits: small integers). */
  private readonly epoch: number;

  constructor(private readonly config: LimitsConfig, private readonly clock: Clock) {
    this.rate = { perSec: config.connectionRefusalsPerSec, burst: config.connectionRefusalsBurst };
    this.epoch = clock.now();
  }

  /** Charges one refused frame (`malformed`: it was not a request at all) to the connection; the
   * close it earned, if this one exhausted its budget. */
  refused(holder: RefusalHolder, malformed: boolean): { code: number; reason: string } | undefined {
    const record = (holder.refusals ??= { opsTaken: 0, opsFullAt: undefined, malformed: 0 });
    if (malformed && ++record.malformed >= this.config.maxMalformedFrames) {
      return { code: CloseCode.PROTOCOL_VIOLATION, reason: `${record.malformed} malformed frames (limits.maxMalformedFrames)` };
    }
    if (!takeCompact(record, this.rate, this.clock.now() - this.epoch)) {
      return { code: CloseCode.POLICY, reason: `kept sending what is refused past limits.connectionRefusalsBurst (${this.config.connectionRefusalsBurst}, refilled ${this.config.connectionRefusalsPerSec}/s)` };
    }
    return undefined;
  }
}
