/** Every unit test file (test/unit/**\/*.test.ts) in one process. Each is small (most run in under
 * a second) while a tap file of its own cost about 1.3 s of CPU just to start (node, tsx's loader
 * hooks, tap, the sources), fifty times over on CI's 2 cores. package.json's tap `include` leaves
 * test/unit/ out so they do not run twice; `npx tap test/unit/<file>` still runs one alone.
 * A new unit test file needs nothing here: it is found by its name. */
import t from 'tap';
import { importTestFiles } from './helpers/test-folder.js';

// Together they take about as long as one slow integration file; tap's per-file 120 s is for one.
t.setTimeout(360_000);
const files = await importTestFiles(new URL('unit/', import.meta.url));
t.ok(files > 0, `${files} unit test files`);
