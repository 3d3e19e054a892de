/** One moderator group: its members (connections), the bounded buffer of items not yet handed out,
 * and the items in flight. Each item goes to exactly one live member at a time; an item whose member
 * leaves, dies or does not settle within the ack timeout goes back to the buffer (ahead of new
 * items) and is handed to another member when there is one. Nothing accepted into the group is
 * dropped, except an item no member settled in `maxAttempts` deliveries (a poison item), which is
 * dead-lettered: its sender is told. */
import { encodeFrame, type DeliveryFrame, type Value } from '../protocol/index.js';
import type { ModerationConfig } from '../core/config.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { Fifo } from '../lib/fifo.js';
import type { Affix } from './pattern.js';

/** An input item held by a group. */
export interface GroupItem {
  cache: string;
  /** The input topic. */
  topic: string;
  output: string;
  value: Value;
  tokenId?: string | undefined;
  page: number;
  seq: number;
  ts: number;
  /** The publishing connection, to push a `rejected` frame to. */
  origin?: string | undefined;
  /** Bytes counted against the buffer budget. */
  bytes: number;
  /** Deliveries so far. */
  attempts: number;
  /** The member that had it last, avoided on redelivery when another can take it. */
  lastMember?: string | undefined;
}

/** Where a member's deliveries go (one connection). */
export interface MemberSink {
  /** The member's connection id. */
  readonly id: string;
  deliver(frame: Uint8Array): void;
}

/** Registry services a group uses: unique delivery ids and an index from delivery id to group. */
export interface GroupHost {
  nextDeliveryId(): number;
  track(delivery: number, group: ModerationGroup): void;
  untrack(delivery: number): void;
  /** No member settled the item in maxAttempts deliveries. */
  deadLetter(item: GroupItem): void;
  /** Buffered bytes of this group changed by `delta` (the registry bounds the sum over all groups). */
  buffered(delta: number): void;
}

export type GroupLimits = Pick<ModerationConfig, 'ackTimeoutMs' | 'bufferItems' | 'bufferBytes' | 'maxAttempts'>;

interface Member {
  sink: MemberSink;
  maxInFlight: number;
  inFlight: Set<number>;
}

interface InFlight {
  delivery: number;
  item: GroupItem;
  member: Member;
  timer: TimerHandle;
}

export interface GroupCounters {
  /** Items the group accepted from publishers. */
  offered: number;
  /** Deliveries sent, first attempts and redeliveries. */
  delivered: number;
  redelivered: number;
  accepted: number;
  rejected: number;
  nacked: number;
  timedOut: number;
  deadLettered: number;
  /** Publishes refused because the buffer was full. */
  refused: number;
}

export class ModerationGroup {
  private readonly members = new Map<string, Member>();
  /** Members in join order, for round-robin assignment. */
  private memberList: Member[] = [];
  private cursor = 0;
  /** Items handed back (timeout, nack, member gone) go out before fresh ones. */
  private readonly retry = new Fifo<GroupItem>();
  private readonly fresh = new Fifo<GroupItem>();
  private bufferedBytes = 0;
  private readonly inFlight = new Map<number, InFlight>();
  private pumping = false;
  /** Since when the group has had no member and no item (undefined while it has either). */
  idleSince: number | undefined;
  readonly counters: GroupCounters = { offered: 0, delivered: 0, redelivered: 0, accepted: 0, rejected: 0, nacked: 0, timedOut: 0, deadLettered: 0, refused: 0 };

  constructor(
    readonly cache: string,
    readonly name: string,
    readonly affix: Affix,
    private readonly limits: GroupLimits,
    private readonly clock: Clock,
    private readonly host: GroupHost,
  ) {
    this.idleSince = clock.now();
  }

  get memberCount(): number { return this.members.size; }
  get buffered(): number { return this.retry.length + this.fresh.length; }
  get inFlightCount(): number { return this.inFlight.size; }
  hasMember(id: string): boolean { return this.members.has(id); }
  /** Member connection ids with the deliveries each holds (admin dashboard). */
  memberLoad(): Array<{ id: string; inFlight: number }> {
    return [...this.members.values()].map((m) => ({ id: m.sink.id, inFlight: m.inFlight.size }));
  }

  /** Whether one more item of `bytes` fits the buffer. Items in flight do not count: they are
   * bounded by members × maxInFlight. */
  admits(bytes: number): boolean {
    return this.buffered < this.limits.bufferItems && this.bufferedBytes + bytes <= this.limits.bufferBytes;
  }

  /** Takes an item from a publisher (the caller checked admits()). */
  offer(item: GroupItem): void {
    this.counters.offered++;
    this.fresh.push(item);
    this.bufferedBytes += item.bytes;
    this.host.buffered(item.bytes);
    this.pump();
  }

  join(sink: MemberSink, maxInFlight: number): void {
    const member: Member = { sink, maxInFlight, inFlight: new Set() };
    this.members.set(sink.id, member);
    this.memberList.push(member);
    this.pump();
  }

