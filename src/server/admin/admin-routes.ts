/** The dashboard's page and its static files: admin/ in the package, and uPlot (the charts) from
 * its npm package. No credential ever travels here: the page asks for an API key and sends it in
 * the WebSocket hello only. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { TemplatedApp } from 'uWebSockets.js';
import { endText, getAndHead, serveFile } from '../static-files.js';

const require = createRequire(import.meta.url);
const UPLOT = {
  'uplot.js': pathToFileURL(require.resolve('uplot/dist/uPlot.esm.js')),
  'uplot.css': pathToFileURL(require.resolve('uplot/dist/uPlot.min.css')),
} as const;
const PAGE_FILES: ReadonlySet<string> = new Set(['app.js', 'format.js', 'points.js', 'style.css']);
/** A page that holds an admin key in memory: never framed, never leaking its URL onwards, and
 * running no script but its own files (an injected one could read the key): scripts and styles
 * from this origin only, no inline ones; connections to this origin (the WebSocket: ws:/wss:, as
 * `'self'` does not cover them in every browser); images only the inline icon. */
const HEADERS = {
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

export function mountAdminPage(app: TemplatedApp): void {
  getAndHead(app, '/admin', (res, _req, head) => serveFile(res, 'admin/index.html', 'admin page missing', HEADERS, head));
  getAndHead(app, '/admin/:file', (res, req, head) => {
    const file = req.getParameter(0) ?? '';
    if (Object.hasOwn(UPLOT, file)) return serveFile(res, UPLOT[file as keyof typeof UPLOT], 'uplot missing', HEADERS, head);
    if (PAGE_FILES.has(file)) return serveFile(res, `admin/${file}`, 'admin file missing', HEADERS, head);
    endText(res, '404 Not Found', 'not found', head);
  });
}
