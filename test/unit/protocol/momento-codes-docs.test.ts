/** ErrorCode uses Momento's strings (docs/client.md, "Porting from Momento"): every code is one of
 * MomentoErrorCode's values, and the Momento codes it lacks are exactly the ones the porting table
 * lists as never produced. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { MomentoErrorCode } from '@gomomento/sdk-web';
import { ErrorCode } from '../../../src/protocol/index.js';

const momento = new Set<string>(Object.values(MomentoErrorCode));
const ours = new Set<string>(Object.values(ErrorCode));

t.test('every ErrorCode is a Momento code with the same string', async (t) => {
  for (const code of ours) t.ok(momento.has(code), `${code} is a MomentoErrorCode value`);
});

t.test('the Momento codes Tidings lacks are the ones docs/client.md names', async (t) => {
  const doc = readFileSync(new URL('../../../docs/client.md', import.meta.url), 'utf8');
  const row = doc.split('\n').find((line) => line.startsWith('| `MomentoErrorCode` |'));
  t.ok(row, 'the porting table has a MomentoErrorCode row');
  const named = new Set([...row!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!));
  t.same(named, new Set([...momento].filter((code) => !ours.has(code))));
});
