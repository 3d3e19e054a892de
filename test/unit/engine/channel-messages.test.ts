/** The topic messages Redis hands a node (engine/redis/channel-messages.ts), in the formats the
 * Lua scripts write (scripts.ts): one `seq SP page SP frame`, or a batch `*` + `length SP message`
 * per item. Round trips for any frames (spaces, `*` and digits included), and junk never throws,
 * never loops, never yields bytes outside the message. */
import t from 'tap';
import fc from 'fast-check';
import { deepStrictEqual, ok } from 'node:assert';
import { forEachChannelItem, parseTopicMessage, type TopicMessage } from '../../../src/engine/redis/channel-messages.js';

const enc = new TextEncoder();
const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.byteLength; }
  return out;
};
/** As scripts.ts topic_message and tidingsTopicPublishBatch build them. */
const message = (m: TopicMessage) => concat([enc.encode(`${m.seq} ${m.page} `), m.frame]);
const channelMessage = (items: TopicMessage[]) =>
  items.length === 1 ? message(items[0]!) : concat([enc.encode('*'), ...items.map((m) => { const one = message(m); return concat([enc.encode(`${one.byteLength} `), one]); })]);
const collect = (raw: Uint8Array) => { const out: TopicMessage[] = []; forEachChannelItem(raw, (m) => out.push(m)); return out; };

const item = fc.record({
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  page: fc.integer({ min: 1, max: 2 ** 45 }),
  frame: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

t.test('one item or a batch: every item back, in order, with its seq, page and frame', async (t) => {
  // One tap assertion for the property (fast-check reports the smallest failing case).
  t.doesNotThrow(() => fc.assert(fc.property(fc.array(item, { minLength: 1, maxLength: 20 }), (items) => {
    const got = collect(channelMessage(items));
    deepStrictEqual(got.map((m) => ({ seq: m.seq, page: m.page, frame: [...m.frame] })), items.map((m) => ({ seq: m.seq, page: m.page, frame: [...m.frame] })));
  }), { numRuns: 300 }), '300 random channel messages of 1 to 20 items round-trip');
});

t.test('the frame is a copy, not a view of the received buffer', async (t) => {
  const raw = message({ seq: 3, page: 9, frame: new Uint8Array([1, 2, 3]) });
  const parsed = parseTopicMessage(raw);
  raw.fill(0);
  t.same([...parsed.frame], [1, 2, 3]);
});

t.test('junk: never throws, always ends, never reads past the message', async (t) => {
  t.doesNotThrow(() => fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => concat([enc.encode('*'), b])),
    fc.string({ maxLength: 60 }).map((s) => enc.encode(`*${s}`))), (raw) => {
    const got = collect(raw);
    const total = got.reduce((n, m) => n + m.frame.byteLength, 0);
    ok(total <= raw.byteLength, 'frames fit in the message');
  }), { numRuns: 500 }), '500 junk messages: no throw, no loop, frames within the message');
  t.same(collect(enc.encode('*12')), [], 'a length with nothing after it yields nothing');
  t.same(collect(enc.encode('*999 1 1 abc')), [], 'a length past the end yields nothing');
});
