/** Who follows which topics: the users to tell (by webhook `item.undelivered`, or Web Push) when an
 * item is published to a topic while they are not on it. Keyed both ways: by topic for the
 * publish path, by tokenId for the per-user bound. The Redis implementation
 * (engine/redis/shared-followers.ts) stores them for every node and mirrors them in one of these. */
import { LimitCause, topicKey } from '../protocol/index.js';
import { limitExceeded } from '../core/errors.js';
import type { NotifyConfig } from '../core/config.js';
import type { Maybe } from '../core/maybe.js';

/** Writes answer once the change is stored (a shared implementation: once Redis has it). */
export interface Followers {
  follow(tokenId: string, cache: string, topic: string): Maybe<void>;
  unfollow(tokenId: string, cache: string, topic: string): Maybe<void>;
  /** Drops every follow of the tokenId (its credentials were revoked). */
  forget(tokenId: string): Maybe<void>;
  /** The tokenIds following the topic; undefined when none (the publish path's one lookup). */
  of(cache: string, topic: string): ReadonlySet<string> | undefined;
}

export class MemoryFollowers implements Followers {
  private readonly byTopic = new Map<string, Set<string>>();
  private readonly byToken = new Map<string, Set<string>>();
  private total = 0;

  constructor(private readonly config: Pick<NotifyConfig, 'maxFollowsPerToken' | 'maxFollows'>) {}

  follow(tokenId: string, cache: string, topic: string): void {
    const key = topicKey(cache, topic);
    let topics = this.byToken.get(tokenId);
    if (topics?.has(key)) return;
    if ((topics?.size ?? 0) >= this.config.maxFollowsPerToken) {
      throw limitExceeded(LimitCause.FOLLOWS, `a tokenId may follow at most ${this.config.maxFollowsPerToken} topics`);
    }
    if (this.total >= this.config.maxFollows) throw limitExceeded(LimitCause.FOLLOWS, `the server holds at most ${this.config.maxFollows} follows`);
    if (!topics) this.byToken.set(tokenId, (topics = new Set()));
    topics.add(key);
    let tokens = this.byTopic.get(key);
    if (!tokens) this.byTopic.set(key, (tokens = new Set()));
    tokens.add(tokenId);
    this.total++;
  }

  unfollow(tokenId: string, cache: string, topic: string): void {
    const key = topicKey(cache, topic);
    const topics = this.byToken.get(tokenId);
    if (!topics?.delete(key)) return;
    if (topics.size === 0) this.byToken.delete(tokenId);
    const tokens = this.byTopic.get(key)!;
    tokens.delete(tokenId);
    if (tokens.size === 0) this.byTopic.delete(key);
    this.total--;
  }

  forget(tokenId: string): void {
    const topics = this.byToken.get(tokenId);
    if (!topics) return;
    this.byToken.delete(tokenId);
    for (const key of topics) {
      const tokens = this.byTopic.get(key)!;
      tokens.delete(tokenId);
      if (tokens.size === 0) this.byTopic.delete(key);
    }
    this.total -= topics.size;
  }

  of(cache: string, topic: string): ReadonlySet<string> | undefined {
    return this.byTopic.get(topicKey(cache, topic));
  }

  /** Whether the tokenId follows the topic. */
  has(tokenId: string, cache: string, topic: string): boolean {
    return this.byToken.get(tokenId)?.has(topicKey(cache, topic)) ?? false;
  }

  get size(): number { return this.total; }
}
