/** docs/http-api.md's "Errors" table is what the HTTP routes answer: every error code the server
 * sends has a row, each row's status is the one httpStatus gives, and the size causes it lists
 * for 413 are exactly the causes answered 413 (every other LIMIT_EXCEEDED_ERROR cause gets 429). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ErrorCode, LimitCause } from '../../../src/protocol/index.js';
import { httpStatus } from '../../../src/server/http-common.js';

const doc = readFileSync(new URL('../../../docs/http-api.md', import.meta.url), 'utf8');
const start = doc.indexOf('\n## Errors');
const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
const rows = [...section.matchAll(/^\| (.+) \| (\d{3})\b.*\|$/gm)].map((m) => ({ text: m[1]!, status: m[2]! }));
const codesOf = (text: string) => [...text.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!);
const statusOf = (code: string, cause?: string) => httpStatus({ code: code as ErrorCode, message: '', ...(cause ? { cause } : {}) }).slice(0, 3);

t.test('every error code a server sends has a row (CONNECTION_ERROR is the client\'s own)', async (t) => {
  const documented = new Set(rows.flatMap((r) => codesOf(r.text)));
  for (const code of Object.values(ErrorCode)) {
    if (code === ErrorCode.CONNECTION_ERROR) continue;
    t.ok(documented.has(code), `${code} has a status in docs/http-api.md`);
  }
  for (const code of documented) t.ok(Object.values(ErrorCode).includes(code as ErrorCode), `${code} is an ErrorCode`);
});

t.test('each plain row\'s status is the one the routes answer', async (t) => {
  for (const row of rows.filter((r) => !r.text.includes('LIMIT_EXCEEDED_ERROR'))) {
    for (const code of codesOf(row.text)) t.equal(statusOf(code), row.status, `${code} -> ${row.status}`);
  }
});

t.test('the size causes listed for 413 are exactly the causes answered 413; every other cause gets 429', async (t) => {
  const sizeRow = rows.find((r) => r.text.includes('LIMIT_EXCEEDED_ERROR') && r.status === '413');
  const otherRow = rows.find((r) => r.text.includes('LIMIT_EXCEEDED_ERROR') && r.status !== '413');
  t.ok(sizeRow && otherRow, 'both LIMIT_EXCEEDED_ERROR rows are there');
  t.equal(otherRow?.status, '429');
  // The row abbreviates causes as `request_size_…`.
  const listed = new Set([...sizeRow!.text.matchAll(/`([a-z_]+?)_…`/g)].map((m) => m[1]!));
  const answered413 = Object.values(LimitCause).filter((c) => statusOf(ErrorCode.LIMIT_EXCEEDED_ERROR, c) === '413');
  t.same(new Set(answered413.map((c) => c.replace(/_limit_exceeded$/, ''))), listed);
  for (const cause of Object.values(LimitCause)) {
    if (!answered413.includes(cause)) t.equal(statusOf(ErrorCode.LIMIT_EXCEEDED_ERROR, cause), '429', `${cause} -> 429`);
  }
});
