/** Measures what topic windows really hold against what they account (topics.windowTotalBytes).
 * Run: node --expose-gc --import tsx test/helpers/window-footprint.ts
 * Publishes large items to one busy topic (its window keeps only the newest) interleaved with one
 * small item to each of many quiet topics, the pattern under which windows that keep views into
 * the encoder's shared output buffer pin one whole buffer per quiet item. Prints one JSON line.
 * With `tiny`: windows full of 1-byte items over 10,000 topics (measureTinyItems).
 * Used by test/unit/topics/window-footprint.test.ts. */
import { ManualClock } from '../../src/core/clock.js';
import { DEFAULTS } from '../../src/core/config.js';
import { MemoryEngine } from '../../src/engine/memory-engine.js';

const gc = (globalThis as { gc?: () => void }).gc;

async function arrayBufferBytes(): Promise<number> {
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) { gc!(); await new Promise((r) => setTimeout(r, 20)); }
  return process.memoryUsage().arrayBuffers;
}

export interface WindowFootprint { published: number; windowBytes: number; windowTotalBytes: number; retainedArrayBuffers: number; topics: number }

export async function measureWindows(quietTopics: number, bigBytes: number): Promise<WindowFootprint> {
  const windowTotalBytes = 4 * 1024 * 1024;
  const engine = new MemoryEngine({ topics: { ...DEFAULTS.topics, windowTotalBytes, windowItems: 1, maxTopics: quietTopics + 10 }, clock: new ManualClock() });
  // No sockets: the footprint is the engine's; fan-out is the server's and keeps nothing.
  await engine.start({ publish: () => {}, sendTo: () => {} });
  const before = await arrayBufferBytes();
  const big = 'x'.repeat(bigBytes);
  let published = 0;
  for (let i = 0; i < quietTopics; i++) {
    engine.topics.publish('c', 'busy', big, 'user');
    engine.topics.publish('c', `quiet-${i}`, `quiet item ${i}`, 'user');
    published += bigBytes + 30;
  }
  const after = await arrayBufferBytes();
  const { windowBytes, topics } = engine.topics.stats();
  await engine.close();
  return { published, windowBytes, windowTotalBytes, retainedArrayBuffers: after - before, topics };
}

export interface TinyItemsFootprint { windowTotalBytes: number; accounted: number; items: number; retained: number }

/** Windows filled to windowTotalBytes with 1-byte items over 10,000 topics, then churned: what the
 * process holds (heap and ArrayBuffers) against the budget, per-item overhead included. */
export async function measureTinyItems(windowTotalBytes: number): Promise<TinyItemsFootprint> {
  const engine = new MemoryEngine({ topics: { ...DEFAULTS.topics, windowTotalBytes }, clock: new ManualClock() });
  await engine.start({ publish: () => {}, sendTo: () => {} });
  await arrayBufferBytes();
  const before = process.memoryUsage();
  let items = 0;
  while (engine.topics.registry.windowBytes < windowTotalBytes - 1024) engine.topics.publishNow('c', `t${items++ % 10_000}`, 'x', undefined);
  for (let j = 0; j < 100_000; j++) engine.topics.publishNow('c', `t${j % 10_000}`, 'x', undefined);
  await arrayBufferBytes();
  const after = process.memoryUsage();
  const accounted = engine.topics.registry.windowBytes;
  await engine.close();
  return { windowTotalBytes, accounted, items, retained: after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = process.argv[2] === 'tiny'
    ? await measureTinyItems(Number(process.argv[3] ?? 16 * 1024 * 1024))
    : await measureWindows(Number(process.argv[2] ?? 1500), Number(process.argv[3] ?? 64 * 1024));
  console.log(JSON.stringify(result));
}
