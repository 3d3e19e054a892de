import t from 'tap';
import { outputOf, parsePattern } from '../../../src/moderation/pattern.js';
import { TidingsError } from '../../../src/core/errors.js';

t.test('pattern - the output topic of an input topic', async (t) => {
  const suffix = parsePattern({ nameSuffix: '-input' });
  t.equal(outputOf(suffix, 'room1-input'), 'room1');
  t.equal(outputOf(suffix, 'room1'), undefined, 'not matching');
  t.equal(outputOf(suffix, '-input'), undefined, 'a blank output is not an input');
  t.equal(outputOf(suffix, '   -input'), undefined, 'nor a whitespace-only one');
  t.equal(outputOf(suffix, 'a-input-input'), undefined, 'an output that is itself an input would loop');
  const prefix = parsePattern({ namePrefix: 'in-' });
  t.equal(outputOf(prefix, 'in-lobby'), 'lobby');
  t.equal(outputOf(prefix, 'in-in-lobby'), undefined);
  t.equal(outputOf(prefix, 'lobby-in-'), undefined);
});

t.test('pattern - malformed patterns are typed errors', async (t) => {
  for (const bad of [undefined, null, 'x', [], {}, { nameSuffix: '' }, { nameSuffix: 3 }, { namePrefix: 'a\u0000' }, { nameSuffix: 'a', namePrefix: 'b' }, { name: 'x' }]) {
    let error: unknown;
    try { parsePattern(bad); } catch (e) { error = e; }
    t.ok(error instanceof TidingsError && error.code === 'INVALID_ARGUMENT_ERROR', JSON.stringify(bad) ?? 'undefined');
  }
});
