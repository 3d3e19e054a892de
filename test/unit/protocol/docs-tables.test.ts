/** docs/protocol.md and src/protocol/codes.ts change together: every close code, error code and
 * limit cause in the code table is documented, and the close-code table lists nothing else. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CloseCode, ErrorCode, LimitCause } from '../../../src/index.js';

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

t.test('docs/protocol.md - the close-code table matches CloseCode', async (t) => {
  const section = doc.slice(doc.indexOf('| close code | meaning |'));
  const lines = section.split('\n').slice(2);
  const table = lines.slice(0, lines.findIndex((l) => !l.startsWith('|')));
  const rows = table.map((l) => Number(l.split('|')[1]!.trim()));
  const documented = rows.filter((n) => n !== 1006).sort();
  t.same(documented, Object.values(CloseCode).sort(), 'every close code in one row, no row without a code');
});

t.test('docs/protocol.md - every error code and limit cause is documented', async (t) => {
  for (const code of Object.values(ErrorCode)) t.ok(doc.includes(`| \`${code}\` |`), `${code} has a row`);
  for (const cause of Object.values(LimitCause)) t.ok(doc.includes(`\`${cause}\``), `${cause} is named`);
});
