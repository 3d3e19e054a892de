import t from 'tap';
import fc from 'fast-check';
import { encodeFrame } from '../../../src/index.js';
import { frameShape, peekRequestId } from '../../../src/protocol/peek.js';
import { DEFAULTS } from '../../../src/core/config.js';

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
  t.equal(peekRequestId(encodeFrame({ id: -(2 ** 40) })), null, 'nor a negative one past 32 bits (msgpackr writes it as a float64)');
  t.equal(peekRequestId(encodeFrame({ id: 'seven' })), null);
  t.equal(peekRequestId(encodeFrame({ id: 2 ** 40 })), 2 ** 40);
  const truncated = encodeFrame({ t: 'x', pad: 'y'.repeat(100), id: 3 }).subarray(0, 20);
  t.equal(peekRequestId(truncated), null, 'a length prefix past the end is not trusted');
});

/** Values of a decoded msgpack value as frameShape counts them: each container, key and scalar. */
const valuesOf = (v: unknown): number => Array.isArray(v) ? 1 + v.reduce((n: number, e) => n + valuesOf(e), 0)
  : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) ? 1 + Object.values(v).reduce((n: number, e) => n + 1 + valuesOf(e), 0) : 1;
const depthOf = (v: unknown): number => Array.isArray(v) ? 1 + Math.max(0, ...v.map(depthOf))
  : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;

t.test('frameShape - counts every value and nesting level of any frame, and refuses exactly past the limits', async (t) => {
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('tree'), { maxKeys: 4 })),
    leaf: fc.oneof(fc.string(), fc.uint8Array({ maxLength: 300 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null)),
  }));
  fc.assert(fc.property(tree, (value) => {
    const bytes = encodeFrame(value as object);
    const elements = valuesOf(value);
    const depth = depthOf(value);
    return frameShape(bytes, 1e6, 64).elements === elements
      && frameShape(bytes, elements, depth).elements === elements
      && frameShape(bytes, elements - 1, 64).problem === 'elements'
      && (depth === 0 || frameShape(bytes, 1e6, depth - 1).problem === 'depth');
  }), { numRuns: runs });
  t.same(frameShape(new Uint8Array([0x82, 0xa1, 0x74, 0xd6, 0xff, 0, 0, 0, 1, 0xc0, 0xc0]), 100, 8), { problem: 'ext' }, 'an ext type (a timestamp) is refused');
  t.same(frameShape(encodeFrame({ t: 'pub', ttl: undefined }), 100, 8), { elements: 5 }, 'but msgpackr\'s undefined (d4 00 00) is a scalar');
  t.same(frameShape(new Uint8Array([0x81, 0xa1, 0x74, 0xd4, 0x01, 0x00]), 100, 8), { problem: 'ext' }, 'as no other fixext 1 is');
});

t.test('frameShape - the largest legitimate request fits the default limits; a 1 MiB frame of empty maps does not', async (t) => {
  const { maxRequestElements, maxRequestDepth } = DEFAULTS.server;
  const values = Array.from({ length: DEFAULTS.store.maxListLength }, (_, i) => `v${i}`);
  const concatenate = encodeFrame({ t: 'listConcatenateBack', id: 1, cache: 'c', list: 'l', values });
  t.ok(concatenate.byteLength <= DEFAULTS.server.maxFrameBytes, 'it fits in a frame');
  t.equal(frameShape(concatenate, maxRequestElements, maxRequestDepth).elements, 11 + values.length);
  const maps = new Uint8Array(DEFAULTS.server.maxFrameBytes).fill(0x80);
  maps.set([0xdd, 0x00, 0x0f, 0xff, 0xfb]);
  t.same(frameShape(maps, maxRequestElements, maxRequestDepth), { problem: 'elements' });
});
