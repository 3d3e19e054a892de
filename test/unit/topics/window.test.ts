import t from 'tap';
import { Fifo } from '../../../src/lib/fifo.js';
import { Topic } from '../../../src/topics/topic.js';
import { TopicRegistry } from '../../../src/topics/topic-registry.js';
import { ManualClock, DEFAULTS } from '../../../src/index.js';

const frame = (n: number, size = 10) => new Uint8Array(size).fill(n % 256);

function topicWith(seqs: number, page = 100): Topic {
  const topic = new Topic('k', 'c', 'n', page, 0);
  for (let s = 1; s <= seqs; s++) { topic.seq = s; topic.append({ seq: s, frame: frame(s) }, 1000, 1 << 20); }
  return topic;
}

t.test('fifo - push, shift, at and compaction keep order', async (t) => {
  const q = new Fifo<number>();
  for (let i = 0; i < 5000; i++) q.push(i);
  const shifted = Array.from({ length: 3000 }, () => q.shift());
  t.same(shifted, Array.from({ length: 3000 }, (_, i) => i));
  t.equal(q.length, 2000);
  t.equal(q.peek(), 3000);
  t.equal(q.at(0), 3000);
  t.equal(q.at(1999), 4999);
  t.equal(q.at(2000), undefined);
  t.equal(q.at(-1), undefined);
  t.same([...q].slice(0, 3), [3000, 3001, 3002]);
  q.clear();
  t.equal(q.shift(), undefined);
});

