import t from 'tap';
import fc from 'fast-check';
import { encodeFrame } from '../../../src/index.js';
import { peekRequestId } from '../../../src/protocol/peek.js';

const runs = Number(process.env['TIDINGS_FUZZ_RUNS'] ?? 300);

t.test('peekRequestId - finds the id of any encoded request whose id is among its first fields', async (t) => {
  const value = fc.oneof(fc.string(), fc.uint8Array({ maxLength: 2048 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.array(fc.string(), { maxLength: 5 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 5 }));
  fc.assert(fc.property(
    fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== 'id'), value, { maxKeys: 6 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    (fields, id) => {
      const bytes = encodeFrame({ ...fields, id });
      const peeked = peekRequestId(bytes);
      // Within the step budget the id is found exactly; past it the answer is null, never a wrong id.
      return peeked === id || peeked === null;
    },
  ), { numRuns: runs });
  t.equal(peekRequestId(encodeFrame({ t: 'pub', cache: 'c', topic: 'x', value: new Uint8Array(1 << 20), id: 12 })), 12, 'a large value is skipped by its length prefix');
});

t.test('peekRequestId - never throws on arbitrary bytes and has no id to offer for non-maps', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    const id = peekRequestId(bytes);
    return id === null || (Number.isSafeInteger(id) && id >= 0);
  }), { numRuns: runs * 3 });
  t.equal(peekRequestId(new Uint8Array([])), null);
  t.equal(peekRequestId(encodeFrame([1, 2, 3])), null);
  t.equal(peekRequestId(encodeFrame({ id: -1 })), null);
  t.equal(peekRequestId(encodeFrame({ id: 'seven' })), null);
  t.equal(peekRequestId(encodeFrame({ id: 2 ** 40 })), 2 ** 40);
  const truncated = encodeFrame({ t: 'x', pad: 'y'.repeat(100), id: 3 }).subarray(0, 20);
  t.equal(peekRequestId(truncated), null, 'a length prefix past the end is not trusted');
});
