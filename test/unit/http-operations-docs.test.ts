/** docs/http-api.md's "Cache operations" table lists exactly the operations `POST /v1/cache/{cache}/{operation}`
 * runs (publish has its own route). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { HTTP_OPERATIONS } from '../../src/server/http-api.js';

t.test('the cache-operations table names every HTTP operation, and only those', async (t) => {
  const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
  const start = doc.indexOf('## Cache operations');
  const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
  const listed = new Set([...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`(\w+)`/g)].map((n) => n[1]!)));
  listed.delete('operation');
  t.same([...listed].sort(), [...HTTP_OPERATIONS].filter((op) => op !== 'pub').sort());
});
