/** GET /sdk/tidings.js: the SDK bundle built by `npm run build` (scripts/build-sdk-bundle.mjs). */
import type { TemplatedApp } from 'uWebSockets.js';
import { serveFile } from './static-files.js';

export function mountSdkRoute(app: TemplatedApp): void {
  const missing = 'SDK bundle not built: run `npm run build`';
  app.get('/sdk/tidings.js', (res) => serveFile(res, 'dist/client/tidings.js', missing));
  app.get('/sdk/tidings.js.map', (res) => serveFile(res, 'dist/client/tidings.js.map', missing));
}
