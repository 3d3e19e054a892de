/** Presence over several shards: a topic's members are counted on its cache's shard. */
import type { PresenceResult } from '../../protocol/index.js';
import type { Maybe } from '../../core/maybe.js';
import type { PresenceChange, PresenceEngine, PresenceSubscriber } from '../../presence/presence.js';

export class ShardedPresence implements PresenceEngine {
  constructor(private readonly shards: readonly PresenceEngine[], private readonly of: (cache: string) => number) {}

  add(cache: string, topic: string, who: PresenceSubscriber): void {
    this.shards[this.of(cache)]!.add(cache, topic, who);
  }

  remove(cache: string, topic: string, who: PresenceSubscriber): void {
    this.shards[this.of(cache)]!.remove(cache, topic, who);
  }

  members(cache: string, topic: string): Maybe<PresenceResult> {
    return this.shards[this.of(cache)]!.members(cache, topic);
  }

  isPresent(cache: string, topic: string, tokenId: string): Maybe<boolean> {
    return this.shards[this.of(cache)]!.isPresent(cache, topic, tokenId);
  }

  watch(cache: string, topic: string): void {
    this.shards[this.of(cache)]!.watch?.(cache, topic);
  }

  unwatch(cache: string, topic: string): void {
    this.shards[this.of(cache)]!.unwatch?.(cache, topic);
  }

  observe(listener: (change: PresenceChange) => void): void {
    for (const s of this.shards) s.observe(listener);
  }

  start(publish: (key: string, frame: Uint8Array) => void): void {
    for (const s of this.shards) s.start(publish);
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
