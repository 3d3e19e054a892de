/** Moderator groups over several shards: a cache's groups live on its shard (so do its topics, so
 * every group script sees the topics it feeds from). A delivery id names its shard (shard i hands
 * out i+1, i+1+N, ...: engine/redis-engine.ts), so settling needs no lookup. */
import { LimitCause, type AcceptResult, type GroupLeaveResult, type GroupPattern, type Position, type RetractResult, type Value } from '../../protocol/index.js';
import { limitExceeded } from '../../core/errors.js';
import type { GroupStats } from '../../moderation/group-registry.js';
import type { GroupMember, HeldDelivery, ModerationEngine } from '../../moderation/moderation-engine.js';

export class ShardedModeration implements ModerationEngine {
  /** Groups each connection is in or joining, over every shard (each shard counts only its own). */
  private readonly memberships = new Map<string, number>();

  constructor(
    private readonly shards: readonly ModerationEngine[],
    private readonly of: (cache: string) => number,
    private readonly maxGroupsPerConnection: number,
  ) {}

  async join(cache: string, group: string, pattern: GroupPattern, member: GroupMember, maxInFlight: number): Promise<void> {
    const groups = this.memberships.get(member.id) ?? 0;
    if (groups >= this.maxGroupsPerConnection) {
      throw limitExceeded(LimitCause.GROUPS, `a connection may be a member of at most ${this.maxGroupsPerConnection} groups`);
    }
    // Counted before the await: joins in flight at once cannot pass the bound together.
    this.memberships.set(member.id, groups + 1);
    try {
      // A membership the shard ends by itself no longer counts either.
      const counted: GroupMember = { id: member.id, accepted: (r) => member.accepted(r), deliver: (f) => member.deliver(f), ended: (e) => { this.forget(member.id); member.ended(e); } };
      await this.shards[this.of(cache)]!.join(cache, group, pattern, counted, maxInFlight);
    } catch (err) {
      this.forget(member.id);
      throw err;
    }
  }

  async leave(memberId: string, cache: string, group: string): Promise<GroupLeaveResult> {
    const result = await this.shards[this.of(cache)]!.leave(memberId, cache, group);
    this.forget(memberId);
    return result;
  }

  held(memberId: string, delivery: number): Promise<HeldDelivery | undefined> {
    return this.holderOf(delivery).held(memberId, delivery);
  }

  accept(memberId: string, delivery: number, value: Value | undefined, keep: number): Promise<AcceptResult> {
    return this.holderOf(delivery).accept(memberId, delivery, value, keep);
  }

  reject(memberId: string, delivery: number, reason: string): Promise<void> {
    return this.holderOf(delivery).reject(memberId, delivery, reason);
  }

  nack(memberId: string, delivery: number): Promise<void> {
    return this.holderOf(delivery).nack(memberId, delivery);
  }

  retract(cache: string, topic: string, target: Position, tokenId: string | undefined, reason: string | undefined): Promise<RetractResult> {
    return this.shards[this.of(cache)]!.retract(cache, topic, target, tokenId, reason);
  }

  connectionClosed(memberId: string): void {
    this.memberships.delete(memberId);
    for (const s of this.shards) s.connectionClosed(memberId);
  }

  stats(): GroupStats[] {
    return this.shards.flatMap((s) => s.stats());
  }

  directoryCopies(): number {
    return this.shards.reduce((n, s) => n + s.directoryCopies(), 0);
  }

  /** The shard that handed out `delivery`. Every id reaching here is an integer ≥ 1: the handlers
   * take it through deliveryField (handlers/moderation.ts), which refuses any other. */
  private holderOf(delivery: number): ModerationEngine {
    return this.shards[(delivery - 1) % this.shards.length]!;
  }

  private forget(memberId: string): void {
    const groups = (this.memberships.get(memberId) ?? 1) - 1;
    if (groups > 0) this.memberships.set(memberId, groups);
    else this.memberships.delete(memberId);
  }
}
