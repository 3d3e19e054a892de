/** PublishBatches (engine/redis/publish-batches.ts): publishes to one topic in one event-loop
 * iteration leave as one batch, within the item and byte bounds, in the order they arrived;
 * flush() sends a topic's open batch at once (before another script on that topic). */
import t from 'tap';
import { PublishBatches, type Batch } from '../../../src/engine/redis/publish-batches.js';
import { TopicKeys } from '../../../src/engine/redis/keys.js';

const parts = (bytes: number) => ({ head: new Uint8Array(bytes), tail: new Uint8Array(0) });
const nextIteration = () => new Promise((resolve) => setImmediate(resolve));

function harness(maxItems: number, maxBytes: number) {
  const sent: Array<Batch<string>> = [];
  const batches = new PublishBatches<string>({ maxItems, maxBytes }, (batch) => {
    sent.push(batch);
    batch.items.forEach((item, i) => item.resolve({ seq: i + 1, page: 1, ts: 0, dup: false }));
  });
  const add = (topic: string, name: string, bytes = 10) => {
    const { head, tail } = parts(bytes);
    return batches.add(new TopicKeys('p:', 'c', topic), 'c', topic, head, tail, name);
  };
  const shape = () => sent.map((b) => `${b.topic}:${b.items.map((i) => i.retry).join(',')}`);
  return { batches, add, sent, shape };
}

t.test('one batch per topic per iteration, sent in order of first arrival', async (t) => {
  const h = harness(64, 1 << 20);
  const results = [h.add('a', 'a1'), h.add('b', 'b1'), h.add('a', 'a2'), h.add('a', 'a3')];
  t.same(h.sent, [], 'nothing leaves before the end of the iteration');
  await nextIteration();
  t.same(h.shape(), ['a:a1,a2,a3', 'b:b1']);
  t.same((await Promise.all(results)).map((r) => r.seq), [1, 1, 2, 3], 'each caller gets its own item\'s result');
  h.add('a', 'a4');
  await nextIteration();
  t.same(h.shape().at(-1), 'a:a4', 'the next iteration starts a new batch');
});

t.test('a full batch leaves at once; an item over the byte bound goes alone', async (t) => {
  const h = harness(2, 100);
  h.add('a', 'x1'); h.add('a', 'x2'); h.add('a', 'x3');
  t.same(h.shape(), ['a:x1,x2'], 'maxItems reached: sent without waiting');
  h.add('a', 'big', 150);
  h.add('a', 'x4', 60); h.add('a', 'x5', 60);
  await nextIteration();
  t.same(h.shape(), ['a:x1,x2', 'a:x3', 'a:big', 'a:x4', 'a:x5'], 'bytes bound: a batch never grows past maxBytes with two items');
});

t.test('flush sends one topic\'s open batch now and leaves the others to the iteration', async (t) => {
  const h = harness(64, 1 << 20);
  h.add('a', 'a1'); h.add('b', 'b1');
  h.batches.flush(new TopicKeys('p:', 'c', 'b').channel);
  t.same(h.shape(), ['b:b1']);
  h.batches.flush(new TopicKeys('p:', 'c', 'none').channel);
  await nextIteration();
  t.same(h.shape(), ['b:b1', 'a:a1']);
});
