/** Serves a few known files from the package (demo page, SDK bundle). Paths are resolved from the
 * package root, which is two levels above this module both in src/server and in dist/server. */
import { readFile } from 'node:fs/promises';
import type { HttpResponse } from 'uWebSockets.js';

export const PACKAGE_ROOT = new URL('../../', import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** Streams one file (a path from the package root, or a file URL) to `res` (abort-safe, corked)
 * with any extra `headers`; 503 with `missingMessage` when it is absent. */
export function serveFile(res: HttpResponse, file: string | URL, missingMessage: string, headers: Record<string, string> = {}): void {
  let aborted = false;
  res.onAborted(() => { aborted = true; });
  const url = typeof file === 'string' ? new URL(file, PACKAGE_ROOT) : file;
  const type = TYPES[url.pathname.slice(url.pathname.lastIndexOf('.'))] ?? 'application/octet-stream';
  readFile(url).then(
    (body) => {
      if (!aborted) {
        res.cork(() => {
          res.writeHeader('content-type', type).writeHeader('cache-control', 'no-cache');
          for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
          res.end(body);
        });
      }
    },
    () => {
      if (!aborted) res.cork(() => { res.writeStatus('503 Service Unavailable').writeHeader('content-type', 'text/plain').end(missingMessage); });
    },
  );
}
