/** GET /sdk/tidings.js: the SDK bundle built by `npm run build` (scripts/build-sdk-bundle.mjs).
 * Pages of the origins in `server.corsOrigins` may load it cross-origin (`<script type=module>`
 * and `import()` need an Access-Control-Allow-Origin header for that). */
import type { TemplatedApp } from 'uWebSockets.js';
import { getAndHead, serveFile } from './static-files.js';

/** The CORS headers for a request from `origin` (the Origin header, '' when absent). */
export function corsHeaders(allowed: readonly string[], origin: string): Record<string, string> {
  if (allowed.includes('*')) return { 'access-control-allow-origin': '*' };
  // The answer depends on the Origin header: caches must key on it.
  if (origin !== '' && allowed.includes(origin)) return { 'access-control-allow-origin': origin, vary: 'Origin' };
  return allowed.length > 0 ? { vary: 'Origin' } : {};
}

export function mountSdkRoute(app: TemplatedApp, corsOrigins: readonly string[]): void {
  const missing = 'SDK bundle not built: run `npm run build`';
  getAndHead(app, '/sdk/tidings.js', (res, req, head) => serveFile(res, 'dist/client/tidings.js', missing, corsHeaders(corsOrigins, req.getHeader('origin')), head));
  getAndHead(app, '/sdk/tidings.js.map', (res, req, head) => serveFile(res, 'dist/client/tidings.js.map', missing, corsHeaders(corsOrigins, req.getHeader('origin')), head));
}
