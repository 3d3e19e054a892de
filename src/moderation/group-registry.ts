/** Every moderator group of the server, indexed by cache (to find the groups a publish feeds), by
 * delivery id (to settle) and by member connection (to clean up when it closes). A group lives
 * while it has a member or holds an item; once it has had neither for `groupIdleMs` it is
 * forgotten, and its pattern is no longer moderated. */
import { ErrorCode, LimitCause, type GroupPattern } from '../protocol/index.js';
import type { ModerationConfig } from '../core/config.js';
import type { Clock } from '../core/clock.js';
import type { PublishedItem } from '../core/publish-hook.js';
import { TidingsError, failedPrecondition, limitExceeded } from '../core/errors.js';
import { ModerationGroup, type GroupCounters, type GroupHost, type GroupItem, type MemberSink } from './group.js';
import { outputOf, sameAffix, toWirePattern, type Affix } from './pattern.js';

/** What a publish to an input topic carries into the groups it feeds. */
export type InputItem = PublishedItem;

/** The groups a publish feeds, and the item's size (measured once, only when a group matches). */
export interface Admission { groups: Array<{ group: ModerationGroup; output: string }>; bytes: number }

export interface GroupStats {
  cache: string;
  group: string;
  pattern: GroupPattern;
  members: number;
  /** Each member connection with the deliveries it holds unsettled. */
  memberLoad: Array<{ id: string; inFlight: number }>;
  buffered: number;
  inFlight: number;
  counters: GroupCounters;
}

const groupKey = (cache: string, name: string) => `${cache}\u0000${name}`;

export class GroupRegistry {
  private readonly groups = new Map<string, ModerationGroup>();
  private readonly byCache = new Map<string, Set<ModerationGroup>>();
  private readonly deliveries = new Map<number, ModerationGroup>();
  private readonly memberships = new Map<string, Set<ModerationGroup>>();
  private nextDelivery = 1;
  /** Value bytes buffered across all groups, bounded by totalBufferBytes (10,000 groups × 16 MiB
   * each would otherwise be allowed). */
  private bufferedBytes = 0;
  private readonly host: GroupHost;

  constructor(
    private readonly config: ModerationConfig,
    private readonly clock: Clock,
    deadLetter: (item: GroupItem) => void,
  ) {
    this.host = {
      nextDeliveryId: () => this.nextDelivery++,
      track: (delivery, group) => { this.deliveries.set(delivery, group); },
      untrack: (delivery) => { this.deliveries.delete(delivery); },
      deadLetter,
      buffered: (delta) => { this.bufferedBytes += delta; },
    };
  }

  get size(): number { return this.groups.size; }

  /** The groups a publish of `bytes` to (cache, topic) feeds. Throws LIMIT_EXCEEDED_ERROR
   * (group_buffer_limit_exceeded) when any of them cannot take it: then nothing is published.
   * Runs on every publish: a cache without groups costs one map lookup and no allocation. */
  admit(cache: string, topic: string, sizeOf: () => number): Admission | undefined {
    const groups = this.byCache.get(cache);
    if (!groups) return undefined;
    let admission: Admission | undefined;
    for (const group of groups) {
      const output = outputOf(group.affix, topic);
      if (output === undefined) continue;
      if (this.expired(group)) { this.forget(group); continue; }
      const bytes = admission?.bytes ?? sizeOf();
      if (!group.admits(bytes)) {
        group.counters.refused++;
        throw limitExceeded(
          LimitCause.GROUP_BUFFER,
          `moderator group "${group.name}" holds its maximum of unassigned items (${group.memberCount === 0 ? 'no moderator is connected' : 'moderators are behind'}); retry later`,
        );
      }
      // Every group the item feeds holds its own copy: all of them must fit the server-wide budget.
      if (this.bufferedBytes + bytes * ((admission?.groups.length ?? 0) + 1) > this.config.totalBufferBytes) {
        group.counters.refused++;
        throw limitExceeded(LimitCause.GROUP_BUFFER, `moderator groups hold their server-wide maximum of ${this.config.totalBufferBytes} unassigned bytes; retry later`);
      }
      (admission ??= { groups: [], bytes }).groups.push({ group, output });
    }
    return admission;
  }

  /** Hands a published item to the groups admit() returned (same tick: nothing in between). */
  offer(admission: Admission, item: InputItem): void {
    for (const { group, output } of admission.groups) {
      group.offer({ ...item, output, bytes: admission.bytes, attempts: 0 });
    }
  }

