// Bundles the client SDK (with msgpackr) into one ES module the broker serves at /sdk/tidings.js,
// so a page can `import { connect } from '/sdk/tidings.js'` with no build step.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/client/index.ts', import.meta.url).pathname],
  outfile: new URL('../dist/client/tidings.js', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
