/** The moderation side of the engine: moderator groups and the settle / take-down steps. The
 * memory engine implements it in process (memory-moderation.ts); a Redis engine implements the same
 * so moderators on any node share one group. */
import type {
  AcceptResult, GroupJoinResult, GroupLeaveResult, GroupPattern, Position, RetractResult, Value,
} from '../protocol/index.js';
import type { TidingsError } from '../core/errors.js';
import type { GroupStats } from './group-registry.js';

/** One member connection of a group. */
export interface GroupMember {
  /** The connection id (the `rejected` / cleanup key). */
  readonly id: string;
  /** Called once the join is accepted, before any delivery is sent (the reply goes first). */
  accepted(result: GroupJoinResult): void;
  deliver(frame: Uint8Array): void;
  /** The engine ended the membership by itself (engine redis: Redis lost it and refused it again
   * with `error`); the member is out of the group already. */
  ended(error: TidingsError): void;
}

/** What a member holds under one delivery id (checked before settling). */
export interface HeldDelivery { cache: string; topic: string; output: string; tokenId: string | undefined }

export interface ModerationEngine {
  /** Joins (creating on first join) group `group` of `cache` consuming every topic matching `pattern`. */
  join(cache: string, group: string, pattern: GroupPattern, member: GroupMember, maxInFlight: number): Promise<void>;
  /** Leaves; the member's unsettled deliveries go to the other members. */
  leave(memberId: string, cache: string, group: string): Promise<GroupLeaveResult>;
  held(memberId: string, delivery: number): Promise<HeldDelivery | undefined>;
  /** Publishes `value` (or the original) to the output topic stamped with the original sender's
   * tokenId, appends it to the output's history list capped at `keep`, and settles the delivery,
   * as one step. If publishing fails the item goes back to the group. */
  accept(memberId: string, delivery: number, value: Value | undefined, keep: number): Promise<AcceptResult>;
  /** Settles the delivery and tells the sender's connection why. */
  reject(memberId: string, delivery: number, reason: string): Promise<void>;
  /** Hands the delivery back unsettled (another member gets it when there is one). */
  nack(memberId: string, delivery: number): Promise<void>;
  /** Removes the element published at `target` from the history list named like the topic and
   * publishes a `retract` frame on the topic (it takes the next seq). */
  retract(cache: string, topic: string, target: Position, tokenId: string | undefined, reason: string | undefined): Promise<RetractResult>;
  /** The connection closed: it leaves every group, its deliveries go to the others. */
  connectionClosed(memberId: string): void;
  stats(): GroupStats[];
  /** Copies of caches' group directories this node holds (a shared engine's; 0 for one in process,
   * whose groups are the directory). Bounded by moderation.maxGroups. */
  directoryCopies(): number;
}
