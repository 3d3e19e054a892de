/** Moderation in process memory: the group registry plus the settle steps, each run synchronously
 * inside its call so claim + publish + append + ack is one step for every other request. */
import {
  encodeFrame, utf8Length,
  type AcceptResult, type GroupLeaveResult, type GroupPattern, type Position, type RejectedFrame, type RetractFrame, type RetractResult, type Value,
} from '../protocol/index.js';
import type { ModerationConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import { invalidArgument } from '../core/errors.js';
import type { Maybe } from '../core/maybe.js';
import type { PublishHook, PublishedItem } from '../core/publish-hook.js';
import { GroupRegistry, type Admission, type GroupStats } from './group-registry.js';
import type { GroupItem } from './group.js';
import type { GroupMember, HeldDelivery, ModerationEngine } from './moderation-engine.js';
import { parsePattern } from './pattern.js';

/** What the memory engine lends moderation: same-process topic and list operations and a way to
 * reach one connection (functions, so moderation imports no sibling feature). */
export interface MemoryModerationBackend {
  /** The cache store's pubAppend: publish + capped append as one step. */
  pubAppend(cache: string, topic: string, list: string, value: Value, tokenId: string | undefined,
    options: { ttl: { ttlMs: number; refresh: boolean }; truncateToSize: number }): Maybe<{ page: number; seq: number }>;
  /** The cache store's listRemoveOrigin: drops the element pubAppend stored for (page, seq). */
  listRemoveOrigin(cache: string, list: string, origin: Position): Maybe<boolean>;
  /** Throws FAILED_PRECONDITION_ERROR when `list` holds a scalar; changes nothing. */
  checkList(cache: string, list: string): void;
  /** Records and fans out a non-item frame that takes the topic's next seq; `build` may throw to
   * refuse before anything changes (it must change nothing itself: the topic may be created after
   * it). `lastSeq` is the topic's newest seq before this one. */
  stampNow(cache: string, topic: string, build: (at: { page: number; seq: number; ts: number; lastSeq: number }) => object): { page: number; seq: number };
  /** Sends a frame to one connection (by id), wherever it is attached. */
  notify(connectionId: string, frame: Uint8Array): void;
}

export class MemoryModerationEngine implements ModerationEngine, PublishHook<Admission> {
  readonly registry: GroupRegistry;

  constructor(private readonly config: ModerationConfig, clock: Clock, private readonly backend: MemoryModerationBackend) {
    this.registry = new GroupRegistry(config, clock, (item) => this.deadLetter(item));
  }

  // -- the publish hook: a pub to an input topic is acknowledged only once every group it feeds took it

  /** Before a publish: the groups it feeds; throws group_buffer_limit_exceeded when one is full. */
  admit(cache: string, topic: string, value: Value): Admission | undefined {
    return this.registry.admit(cache, topic, () => (typeof value === 'string' ? utf8Length(value) : value.byteLength));
  }

  /** After the publish, in the same tick: the groups take the stamped item. */
  published(item: PublishedItem, admission: Admission): void {
    // A binary value may be a view into the WebSocket message, reused once the handler returns.
    const value = typeof item.value === 'string' ? item.value : new Uint8Array(item.value);
    this.registry.offer(admission, { ...item, value });
  }

  // -- ModerationEngine ----------------------------------------------------------------------------

  async join(cache: string, group: string, pattern: GroupPattern, member: GroupMember, maxInFlight: number): Promise<void> {
    this.registry.join(cache, group, parsePattern(pattern), { id: member.id, deliver: (f) => member.deliver(f) }, maxInFlight, (r) => member.accepted(r));
  }

  async leave(memberId: string, cache: string, group: string): Promise<GroupLeaveResult> {
    return { requeued: this.registry.leave(memberId, cache, group) };
  }

  async held(memberId: string, delivery: number): Promise<HeldDelivery | undefined> {
    const held = this.registry.held(memberId, delivery);
    if (!held) return undefined;
    const { item } = held;
    return { cache: item.cache, topic: item.topic, output: item.output, tokenId: item.tokenId };
  }

  async accept(memberId: string, delivery: number, value: Value | undefined, keep: number): Promise<AcceptResult> {
    const { group, item } = this.registry.claim(memberId, delivery);
    try {
      // The sender's tokenId, never the moderator's: the item was stamped when it was published.
      const result = await this.backend.pubAppend(item.cache, item.output, item.output, value ?? item.value, item.tokenId, {
        ttl: { ttlMs: this.config.historyTtlSec * 1000, refresh: true },
        truncateToSize: keep,
      });
      group.settled('accepted');
      return { page: result.page, seq: result.seq };
    } catch (err) {
      group.release(item);
      throw err;
    }
  }

  async reject(memberId: string, delivery: number, reason: string): Promise<void> {
    const { group, item } = this.registry.claim(memberId, delivery);
    group.settled('rejected');
    this.tellSender(item, reason, 'moderator');
  }

  async nack(memberId: string, delivery: number): Promise<void> {
    const { group, item } = this.registry.claim(memberId, delivery);
    group.nacked(item);
  }

  async retract(cache: string, topic: string, target: Position, tokenId: string | undefined, reason: string | undefined): Promise<RetractResult> {
    // First, as on the Redis engine: a cache without data (store.caches) or a history key holding a
    // scalar refuses the whole step; nothing runs between this check and the stamp.
    this.backend.checkList(cache, topic);
    const at = this.backend.stampNow(cache, topic, ({ page, seq, ts, lastSeq }) => {
      if (target.page > page || (target.page === page && target.seq > lastSeq)) {
        throw invalidArgument(`target: topic "${topic}" has published no item at page ${target.page}, seq ${target.seq}`);
      }
      const frame: RetractFrame = { t: 'retract', cache, topic, seq, page, ts, target: { page: target.page, seq: target.seq } };
      if (reason !== undefined) frame.reason = reason;
      if (tokenId !== undefined) frame.tokenId = tokenId;
      return frame;
    });
    // The memory store removes synchronously inside the call (the promise only carries the answer),
    // and nothing runs between the stamp and here: a reader never sees one without the other.
    const removal: Maybe<boolean> = this.backend.listRemoveOrigin(cache, topic, target);
    return { page: at.page, seq: at.seq, removed: await removal };
  }

  connectionClosed(memberId: string): void {
    this.registry.connectionClosed(memberId);
  }

  stats(): GroupStats[] {
    return this.registry.stats();
  }

  directoryCopies(): number {
    return 0;
  }

  sweep(): number {
    return this.registry.sweep();
  }

  close(): void {
    this.registry.close();
  }

  private deadLetter(item: GroupItem): void {
    this.tellSender(item, `not moderated after ${item.attempts} delivery attempts`, 'server');
  }

  private tellSender(item: GroupItem, reason: string, by: RejectedFrame['by']): void {
    if (item.origin === undefined) return;
    const frame: RejectedFrame = { t: 'rejected', cache: item.cache, topic: item.topic, page: item.page, seq: item.seq, reason, by };
    this.backend.notify(item.origin, encodeFrame(frame));
  }
}
