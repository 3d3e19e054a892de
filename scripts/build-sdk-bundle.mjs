// Bundles the client SDK (with msgpackr) into one ES module the broker serves at /sdk/tidings.js,
// so a page can `import { connect } from '/sdk/tidings.js'` with no build step.
// Usage: node scripts/build-sdk-bundle.mjs [outfile]   (default dist/client/tidings.js)
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = resolve(process.argv[2] ?? resolve(root, 'dist/client/tidings.js'));

await build({
  entryPoints: [resolve(root, 'src/client/index.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  // Class names survive minification: error messages and `name` stay readable.
  keepNames: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
