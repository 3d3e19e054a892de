/** The topics that have no subscriber, least recently used first: what a full registry drops to
 * make room (as a cache would) and what the idle sweep drops, each in O(1) per topic. A Map keeps
 * insertion order, so re-inserting on use moves a topic to the back. */
import type { Topic } from './topic.js';

export class IdleTopics {
  private readonly order = new Map<string, Topic>();

  get size(): number { return this.order.size; }

  /** `topic` has no subscriber and was just used (created, published to, or left by its last
   * subscriber): the last one to drop. */
  touch(topic: Topic): void {
    this.order.delete(topic.key);
    this.order.set(topic.key, topic);
  }

  /** `topic` got a subscriber, or left the registry. It is the registry's current copy of its key
   * (attach and forget get no other), so the key's entry, if any, is its own. */
  remove(topic: Topic): void {
    this.order.delete(topic.key);
  }

  /** The least recently used subscriber-less topic, if any. */
  oldest(): Topic | undefined {
    for (const topic of this.order.values()) return topic;
    return undefined;
  }
}
