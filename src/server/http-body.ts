/** Reads a bounded HTTP request body from a uWS response (abort-safe). */
import type { HttpResponse } from 'uWebSockets.js';
import { ErrorCode, LimitCause } from '../protocol/index.js';
import { TidingsError, invalidArgument } from '../core/errors.js';

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

/** A bounded JSON object body, with typed errors (size limit, not JSON, not an object). */
export async function readJsonObject(res: HttpResponse, maxBytes: number, aborted: () => boolean): Promise<Record<string, unknown>> {
  let body: Buffer;
  try {
    body = await readBody(res, maxBytes, aborted);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new TidingsError(ErrorCode.LIMIT_EXCEEDED_ERROR, err.message, LimitCause.REQUEST_SIZE);
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalidArgument('body must be JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidArgument('body must be a JSON object');
  return parsed as Record<string, unknown>;
}
