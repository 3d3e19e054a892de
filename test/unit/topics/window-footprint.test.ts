/** topics.windowTotalBytes bounds memory, not just payload: windows keep frames that own their
 * bytes. A child process with --expose-gc publishes large items interleaved with small items to
 * many quiet topics and reports the ArrayBuffer memory left held. With views into the encoder's
 * shared output buffer, each quiet item pinned a whole buffer: 118 MB held for 147 KB of windows. */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TinyItemsFootprint, WindowFootprint } from '../../helpers/window-footprint.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../helpers/window-footprint.ts', import.meta.url));

t.test('windows after large publishes hold about what they account, within windowTotalBytes', async (t) => {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', script, '1500', String(64 * 1024)], { timeout: 90_000 });
  const r = JSON.parse(stdout.trim()) as WindowFootprint;
  t.equal(r.topics, 1501, 'every quiet topic still holds its item');
  t.ok(r.published >= 20 * r.windowTotalBytes, `published ${r.published} bytes, 20x the window budget`);
  t.ok(r.windowBytes > 0 && r.windowBytes <= r.windowTotalBytes, `accounted ${r.windowBytes} bytes`);
  // What remains beyond the frames is the encoder's one live output buffer (under 1 MiB).
  t.ok(r.retainedArrayBuffers <= r.windowBytes + 1024 * 1024, `retained ${r.retainedArrayBuffers} bytes ≤ accounted + 1 MiB`);
  t.ok(r.retainedArrayBuffers <= r.windowTotalBytes, `retained ${r.retainedArrayBuffers} bytes ≤ windowTotalBytes ${r.windowTotalBytes}`);
});

t.test('windows full of tiny items hold about windowTotalBytes of memory, per-item overhead counted', async (t) => {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', script, 'tiny', String(16 * 1024 * 1024)], { timeout: 120_000 });
  const r = JSON.parse(stdout.trim()) as TinyItemsFootprint;
  t.ok(r.accounted <= r.windowTotalBytes, `accounted ${r.accounted} bytes for ${r.items} items`);
  // The 10,000 Topic objects and the budget queue's slack are not counted: allow 1.5x.
  t.ok(r.retained <= 1.5 * r.windowTotalBytes, `retained ${r.retained} bytes = ${(r.retained / r.windowTotalBytes).toFixed(2)}x windowTotalBytes`);
});