  /** Adds a member to the group, creating the group on first join. */
  join(cache: string, name: string, affix: Affix, sink: MemberSink, maxInFlight: number, onJoined: (r: { members: number; buffered: number }) => void): void {
    let group = this.groups.get(groupKey(cache, name));
    if (group && this.expired(group)) { this.forget(group); group = undefined; }
    if (group && !sameAffix(group.affix, affix)) {
      throw failedPrecondition(`group "${name}" in cache "${cache}" exists with another pattern (${JSON.stringify(toWirePattern(group.affix))})`);
    }
    if (group?.hasMember(sink.id)) throw new TidingsError(ErrorCode.ALREADY_EXISTS_ERROR, `already a member of group "${name}" in cache "${cache}"`);
    const mine = this.memberships.get(sink.id);
    if ((mine?.size ?? 0) >= this.config.maxGroupsPerConnection) {
      throw limitExceeded(LimitCause.GROUPS, `a connection may be a member of at most ${this.config.maxGroupsPerConnection} groups`);
    }
    if (!group) {
      if (this.groups.size >= this.config.maxGroups) this.sweep();
      if (this.groups.size >= this.config.maxGroups) throw limitExceeded(LimitCause.GROUPS, `the server holds its maximum of ${this.config.maxGroups} groups`);
      group = new ModerationGroup(cache, name, affix, this.config, this.clock, this.host);
      this.groups.set(groupKey(cache, name), group);
      let set = this.byCache.get(cache);
      if (!set) this.byCache.set(cache, (set = new Set()));
      set.add(group);
    }
    let set = mine;
    if (!set) this.memberships.set(sink.id, (set = new Set()));
    set.add(group);
    // The reply goes out before the first delivery the join triggers.
    onJoined({ members: group.memberCount + 1, buffered: group.buffered });
    group.join(sink, Math.min(maxInFlight, this.config.maxInFlightPerMember));
  }

  /** Removes the member; its unsettled items go to the others. */
  leave(memberId: string, cache: string, name: string): number {
    const group = this.groups.get(groupKey(cache, name));
    if (!group || !group.hasMember(memberId)) throw failedPrecondition(`not a member of group "${name}" in cache "${cache}"`);
    const mine = this.memberships.get(memberId);
    mine?.delete(group);
    if (mine?.size === 0) this.memberships.delete(memberId);
    return group.leave(memberId);
  }

  /** The connection closed: it leaves every group it was in. */
  connectionClosed(memberId: string): void {
    const groups = this.memberships.get(memberId);
    if (!groups) return;
    this.memberships.delete(memberId);
    for (const group of groups) group.leave(memberId);
  }

  /** The delivery's item and group if `memberId` holds it, without settling it. */
  held(memberId: string, delivery: number): { group: ModerationGroup; item: GroupItem } | undefined {
    const group = this.deliveries.get(delivery);
    const item = group?.held(memberId, delivery);
    return group && item ? { group, item } : undefined;
  }

  /** Settles the delivery for good (see ModerationGroup.claim). Throws FAILED_PRECONDITION_ERROR when
   * the member does not hold it: already settled, timed out and handed to another member, or
   * someone else's. */
  claim(memberId: string, delivery: number): { group: ModerationGroup; item: GroupItem } {
    const group = this.deliveries.get(delivery);
    const item = group?.claim(memberId, delivery);
    if (!group || !item) throw failedPrecondition(`delivery ${delivery} is not held by this connection (settled, timed out, or not its own)`);
    return { group, item };
  }

  /** Drops groups idle past groupIdleMs. */
  sweep(): number {
    let dropped = 0;
    for (const group of [...this.groups.values()]) {
      if (this.expired(group)) { this.forget(group); dropped++; }
    }
    return dropped;
  }

  stats(): GroupStats[] {
    return [...this.groups.values()].map((g) => ({
      cache: g.cache, group: g.name, pattern: toWirePattern(g.affix),
      members: g.memberCount, memberLoad: g.memberLoad(), buffered: g.buffered, inFlight: g.inFlightCount, counters: { ...g.counters },
    }));
  }

  close(): void {
    for (const group of this.groups.values()) group.close();
  }

  /** Whether publishes to the topic feed a live group. */
  feeds(cache: string, topic: string): boolean {
    const groups = this.byCache.get(cache);
    if (!groups) return false;
    for (const group of groups) if (outputOf(group.affix, topic) !== undefined && !this.expired(group)) return true;
    return false;
  }

  private expired(group: ModerationGroup): boolean {
    return group.idleSince !== undefined && this.clock.now() - group.idleSince >= this.config.groupIdleMs;
  }

  private forget(group: ModerationGroup): void {
    group.close();
    this.groups.delete(groupKey(group.cache, group.name));
    const set = this.byCache.get(group.cache);
    set?.delete(group);
    if (set?.size === 0) this.byCache.delete(group.cache);
  }
}
