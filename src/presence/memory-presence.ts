/** Single-node presence: per topic, a map tokenId -> connection count, bounded in members. */
import { encodeFrame, presenceKey, topicKey, type PresenceEventFrame, type PresenceMember, type PresenceResult } from '../protocol/index.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { PresenceConfig } from '../core/config.js';
import type { PresenceChange, PresenceEngine, PresenceSubscriber } from './presence.js';
import { addCount } from '../lib/counts.js';

interface Member {
  connections: number;
  /** Set while the user has no connection left and is within the leave grace. */
  leaving: TimerHandle | undefined;
}

interface TopicPresence {
  cache: string;
  topic: string;
  members: Map<string, Member>;
  /** Users that arrived when `members` was full, by tokenId: their connections are counted, not
   * listed, and make no events. A user stays untracked while any connection of it is left (new
   * ones included, even once there is room), as with engine redis, where a node cannot tell which
   * of a user's connections ended. */
  untracked: Map<string, number>;
  /** The sum of `untracked`. */
  untrackedConnections: number;
}

export class MemoryPresence implements PresenceEngine {
  private readonly topics = new Map<string, TopicPresence>();
  private readonly listeners: Array<(change: PresenceChange) => void> = [];
  private publish: ((key: string, frame: Uint8Array) => void) | undefined;
  /** Members within their leave grace, each holding a timer: at most presence.maxPendingLeaves. */
  private pending = 0;

  constructor(private readonly config: PresenceConfig, private readonly clock: Clock) {}

  start(publish: (key: string, frame: Uint8Array) => void): void {
    this.publish = publish;
  }

  observe(listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener);
  }

  add(cache: string, topic: string, who: PresenceSubscriber): void {
    const key = topicKey(cache, topic);
    let state = this.topics.get(key);
    if (!state) {
      state = { cache, topic, members: new Map(), untracked: new Map(), untrackedConnections: 0 };
      this.topics.set(key, state);
    }
    const member = state.members.get(who.tokenId);
    if (member) {
      member.connections++;
      // Back within the grace: the user never left, so nobody hears a leave or a join.
      if (member.leaving) this.cancelLeave(member);
      return;
    }
    if (state.untracked.has(who.tokenId) || state.members.size >= this.config.maxMembersPerTopic) {
      addCount(state.untracked, who.tokenId, 1);
      state.untrackedConnections++;
      return;
    }
    state.members.set(who.tokenId, { connections: 1, leaving: undefined });
    this.emit(state, 'join', who.tokenId);
  }

  remove(cache: string, topic: string, who: PresenceSubscriber): void {
    const key = topicKey(cache, topic);
    const state = this.topics.get(key);
    if (!state) return;
    if (state.untracked.has(who.tokenId)) {
      addCount(state.untracked, who.tokenId, -1);
      state.untrackedConnections--;
      return this.dropIfEmpty(key, state);
    }
    const member = state.members.get(who.tokenId);
    if (!member || member.connections === 0) return;
    if (--member.connections > 0) return;
    const { leaveGraceMs, maxPendingLeaves } = this.config;
    // A client churning subscriptions over many topics would otherwise leave one timer (and a
    // member entry) per topic for a whole grace: past the bound, a leave is at once.
    if (leaveGraceMs === 0 || this.pending >= maxPendingLeaves) return this.leave(key, state, who.tokenId);
    this.pending++;
    // Through the clock: tests move time by hand, and clock timers never keep a process alive.
    member.leaving = this.clock.setTimeout(() => {
      member.leaving = undefined;
      this.pending--;
      this.leave(key, state, who.tokenId);
    }, leaveGraceMs);
  }

  members(cache: string, topic: string): PresenceResult {
    const state = this.topics.get(topicKey(cache, topic));
    if (!state) return { members: [], untracked: 0 };
    const members: PresenceMember[] = [];
    for (const [tokenId, m] of state.members) members.push({ tokenId, connections: m.connections });
    return { members, untracked: state.untrackedConnections };
  }

  /** Members within their leave grace right now (the tidings_presence_pending_leaves gauge). */
  pendingLeaves(): number { return this.pending; }

  isPresent(cache: string, topic: string, tokenId: string): boolean {
    return this.topics.get(topicKey(cache, topic))?.members.has(tokenId) ?? false;
  }

  close(): void {
    for (const state of this.topics.values()) {
      for (const member of state.members.values()) if (member.leaving) this.cancelLeave(member);
    }
    this.topics.clear();
  }

  private cancelLeave(member: Member): void {
    this.clock.clearTimeout(member.leaving);
    member.leaving = undefined;
    this.pending--;
  }

  /** The member's last connection is gone: at once, or its grace ran out (a returning connection
   * cancels the timer in add(), so a member leaving here has none). */
  private leave(key: string, state: TopicPresence, tokenId: string): void {
    state.members.delete(tokenId);
    this.emit(state, 'leave', tokenId);
    this.dropIfEmpty(key, state);
  }

  /** `state` is always the topic's current entry: an entry goes only once empty, and a member in
   * its grace (whose timer holds `state`) keeps it from being empty. */
  private dropIfEmpty(key: string, state: TopicPresence): void {
    if (state.members.size === 0 && state.untracked.size === 0) this.topics.delete(key);
  }

  private emit(state: TopicPresence, kind: 'join' | 'leave', tokenId: string): void {
    const frame: PresenceEventFrame = { t: kind, cache: state.cache, topic: state.topic, tokenId };
    // Not on the topic's item key and without a seq: join/leave never take a window slot, so they
    // neither evict items kept for resume nor look like a gap to the SDK.
    this.publish?.(presenceKey(state.cache, state.topic), encodeFrame(frame).slice());
    const change: PresenceChange = { kind, cache: state.cache, topic: state.topic, tokenId, ts: this.clock.now() };
    for (const listener of this.listeners) listener(change);
  }
}
