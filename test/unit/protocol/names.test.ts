/** Names with lone surrogates are refused (they would collide as Redis keys). */
import tap from 'tap';
import { nameProblem } from '../../../src/protocol/names.js';
tap.test('names with a lone surrogate are refused before any engine sees them', async (t) => {
  t.type(nameProblem('key', 'k\uD800'), 'string');
  t.type(nameProblem('key', 'k\uDC00x'), 'string');
  t.type(nameProblem('topic', '\uD800é'), 'string');
  t.equal(nameProblem('key', 'k\uD83D\uDE00'), undefined, 'a surrogate pair is fine');
});
