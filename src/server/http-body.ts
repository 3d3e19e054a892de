/** Reads a bounded HTTP request body from a uWS response (abort-safe). */
import type { HttpResponse } from 'uWebSockets.js';

export class BodyTooLargeError extends Error {}

export function readBody(res: HttpResponse, maxBytes: number, aborted: () => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed || aborted()) return;
      size += chunk.byteLength;
      if (size > maxBytes) {
        failed = true;
        reject(new BodyTooLargeError(`request body is larger than ${maxBytes} bytes`));
        return;
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
}
