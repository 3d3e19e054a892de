/** Every browser test, in one process and one Chromium. Each module below holds the tests of one
 * page (its guarantees stated above each test) and gives every page a browser context of its own;
 * they were files of their own, and each launched Chromium and loaded the server and tsx again:
 * about 4.5 s of CPU per file on CI's 2 cores. Run one module alone with
 * `node --import tsx test/browser/demo.ts`. A new page's tests go in a module imported here. */
import t from 'tap';
import './admin.js';
import './demo.js';
import './demo-join.js';
import './http-fallback.js';

// The four modules took 30-36 s each on CI; together they pass tap's per-file 120 s on a busy machine.
t.setTimeout(360_000);
