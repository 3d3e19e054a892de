/** A full topic registry makes room without scanning every topic: each create at maxTopics drops
 * the least recently used subscriber-less topic (idle ones first), keeps subscribed ones, and a
 * refused create (every topic subscribed) visits no topic either. */
import t from 'tap';
import { ManualClock } from '../../../src/core/clock.js';
import { DEFAULTS } from '../../../src/core/config.js';
import { TopicRegistry } from '../../../src/topics/topic-registry.js';

class CountingMap<K, V> extends Map<K, V> {
  visited = 0;
  override *[Symbol.iterator](): MapIterator<[K, V]> { for (const e of super[Symbol.iterator]()) { this.visited++; yield e; } }
  override values(): MapIterator<V> { const self = this; return (function* () { for (const [, v] of self) yield v; })() as MapIterator<V>; }
}

function countingRegistry(maxTopics: number, clock: ManualClock): { registry: TopicRegistry; topics: CountingMap<string, unknown> } {
  const registry = new TopicRegistry({ ...DEFAULTS.topics, maxTopics, idleTopicMs: 60_000 }, clock);
  const topics = new CountingMap<string, unknown>();
  (registry as unknown as { topics: Map<string, unknown> }).topics = topics;
  return { registry, topics };
}

t.test('a full registry of subscribed topics refuses without scanning them', async (t) => {
  const clock = new ManualClock();
  const maxTopics = 1000;
  const { registry, topics } = countingRegistry(maxTopics, clock);
  for (let i = 0; i < maxTopics; i++) registry.getOrCreate('c', `t${i}`).attach(clock.now());
  clock.advance(120_000);
  for (let i = 0; i < 200; i++) t.throws(() => registry.getOrCreate('c', `new${i}`), { code: 'LIMIT_EXCEEDED_ERROR', cause_: 'topics_limit_exceeded' });
  t.equal(topics.visited, 0, '200 refused creates visited no topic');
  t.equal(registry.size, maxTopics);
  t.equal(registry.topicsEvicted, 0);
});

t.test('at maxTopics the least recently used subscriber-less topic makes room, in O(1)', async (t) => {
  const clock = new ManualClock();
  const maxTopics = 1000;
  const { registry, topics } = countingRegistry(maxTopics, clock);
  for (let i = 0; i < maxTopics; i++) { registry.getOrCreate('c', `t${i}`); clock.advance(1); }
  registry.getOrCreate('c', 't0').attach(clock.now()); // subscribed: never dropped
  const t1 = registry.getOrCreate('c', 't1');
  registry.record(t1, { seq: ++t1.seq, frame: new Uint8Array(10) }); // used again: dropped last
  for (let i = 0; i < 200; i++) t.ok(registry.getOrCreate('c', `new${i}`));
  t.equal(topics.visited, 0, '200 creates at the bound visited no topic');
  t.equal(registry.size, maxTopics);
  t.equal(registry.topicsEvicted, 200);
  t.ok(registry.get('c', 't0'), 'the subscribed topic stays');
  t.ok(registry.get('c', 't1'), 'the recently published topic stays');
  t.notOk(registry.get('c', 't2'), 'the least recently used went first');
  t.ok(registry.get('c', 't202'), 'and only as many as needed');
  t.notOk(registry.get('c', 't201'));
  t.equal(registry.evictions.idle, 0, 'their windows were empty');
});

t.test('a topic whose last subscriber left is evictable again, last in line', async (t) => {
  const clock = new ManualClock();
  const { registry } = countingRegistry(3, clock);
  const a = registry.getOrCreate('c', 'a');
  a.attach(clock.now());
  registry.getOrCreate('c', 'b');
  registry.getOrCreate('c', 'c');
  a.detach(clock.now());
  registry.getOrCreate('c', 'd');
  t.notOk(registry.get('c', 'b'), 'b, unused since before a was left, goes first');
  registry.getOrCreate('c', 'e');
  t.notOk(registry.get('c', 'c'));
  t.ok(registry.get('c', 'a'));
  registry.getOrCreate('c', 'f');
  t.notOk(registry.get('c', 'a'), 'then a');
});

t.test('the idle sweep drops expired subscriber-less topics in last-use order without a scan', async (t) => {
  const clock = new ManualClock();
  const { registry, topics } = countingRegistry(1000, clock);
  for (let i = 0; i < 500; i++) registry.getOrCreate('c', `old${i}`);
  registry.getOrCreate('c', 'old0').attach(clock.now());
  clock.advance(30_000);
  for (let i = 0; i < 500; i++) registry.getOrCreate('c', `young${i}`);
  clock.advance(30_000);
  t.equal(registry.sweep(), 499, 'the old subscriber-less topics go');
  t.equal(registry.size, 501);
  t.ok(registry.get('c', 'old0'), 'the subscribed one stays');
  t.ok(topics.visited <= 1, `the sweep visited ${topics.visited} topics of the table`);
});

t.test('at maxTopics topics idle past idleTopicMs make room first, all of them, and no more', async (t) => {
  const clock = new ManualClock();
  const { registry } = countingRegistry(4, clock);
  registry.getOrCreate('c', 'old1');
  registry.getOrCreate('c', 'old2');
  clock.advance(60_000);
  registry.getOrCreate('c', 'recent1');
  registry.getOrCreate('c', 'recent2');
  registry.getOrCreate('c', 'new');
  t.notOk(registry.get('c', 'old1'), 'an expired topic made room');
  t.notOk(registry.get('c', 'old2'), 'the other expired one went with it');
  t.ok(registry.get('c', 'recent1') && registry.get('c', 'recent2'), 'no topic still in use was dropped besides');
  t.equal(registry.size, 3);
  t.equal(registry.topicsEvicted, 0, 'dropped as idle, not counted as made room for');
});
