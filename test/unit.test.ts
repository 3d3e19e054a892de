/** Every unit test file (test/unit/**\/*.test.ts) in one process. Each is small (most run in under
 * a second) while a tap file of its own cost about 1.3 s of CPU just to start (node, tsx's loader
 * hooks, tap, the sources), fifty times over on CI's 2 cores. package.json's tap `include` leaves
 * test/unit/ out so they do not run twice; `npx tap test/unit/<file>` still runs one alone.
 * A new unit test file needs nothing here: it is found by its name. */
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Together they take about as long as one slow integration file; tap's per-file 120 s is for one.
t.setTimeout(360_000);

const root = fileURLToPath(new URL('unit/', import.meta.url));
const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.test.ts')).sort();
t.ok(files.length > 0, `${files.length} unit test files`);
// In name order, one after another: each file's top-level tests run in its own order, as alone.
for (const file of files) await import(pathToFileURL(join(root, file)).href);
