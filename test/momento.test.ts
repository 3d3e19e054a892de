/** The Momento-compatibility test files (test/momento/*.test.ts) in one process, as test/unit.test.ts
 * and test/client.test.ts do: each starts its own servers and clients and closes them when its
 * tests end, and none sets the environment or a global, while a process per file cost about 1.3 s
 * of CPU each to start. Left out, and run as files of their own (package.json's tap `include`):
 * the tests that measure this process's memory (process.memoryUsage), which other files' garbage
 * in a shared process could blur. `npx tap test/momento/<file>` still runs one alone. */
import t from 'tap';
import { importTestFiles } from './helpers/test-folder.js';

/** Run in a process of their own: they bound the growth of the process's arrayBuffers. */
const OWN_PROCESS = ['batch-stalled-client.test.ts', 'streams-per-connection.test.ts'];

t.setTimeout(360_000);
const files = await importTestFiles(new URL('momento/', import.meta.url), OWN_PROCESS);
t.ok(files > 0, `${files} Momento test files`);
