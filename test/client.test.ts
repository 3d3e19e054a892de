/** Every client SDK test file (test/client/*.test.ts) in one process, as test/unit.test.ts does for
 * the unit tests: each starts its own servers and clients and closes them when its tests end, and
 * none sets the environment or a global, so the process they share changes nothing they check,
 * while a process per file cost about 1.3 s of CPU each to start. package.json's tap `include`
 * leaves test/client/ out; `npx tap test/client/<file>` still runs one alone. */
import t from 'tap';
import { importTestFiles } from './helpers/test-folder.js';

t.setTimeout(360_000);
const files = await importTestFiles(new URL('client/', import.meta.url));
t.ok(files > 0, `${files} client test files`);
