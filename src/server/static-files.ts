/** Serves a few known files from the package (demo page, SDK bundle). Paths are resolved from the
 * package root, which is two levels above this module both in src/server and in dist/server. */
import { readFile } from 'node:fs/promises';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';

export const PACKAGE_ROOT = new URL('../../', import.meta.url);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** Mounts `handler` for GET and HEAD on `pattern`; `head` says which. A HEAD answers as GET would,
 * without the body (RFC 9110): uWS writes whatever body it is given, and on a kept-alive
 * connection those bytes would be read as the start of the next response. */
export function getAndHead(app: TemplatedApp, pattern: string, handler: (res: HttpResponse, req: HttpRequest, head: boolean) => void): void {
  app.get(pattern, (res, req) => handler(res, req, false));
  app.head(pattern, (res, req) => handler(res, req, true));
}

/** Ends a HEAD answer: GET's length, no body. (This uWS build's endWithoutBody(length) waits for
 * that many bytes and never ends the response, hence the header by hand.) */
export function endHead(res: HttpResponse, length: number): void {
  res.writeHeader('content-length', String(length)).endWithoutBody();
}

/** Ends `res` with a status and a short text body (none for a HEAD, only its length). */
export function endText(res: HttpResponse, status: string, text: string, head = false): void {
  res.writeStatus(status).writeHeader('content-type', 'text/plain; charset=utf-8');
  if (head) endHead(res, Buffer.byteLength(text));
  else res.end(text);
}

/** Streams one file (a path from the package root, or a file URL) to `res` (abort-safe, corked)
 * with any extra `headers`; 503 with `missingMessage` when it is absent. `head`: the same answer
 * without its body. */
export function serveFile(res: HttpResponse, file: string | URL, missingMessage: string, headers: Record<string, string> = {}, head = false): void {
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
          if (head) endHead(res, body.length);
          else res.end(body);
        });
      }
    },
    () => {
      if (!aborted) res.cork(() => endText(res, '503 Service Unavailable', missingMessage, head));
    },
  );
}