t.test('window - readAfter cases', async (t) => {
  const topic = topicWith(10);
  const seqsOf = (r: ReturnType<Topic['readAfter']>) => r.frames.map((f) => f[0]);
  let r = topic.readAfter({ page: 100, seq: 7 }, 1 << 20);
  t.same(seqsOf(r), [8, 9, 10]);
  t.same(r.next, { page: 100, seq: 10 });
  t.equal(r.caughtUp, true);
  t.equal(r.gap, undefined);

  r = topic.readAfter({ page: 100, seq: 10 }, 1 << 20);
  t.same(seqsOf(r), [], 'nothing after the newest');
  t.equal(r.caughtUp, true);
  t.same(r.next, { page: 100, seq: 10 });

  r = topic.readAfter({ page: 100, seq: 2 }, 25);
  t.same(seqsOf(r), [3, 4], 'at most maxBytes (two 10-byte frames fit in 25)');
  t.equal(r.caughtUp, false);
  t.same(r.next, { page: 100, seq: 4 });

  r = topic.readAfter({ page: 100, seq: 2 }, 20);
  t.same(seqsOf(r), [3, 4], 'frames that exactly fill maxBytes fit');

  r = topic.readAfter({ page: 100, seq: 2 }, 1);
  t.same(seqsOf(r), [3], 'always at least one frame, so a reader makes progress');

  r = topic.readAfter({ page: 99, seq: 5 }, 1 << 20);
  t.same(r.gap, { lastSeq: 5, newSeq: 1 }, 'another page: gap to the oldest held');
  t.same(seqsOf(r), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  r = topic.readAfter({ page: 100, seq: 50 }, 1 << 20);
  t.same(r.gap, { lastSeq: 50, newSeq: 1 }, 'a position from the future is treated as unknown');

  const trimmed = new Topic('k', 'c', 'n', 100, 0);
  for (let s = 1; s <= 10; s++) { trimmed.seq = s; trimmed.append({ seq: s, frame: frame(s) }, 4, 1 << 20); }
  r = trimmed.readAfter({ page: 100, seq: 3 }, 1 << 20);
  t.same(r.gap, { lastSeq: 3, newSeq: 7 });
  t.same(seqsOf(r), [7, 8, 9, 10]);

  const empty = new Topic('k', 'c', 'n', 100, 0);
  r = empty.readAfter({ page: 100, seq: 0 }, 1 << 20);
  t.same(r, { frames: [], next: { page: 100, seq: 0 }, caughtUp: true });
});

t.test('window - a topic keeps its newest item even when it alone exceeds windowBytes', async (t) => {
  const topic = new Topic('k', 'c', 'n', 1, 0);
  topic.seq = 1;
  topic.append({ seq: 1, frame: frame(1, 500) }, 10, 100);
  t.equal(topic.window.length, 1);
  topic.seq = 2;
  topic.append({ seq: 2, frame: frame(2, 500) }, 10, 100);
  t.equal(topic.window.length, 1);
  t.equal(topic.window.peek()!.seq, 2);
});

t.test('registry - the global budget queue stays proportional to what windows hold', async (t) => {
  const clock = new ManualClock();
  const registry = new TopicRegistry({ ...DEFAULTS.topics, windowItems: 2, windowTotalBytes: 1 << 30 }, clock);
  const quiet = registry.getOrCreate('c', 'quiet');
  quiet.seq = 1;
  registry.record(quiet, { seq: 1, frame: frame(1) });
  const busy = registry.getOrCreate('c', 'busy');
  for (let s = 1; s <= 100_000; s++) { busy.seq = s; registry.record(busy, { seq: s, frame: frame(s) }); }
  const queueLength = (registry as unknown as { budgetQueue: Fifo<unknown> }).budgetQueue.length;
  t.ok(queueLength < 2 * 3 + 1024 + 1, `budget queue holds ${queueLength} entries for 3 live items, not 100 001`);
  t.equal(registry.windowBytes, 3 * (10 + 320), 'three 10-byte frames are held (with their entry overhead)');
});

t.test('registry - the budget queue stays proportional to what windows hold after idle topics were swept', async (t) => {
  const clock = new ManualClock();
  const registry = new TopicRegistry({ ...DEFAULTS.topics, windowItems: 1000, windowTotalBytes: 1 << 30, idleTopicMs: 1000 }, clock);
  for (let i = 0; i < 10; i++) {
    const idle = registry.getOrCreate('c', `idle${i}`);
    for (let s = 1; s <= 1000; s++) { idle.seq = s; registry.record(idle, { seq: s, frame: frame(s) }); }
  }
  clock.advance(1000);
  t.equal(registry.sweep(), 10, 'the ten idle topics and their 10,000 items are dropped');
  const busy = registry.getOrCreate('c', 'busy');
  for (let s = 1; s <= 50_000; s++) { busy.seq = s; registry.record(busy, { seq: s, frame: frame(s) }); }
  const queueLength = (registry as unknown as { budgetQueue: Fifo<unknown> }).budgetQueue.length;
  t.ok(queueLength <= 2 * 1000 + 1024, `budget queue holds ${queueLength} entries for the 1,000 live items`);
});

t.test('registry - after compacting its queue the global budget still drops the oldest items anywhere first', async (t) => {
  const clock = new ManualClock();
  const entry = 10 + 320;
  const registry = new TopicRegistry({ ...DEFAULTS.topics, windowItems: 2, windowTotalBytes: 4 * entry }, clock);
  const quiet = registry.getOrCreate('c', 'quiet');
  quiet.seq = 1;
  registry.record(quiet, { seq: 1, frame: frame(1) });
  const busy = registry.getOrCreate('c', 'busy');
  for (let s = 1; s <= 3000; s++) { busy.seq = s; registry.record(busy, { seq: s, frame: frame(s) }); } // compacts the queue
  const late = registry.getOrCreate('c', 'late');
  for (let s = 1; s <= 2; s++) { late.seq = s; registry.record(late, { seq: s, frame: frame(s) }); } // one entry over the budget
  t.equal(registry.windowBytes, 4 * entry, 'back within the budget');
  t.equal(quiet.window.length, 0, "the quiet topic's item, the oldest held, made room");
  t.same([...busy.window].map((e) => e.seq), [2999, 3000], "the busy topic's own two newest stay");
  t.same([...late.window].map((e) => e.seq), [1, 2], 'the newest topic keeps both of its items');
});

t.test('registry - maxTopics is enforced by dropping subscriber-less topics, else refused', async (t) => {
  const clock = new ManualClock();
  const registry = new TopicRegistry({ ...DEFAULTS.topics, maxTopics: 2, idleTopicMs: 1000 }, clock);
  const a = registry.getOrCreate('c', 'a');
  registry.record(a, { seq: ++a.seq, frame: frame(1) });
  const b = registry.getOrCreate('c', 'b');
  b.attach(clock.now());
  t.ok(registry.getOrCreate('c', 'c'), 'the subscriber-less topic makes room');
  t.notOk(registry.get('c', 'a'));
  t.equal(registry.evictions.idle, 1, 'its window item counted as dropped with it');
  t.equal(registry.topicsEvicted, 1);
  registry.get('c', 'c')!.attach(clock.now());
  t.throws(() => registry.getOrCreate('c', 'd'), { code: 'LIMIT_EXCEEDED_ERROR', cause_: 'topics_limit_exceeded' });
  t.equal(registry.size, 2);
  t.ok(registry.get('c', 'b'), 'the subscribed topics stay');
});

t.test('registry - one that drops nothing itself (the Redis engine\'s windows) refuses at maxTopics', async (t) => {
  const clock = new ManualClock();
  const registry = new TopicRegistry({ ...DEFAULTS.topics, maxTopics: 1, idleTopicMs: 1000 }, clock, { dropsIdle: false });
  registry.getOrCreate('c', 'a');
  clock.advance(5000);
  t.equal(registry.sweep(), 0, 'no idle sweep: the engine drops its windows itself');
  t.throws(() => registry.getOrCreate('c', 'b'), { code: 'LIMIT_EXCEEDED_ERROR', cause_: 'topics_limit_exceeded' });
  t.ok(registry.get('c', 'a'), 'a window being loaded (no subscriber yet) is not dropped');
});
