/** A full topic registry does not scan every topic for each refused creation (only when a topic can
 * have gone idle), yet still makes room from idle topics and keeps subscribed ones. */
import t from 'tap';
import { ManualClock } from '../../../src/core/clock.js';
import { DEFAULTS } from '../../../src/core/config.js';
import { TopicRegistry } from '../../../src/topics/topic-registry.js';

class CountingMap<K, V> extends Map<K, V> {
  visited = 0;
  override *[Symbol.iterator](): MapIterator<[K, V]> { for (const e of super[Symbol.iterator]()) { this.visited++; yield e; } }
}

t.test('a full registry does not scan every topic on each refused create', async (t) => {
  const clock = new ManualClock();
  const maxTopics = 1000;
  const registry = new TopicRegistry({ ...DEFAULTS.topics, maxTopics, idleTopicMs: 60_000 }, clock);
  const topics = new CountingMap<string, unknown>();
  (registry as unknown as { topics: Map<string, unknown> }).topics = topics;
  for (let i = 0; i < maxTopics; i++) registry.getOrCreate('c', `t${i}`);
  registry.getOrCreate('c', 't0').attach(clock.now());
  clock.advance(1000);
  for (let i = 0; i < 200; i++) t.throws(() => registry.getOrCreate('c', `new${i}`), { message: /maximum/ });
  t.ok(topics.visited <= 2 * maxTopics, `200 refused creates visited ${topics.visited} topics (O(refusals × topics) = ${200 * maxTopics})`);
  // Still correct: once a topic has been idle long enough, a create sweeps and succeeds.
  clock.advance(59_000);
  t.ok(registry.getOrCreate('c', 'fresh'), 'an idle topic is swept to make room');
  t.ok(registry.get('c', 't0'), 'the subscribed topic stays');
  // A topic whose last subscriber left later goes idle later.
  registry.get('c', 't0')!.detach(clock.now());
  for (let i = 0; registry.size < maxTopics; i++) registry.getOrCreate("c", `u${i}`);
  t.throws(() => registry.getOrCreate('c', 'x'));
  clock.advance(60_000);
  t.ok(registry.getOrCreate('c', 'x'), 'room again after idleTopicMs');
});