  /** Removes a member; its unsettled items go to the others. Returns how many were handed back. */
  leave(id: string): number {
    const member = this.members.get(id);
    if (!member) return 0;
    this.members.delete(id);
    this.memberList = this.memberList.filter((m) => m !== member);
    const held = [...member.inFlight].map((d) => this.inFlight.get(d)!);
    for (const entry of held) this.drop(entry);
    for (const entry of held) this.handBack(entry.item);
    this.pump();
    return held.length;
  }

  /** Takes a delivery out of flight for good if `memberId` holds it: after this no one else can be
   * handed the item. undefined when the member does not hold it (settled, timed out, not its own).
   * The place it frees is filled by the release(), settled() or nacked() that follows: a nacked item
   * is back in the group by then, so it goes out again ahead of the items waiting. */
  claim(memberId: string, delivery: number): GroupItem | undefined {
    const entry = this.inFlight.get(delivery);
    if (!entry || entry.member.sink.id !== memberId) return undefined;
    this.drop(entry);
    return entry.item;
  }

  /** Peeks at a delivery the member holds, without settling it. */
  held(memberId: string, delivery: number): GroupItem | undefined {
    const entry = this.inFlight.get(delivery);
    return entry && entry.member.sink.id === memberId ? entry.item : undefined;
  }

  /** A claimed item whose settling failed goes back for another attempt. */
  release(item: GroupItem): void {
    this.handBack(item);
    this.pump();
  }

  /** A claimed item is settled: counted, and its place filled. */
  settled(kind: 'accepted' | 'rejected'): void {
    this.counters[kind]++;
    this.pump();
  }

  /** A claimed item the member nacked: back in the group first, so it fills the place it freed ahead
   * of the items waiting (one pump for both). */
  nacked(item: GroupItem): void {
    this.handBack(item);
    this.counters.nacked++;
    this.pump();
  }

  /** Stops every ack timer (server shutdown). */
  close(): void {
    for (const entry of this.inFlight.values()) this.clock.clearTimeout(entry.timer);
  }

  /** Hands buffered items to members with room, round-robin. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.buffered > 0) {
        const queue = this.retry.length > 0 ? this.retry : this.fresh;
        const item = queue.peek()!;
        const member = this.pick(item);
        if (!member) break;
        queue.shift();
        this.bufferedBytes -= item.bytes;
        this.host.buffered(-item.bytes);
        this.send(member, item);
      }
    } finally {
      this.pumping = false;
      this.touch();
    }
  }

  /** The next member with room, preferring one that did not have the item last. */
  private pick(item: GroupItem): Member | undefined {
    const n = this.memberList.length;
    let fallback: Member | undefined;
    for (let i = 0; i < n; i++) {
      const member = this.memberList[(this.cursor + i) % n]!;
      if (member.inFlight.size >= member.maxInFlight) continue;
      if (member.sink.id === item.lastMember && n > 1) { fallback ??= member; continue; }
      this.cursor = (this.cursor + i + 1) % n;
      return member;
    }
    return fallback;
  }

  private send(member: Member, item: GroupItem): void {
    item.attempts++;
    item.lastMember = member.sink.id;
    const delivery = this.host.nextDeliveryId();
    const timer = this.clock.setTimeout(() => this.expire(delivery), this.limits.ackTimeoutMs);
    this.inFlight.set(delivery, { delivery, item, member, timer });
    member.inFlight.add(delivery);
    this.host.track(delivery, this);
    this.counters.delivered++;
    if (item.attempts > 1) this.counters.redelivered++;
    const frame: DeliveryFrame = {
      t: 'delivery', cache: item.cache, group: this.name, topic: item.topic, output: item.output, value: item.value,
      page: item.page, seq: item.seq, ts: item.ts, delivery, attempt: item.attempts,
    };
    if (item.tokenId !== undefined) frame.tokenId = item.tokenId;
    member.sink.deliver(encodeFrame(frame));
  }

  /** The member did not settle in time: the item goes to someone else. */
  private expire(delivery: number): void {
    const entry = this.inFlight.get(delivery);
    if (!entry) return;
    this.counters.timedOut++;
    this.drop(entry);
    this.handBack(entry.item);
    this.pump();
  }

  private drop(entry: InFlight): void {
    this.clock.clearTimeout(entry.timer);
    this.inFlight.delete(entry.delivery);
    entry.member.inFlight.delete(entry.delivery);
    this.host.untrack(entry.delivery);
  }

  private handBack(item: GroupItem): void {
    if (item.attempts >= this.limits.maxAttempts) {
      this.counters.deadLettered++;
      this.host.deadLetter(item);
      return;
    }
    this.retry.push(item);
    this.bufferedBytes += item.bytes;
    this.host.buffered(item.bytes);
  }

  /** Items in flight need no test: each is held by a member, and a leaving member's are handed back first. */
  private touch(): void {
    const idle = this.members.size === 0 && this.buffered === 0;
    if (!idle) this.idleSince = undefined;
    else this.idleSince ??= this.clock.now();
  }
}
