/** Reads a bounded HTTP request body from a uWS response (abort-safe), within the server-wide
 * budget of body bytes in flight (body-budget.ts). */
import type { HttpResponse } from 'uWebSockets.js';
import { ErrorCode, LimitCause } from '../protocol/index.js';
import { TidingsError } from '../core/errors.js';
import type { RequestShapeLimits } from '../core/request-shape.js';
import type { BodyLease } from './body-budget.js';
import { parseJsonObject } from './json-body.js';

export class BodyTooLargeError extends Error {}
/** The server-wide budget of body bytes in flight has no room for this body. */
export class BodyBudgetError extends Error {}

/** An oversized body is read on (and dropped) up to this multiple of the limit, so the client is
 * still reading when the 413 arrives; past it the reply goes out at once and the upload is cut. */
const DISCARD_FACTOR = 4;

const noRoom = (lease: BodyLease) => new BodyBudgetError(lease.refusal === 'address'
  ? 'this client address has as many request bodies in flight as it may (server.maxInFlightBodyBytesPerIp); retry shortly'
  : 'the server is reading as many request bodies as it may hold (server.maxInFlightBodyBytes); retry shortly');

/** Reads the body into memory `lease` accounts for: its declared length up front (at most
 * maxBytes: past it nothing is kept), else its bytes as they arrive. The caller releases the lease
 * when the request ends; once released, arriving bytes are dropped. */
export function readBody(res: HttpResponse, maxBytes: number, aborted: () => boolean, lease: BodyLease): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Refused before any byte is read; uWS discards a body no reader was registered for.
    if (lease.declaredBytes !== undefined && !lease.hold(Math.min(lease.declaredBytes, maxBytes))) {
      reject(noRoom(lease));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    res.onData((chunk, isLast) => {
      if (settled || aborted() || lease.released) return;
      size += chunk.byteLength;
      if (size > maxBytes) {
        chunks.length = 0;
        if (isLast || size > maxBytes * DISCARD_FACTOR) {
          settled = true;
          reject(new BodyTooLargeError(`request body is larger than ${maxBytes} bytes`));
        }
        return;
      }
      if (!lease.hold(size)) {
        settled = true;
        chunks.length = 0;
        reject(noRoom(lease));
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

/** The TidingsError an HTTP route answers for a body readBody refused (413, 503). */
export function typedBodyError(err: unknown): unknown {
  if (err instanceof BodyTooLargeError) return new TidingsError(ErrorCode.LIMIT_EXCEEDED_ERROR, err.message, LimitCause.REQUEST_SIZE);
  if (err instanceof BodyBudgetError) return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, err.message);
  return err;
}

/** readBody with its refusals as typed errors. */
export function readTypedBody(res: HttpResponse, maxBytes: number, aborted: () => boolean, lease: BodyLease): Promise<Buffer> {
  return readBody(res, maxBytes, aborted, lease).catch((err: unknown) => { throw typedBodyError(err); });
}

/** A bounded JSON object body, with typed errors (size limit, budget, not UTF-8, past the shape
 * limits, not JSON, not an object: json-body.ts). */
export async function readJsonObject(res: HttpResponse, maxBytes: number, aborted: () => boolean, lease: BodyLease, shape: RequestShapeLimits): Promise<Record<string, unknown>> {
  return parseJsonObject(await readTypedBody(res, maxBytes, aborted, lease), shape).value;
}
