/** docs/http-api.md's "Errors" table is what the HTTP routes answer: each error code's status, and
 * the size causes that make a LIMIT_EXCEEDED_ERROR a 413 instead of a 429. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ErrorCode, LimitCause } from '../../src/protocol/index.js';
import { httpStatus } from '../../src/server/http-common.js';

const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
const start = doc.indexOf('## Errors');
const section = doc.slice(start, doc.indexOf('\n## ', start + 1));

t.test('every code in the table answers the status it shows', async (t) => {
  const rows = [...section.matchAll(/^\| (`[A-Z_]+`.*?) \| (\d{3})\b.* \|$/gm)];
  const listed = new Set<string>();
  for (const [, cell, status] of rows) {
    for (const [, code] of cell!.matchAll(/`([A-Z_]+)`/g)) listed.add(code!);
    if (/with a size cause|any other cause/.test(cell!)) continue; // below
    for (const [, code] of cell!.matchAll(/`([A-Z_]+)`/g)) {
      t.equal(httpStatus({ code: code as ErrorCode, message: '' }).slice(0, 3), status, `${code}: ${status}`);
    }
  }
  // Every code the server sends has a row; CONNECTION_ERROR is the SDK's own (client side only).
  t.same([...listed].sort(), Object.values(ErrorCode).filter((c) => c !== ErrorCode.CONNECTION_ERROR).sort(), 'one row for every code');
});

t.test('LIMIT_EXCEEDED_ERROR: the size causes listed are 413, every other cause 429', async (t) => {
  const sizeRow = /^\| `LIMIT_EXCEEDED_ERROR` with a size cause \((.*)\) \| 413 \|$/m.exec(section);
  t.ok(sizeRow, 'the size-cause row');
  const prefixes = [...sizeRow![1]!.matchAll(/`([a-z_]+)…`/g)].map((m) => m[1]!);
  for (const cause of Object.values(LimitCause)) {
    const listed = prefixes.some((p) => cause.startsWith(p));
    t.equal(httpStatus({ code: ErrorCode.LIMIT_EXCEEDED_ERROR, message: '', cause }).slice(0, 3), listed ? '413' : '429', `${cause}: ${listed ? 413 : 429}`);
  }
  t.ok(/^\| `LIMIT_EXCEEDED_ERROR`, any other cause \| 429 \|$/m.test(section), 'the row for the others');
});
