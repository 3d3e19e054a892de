/** Reads a bounded HTTP request body from a uWS response (abort-safe). */
import type { HttpResponse } from 'uWebSockets.js';

export class BodyTooLargeError extends Error {}

/** An oversized body is read on (and dropped) up to this multiple of the limit, so the client is
 * still reading when the 413 arrives; past it the reply goes out at once and the upload is cut. */
const DISCARD_FACTOR = 4;

export function readBody(res: HttpResponse, maxBytes: number, aborted: () => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    res.onData((chunk, isLast) => {
      if (settled || aborted()) return;
      size += chunk.byteLength;
      if (size > maxBytes) {
        chunks.length = 0;
        if (isLast || size > maxBytes * DISCARD_FACTOR) {
          settled = true;
          reject(new BodyTooLargeError(`request body is larger than ${maxBytes} bytes`));
        }
        return;
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) {
        settled = true;
        resolve(Buffer.concat(chunks));
      }
    });
  });
}
