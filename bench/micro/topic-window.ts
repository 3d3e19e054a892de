/** Topic window append (every publish): TopicRegistry.record with the default bounds, with a
 * small per-topic window (evicting on every append), and under the global byte budget (evicting
 * across topics).
 *   node --import tsx bench/micro/topic-window.ts */
import { DEFAULTS, type TopicsConfig } from '../../src/core/config.js';
import { systemClock } from '../../src/core/clock.js';
import { TopicRegistry } from '../../src/topics/topic-registry.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { measure, runIfMain, type MicroResult } from './harness.js';

export async function topicWindowMicro(ms = 1000): Promise<MicroResult[]> {
  const frame = encodeFrame({ t: 'item', cache: 'bench', topic: 'room-42', value: Buffer.alloc(64), seq: 1, page: 1, ts: Date.now() });
  const setup = (patch: Partial<TopicsConfig>, topics: number) => {
    const registry = new TopicRegistry({ ...DEFAULTS.topics, ...patch }, systemClock);
    const list = Array.from({ length: topics }, (_, i) => registry.getOrCreate('bench', `t${i}`));
    let i = 0;
    return () => {
      const topic = list[i++ % list.length]!;
      registry.record(topic, { seq: ++topic.seq, frame });
    };
  };
  return [
    await measure('topic window', 'record: 1 topic, default window (1000 items)', setup({}, 1), { ms, batch: 10_000 }),
    await measure('topic window', 'record: 1 topic, 10-item window (evicts each time)', setup({ windowItems: 10 }, 1), { ms, batch: 10_000 }),
    await measure('topic window', 'record: 1000 topics round robin, default window', setup({}, 1000), { ms, batch: 10_000 }),
    await measure('topic window', 'record: 1000 topics, global budget 64 KiB (evicts across)', setup({ windowTotalBytes: 64 * 1024 }, 1000), { ms, batch: 10_000 }),
  ];
}

runIfMain('topic-window.ts', () => topicWindowMicro());
