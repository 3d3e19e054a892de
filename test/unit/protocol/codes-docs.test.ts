/** docs/protocol.md is the contract: its error-code, limit-cause and close-code tables list exactly
 * what src/protocol/codes.ts defines, every error code the table does not call client side only is
 * one the server sends, and a close code the server never sends is marked reserved there. */
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CloseCode, ErrorCode, LimitCause } from '../../../src/protocol/index.js';

const root = new URL('../../../', import.meta.url).pathname;
const doc = readFileSync(join(root, 'docs/protocol.md'), 'utf8');
const section = (title: string) => {
  const start = doc.indexOf(title);
  const next = doc.indexOf('\n## ', start + title.length);
  return doc.slice(start, next === -1 ? undefined : next);
};

function serverSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'client' || name === 'protocol' ? [] : serverSources(path);
    return path.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
  });
}
const server = serverSources(join(root, 'src')).join('\n');
const keyOf = (table: Record<string, unknown>, value: unknown) => Object.keys(table).find((k) => table[k] === value)!;

t.test('the error-code table lists exactly the ErrorCode values', async (t) => {
  const rows = [...section('## Error codes').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.same(new Set(rows), new Set(Object.values(ErrorCode)));
});

t.test('every error code not marked client side only is sent by the server, and the client-only one is not', async (t) => {
  const rows = [...section('## Error codes').matchAll(/^\| `([A-Z_]+)` \| (.*) \|$/gm)].map((m) => ({ code: m[1]!, text: m[2]! }));
  // A code is sent when the server builds an error with it: `ErrorCode.X` outside a status table
  // (`[ErrorCode.X]: ...`), or a call of the helper of src/core/errors.ts that builds it.
  const helpers = [...readFileSync(join(root, 'src/core/errors.ts'), 'utf8').matchAll(/export const (\w+) = \([^)]*\) => new TidingsError\(ErrorCode\.(\w+)/g)];
  const others = server.replace(/export const \w+ = \([^)]*\) => new TidingsError\(ErrorCode\.\w+/g, '');
  const sent = (name: string) => new RegExp(`ErrorCode\\.${name}\\b(?!\\]\\s*:)`).test(others)
    || helpers.some((h) => h[2] === name && new RegExp(`\\b${h[1]}\\(`).test(others));
  t.equal(rows.length, Object.keys(ErrorCode).length, 'one row per code');
  for (const { code, text } of rows) {
    const clientOnly = /client side only/i.test(text);
    t.equal(sent(keyOf(ErrorCode, code)), !clientOnly, `${code} is ${clientOnly ? 'never sent by the server (client side only)' : 'sent by the server'}`);
  }
});

t.test('the limit causes listed are exactly the LimitCause values', async (t) => {
  const text = section('## Error codes');
  const listed = text.slice(text.indexOf('`LIMIT_EXCEEDED_ERROR` causes:'));
  const causes = [...listed.slice(0, listed.indexOf('\n\n')).matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
  t.same(new Set(causes), new Set(Object.values(LimitCause)));
  for (const cause of Object.values(LimitCause)) {
    t.ok(server.includes(`LimitCause.${keyOf(LimitCause, cause)}`), `${cause} is sent by the server`);
  }
});

t.test('the close-code table lists every CloseCode, and one the server never sends says reserved', async (t) => {
  const rows = [...section('### `bye` and close codes').matchAll(/^\| (\d{4}) \| (.*)$/gm)].map((m) => ({ code: Number(m[1]), text: m[2]! }));
  const documented = new Set(rows.map((r) => r.code));
  for (const code of Object.values(CloseCode)) t.ok(documented.has(code), `${code} is documented`);
  for (const row of rows.filter((r) => r.code >= 4000)) {
    const name = keyOf(CloseCode, row.code);
    t.ok(name, `${row.code} is a CloseCode`);
    const sent = new RegExp(`CloseCode\\.${name}\\b`).test(server);
    t.ok(sent || /reserved/i.test(row.text), `${row.code} (${name}) is ${sent ? 'sent by the server' : 'marked reserved'}`);
  }
});
