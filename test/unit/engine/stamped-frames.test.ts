/** The frames the Redis engine's scripts finish: the node encodes everything but seq, page and ts,
 * the script appends those msgpack-encoded. Both halves must make exactly the frame the memory
 * engine would have sent, for every value kind and with or without a tokenId. */
import t from 'tap';
import { Packr } from 'msgpackr';
import { decodeFrame, encodeFrameHead, encodeItem, encodeItemParts, itemPartsValue, type ItemFrame } from '../../../src/protocol/index.js';

// What cmsgpack.pack(seq, page, ts) produces: the three numbers encoded back to back.
const packr = new Packr({ useRecords: false });
const numbers = (...n: number[]) => Buffer.concat(n.map((x) => packr.pack(x)));

t.test('an item finished by the script decodes like encodeItem', async (t) => {
  const values = ['hello', '', 'ünï 😀', new Uint8Array([0, 1, 255]), new Uint8Array(0), 'x'.repeat(70_000)];
  for (const value of values) {
    for (const tokenId of [undefined, 'alice', '']) {
      const item: ItemFrame = { t: 'item', cache: 'chat', topic: 'room', value, seq: 42, page: 1_796_000_000_123, ts: 1_796_000_000_999 };
      if (tokenId !== undefined) item.tokenId = tokenId;
      const { head, tail } = encodeItemParts('chat', 'room', value, tokenId);
      const stamped = Buffer.concat([head, numbers(item.seq, item.page, item.ts), tail]);
      t.same(decodeFrame(stamped), decodeFrame(encodeItem(item)), `${typeof value === 'string' ? `text(${value.length})` : `binary(${value.byteLength})`}, tokenId ${JSON.stringify(tokenId)}`);
    }
  }
});

t.test('the value is read back from an item head (a batch resent after a stale directory)', async (t) => {
  for (const value of ['hello', '', 'ünï 😀', new Uint8Array([0, 1, 255]), new Uint8Array(0), 'x'.repeat(70_000)]) {
    for (const tokenId of [undefined, 'alice']) {
      const { head } = encodeItemParts('chat', 'room', value, tokenId);
      const back = itemPartsValue(head);
      if (typeof value === 'string') t.equal(back, value);
      else t.same(Array.from(back as Uint8Array), Array.from(value), `binary(${value.byteLength})`);
      t.equal(head[0], 0x90 | (tokenId === undefined ? 7 : 8), 'the head itself is left as it was');
    }
  }
});

t.test('a map frame finished by the script has every field', async (t) => {
  const frame = { t: 'retract', cache: 'chat', topic: 'room', target: { page: 7, seq: 3 }, reason: 'spam', tokenId: 'mod' };
  const stamped = Buffer.concat([encodeFrameHead(frame, 3), packr.pack('seq'), packr.pack(4), packr.pack('page'), packr.pack(7), packr.pack('ts'), packr.pack(1000)]);
  t.same(decodeFrame(stamped), { ...frame, seq: 4, page: 7, ts: 1000 });
  const copy = encodeFrameHead(frame, 3);
  t.not(copy.buffer, encodeFrameHead(frame, 3).buffer, 'each head owns its bytes');
});
