/** Presence: which users (tokenIds) are subscribed to a topic right now, and how many connections
 * each has. MemoryPresence serves one node; RedisPresence (counts in Redis, join/leave decided by a
 * script so they fire once cluster-wide) serves every node of a deployment. docs/presence.md
 * describes the semantics. */
import type { PresenceResult } from '../protocol/index.js';
import type { Maybe } from '../core/maybe.js';

/** One subscription of one connection. Subscribers without a tokenId are not tracked. */
export interface PresenceSubscriber { connectionId: string; tokenId: string }

/** A user's first connection arrived on a topic, or its last one left and stayed away for the
 * leave grace. Emitted once per transition (cluster-wide, for a networked implementation). */
export interface PresenceChange { kind: 'join' | 'leave'; cache: string; topic: string; tokenId: string; ts: number }

export interface PresenceEngine {
  /** Counts one more connection of `who.tokenId` on the topic; a user's first is a join. */
  add(cache: string, topic: string, who: PresenceSubscriber): void;
  /** Forgets one connection. When it was the user's last, the user leaves after the grace unless
   * another connection of it arrives first (a reconnect is not a leave). */
  remove(cache: string, topic: string, who: PresenceSubscriber): void;
  /** The topic's members, bounded (PresenceResult.untracked counts the rest). */
  members(cache: string, topic: string): Maybe<PresenceResult>;
  /** Whether the user is on the topic (a user within its leave grace counts as present). */
  isPresent(cache: string, topic: string, tokenId: string): Maybe<boolean>;
  /** A local subscriber asked for the topic's join/leave events (`sub` with `presence: true`);
   * unwatch once per watch when it stops. A networked engine uses it to tell its watchers what they
   * missed while it could not hear the other nodes (RedisPresence: a presence sync). */
  watch?(cache: string, topic: string): void;
  unwatch?(cache: string, topic: string): void;
  /** Members within their leave grace held by this node (MemoryPresence; a networked engine keeps
   * them in its store and does not answer). */
  pendingLeaves?(): number;
  /** Sees every join and leave (webhooks). */
  observe(listener: (change: PresenceChange) => void): void;
  /** `publish` hands a join/leave frame to the topic's presence fan-out key (native fan-out). */
  start(publish: (key: string, frame: Uint8Array) => void): void;
  close(): void | Promise<void>;
}
