// Builds the chat moderator (demo/moderator.ts) to dist/demo/moderator.js, which `tidings serve`
// loads in dev mode when it runs from dist/ (src/cli/dev-moderator.ts). The SDK source is bundled
// in; npm packages (ws, msgpackr) stay imports.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  entryPoints: [resolve(root, 'demo/moderator.ts')],
  outfile: resolve(root, 'dist/demo/moderator.js'),
  bundle: true,
  packages: 'external',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});
