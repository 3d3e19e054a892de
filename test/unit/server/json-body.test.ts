import t from 'tap';
import fc from 'fast-check';
import { jsonShape, parseJsonObject } from '../../../src/server/json-body.js';

const runs = Number(process.env['TIDINGS_FUZZ_RUNS'] ?? 300);
/** Values of a parsed JSON value as jsonShape counts them: each container, key and scalar. */
const valuesOf = (v: unknown): number => Array.isArray(v) ? 1 + v.reduce((n: number, e) => n + valuesOf(e), 0)
  : v !== null && typeof v === 'object' ? 1 + Object.values(v).reduce((n: number, e) => n + 1 + valuesOf(e), 0) : 1;
const depthOf = (v: unknown): number => Array.isArray(v) ? 1 + Math.max(0, ...v.map(depthOf))
  : v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0;

t.test('jsonShape - counts every value and nesting level of any JSON text, however it is spaced or escaped', async (t) => {
  fc.assert(fc.property(fc.jsonValue(), fc.boolean(), (value, spaced) => {
    const text = Buffer.from(JSON.stringify(value, null, spaced ? 2 : undefined));
    const elements = valuesOf(value);
    const depth = depthOf(value);
    return jsonShape(text, 1e6, 64).elements === elements
      && jsonShape(text, elements, depth).problem === undefined
      && jsonShape(text, elements - 1, 64).problem === 'elements'
      && (depth === 0 || jsonShape(text, 1e6, depth - 1).problem === 'depth');
  }), { numRuns: runs });
  t.equal(jsonShape(Buffer.from('{"a\\"[[[":"\\\\","b":["]"]}'), 100, 2).elements, 6, 'brackets and escaped quotes inside strings are text');
});

t.test('parseJsonObject - typed refusals: not UTF-8, past the limits, not JSON, not an object', async (t) => {
  const limits = { maxRequestElements: 10, maxRequestDepth: 3 };
  t.same(parseJsonObject(Buffer.from('{"a":[1,2]}'), limits), { value: { a: [1, 2] }, elements: 5 });
  t.throws(() => parseJsonObject(Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]), limits), { code: 'INVALID_ARGUMENT_ERROR', message: /not UTF-8/ });
  t.throws(() => parseJsonObject(Buffer.from(`[${'0,'.repeat(10)}0]`), limits), { code: 'LIMIT_EXCEEDED_ERROR', cause_: 'request_elements_limit_exceeded' });
  t.throws(() => parseJsonObject(Buffer.from('{"a":[[[]]]}'), limits), { code: 'LIMIT_EXCEEDED_ERROR', cause_: 'request_depth_limit_exceeded' });
  t.throws(() => parseJsonObject(Buffer.from('{"a":'), limits), { code: 'INVALID_ARGUMENT_ERROR', message: 'body must be JSON' });
  t.throws(() => parseJsonObject(Buffer.from('{"a":"never closed'), limits), { code: 'INVALID_ARGUMENT_ERROR', message: 'body must be JSON' }, 'an unterminated string ends the count (then JSON.parse refuses it), not a rescan from the start');
  t.throws(() => parseJsonObject(Buffer.from('[1]'), limits), { message: 'body must be a JSON object' });
  t.throws(() => parseJsonObject(Buffer.from('null'), limits), { code: 'INVALID_ARGUMENT_ERROR', message: 'body must be a JSON object' });
  t.same(parseJsonObject(Buffer.alloc(0), limits, true).value, {}, 'an empty body where one is allowed');
});
