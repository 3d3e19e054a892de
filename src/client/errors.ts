/** The SDK's error: one of the shared codes (src/protocol/codes.ts) plus a human message. */
import { ErrorCode, type WireError } from '../protocol/index.js';

export class TidingsClientError extends Error {
  /** `idempotencyKey`: the key a write that carries one was sent with (docs/client.md, "Retrying a
   * write that may have been applied"); passed to the same call again, the server applies it at most once. */
  constructor(readonly code: ErrorCode, message: string, readonly limitCause?: string, readonly idempotencyKey?: string) {
    super(message);
    this.name = 'TidingsClientError';
  }

  static fromWire(e: WireError): TidingsClientError {
    return new TidingsClientError(e.code, e.message, e.cause);
  }

  /** @internal This error, for a write sent with `key`: a copy, as one error may fail several requests. */
  withIdempotencyKey(key: string): TidingsClientError {
    return new TidingsClientError(this.code, this.message, this.limitCause, key);
  }

  /** Momento-style accessor. */
  errorCode(): ErrorCode { return this.code; }
  /** Momento's SdkError accessor: the message with its code. */
  wrappedErrorMessage(): string { return `${this.code}: ${this.message}`; }
}

/** Causes the SDK itself gives (the server never sends them; its LIMIT_EXCEEDED_ERROR causes are
 * LimitCause), in `limitCause` like the server's, so an app tells them apart without the message. */
export const ClientCause = {
  /** CONNECTION_ERROR: not connected and the offline queue refused the request (maxQueuedRequests
   * or maxQueuedBytes): never sent, so never applied; it can be made again once connected. */
  QUEUE_FULL: 'client_queue_full',
} as const;
export type ClientCause = (typeof ClientCause)[keyof typeof ClientCause];

export const connectionError = (message: string) => new TidingsClientError(ErrorCode.CONNECTION_ERROR, message);
/** Still CONNECTION_ERROR (the cause is that the link is down; retrying once it is up works), with
 * a cause that says the queue refused it rather than a link that dropped under it. */
export const queueFullError = (message: string) => new TidingsClientError(ErrorCode.CONNECTION_ERROR, message, ClientCause.QUEUE_FULL);
export const timeoutError = (message: string) => new TidingsClientError(ErrorCode.TIMEOUT_ERROR, message);
export const cancelledError = (message: string) => new TidingsClientError(ErrorCode.CANCELLED_ERROR, message);

export function asClientError(err: unknown): TidingsClientError {
  if (err instanceof TidingsClientError) return err;
  return new TidingsClientError(ErrorCode.CONNECTION_ERROR, err instanceof Error ? err.message : String(err));
}

/** Runs an application callback: if it throws, the error is re-thrown on its own (an uncaught
 * error, as the app's own would be) instead of unwinding the SDK mid-delivery: other subscribers,
 * the rest of a batched message and the SDK's bookkeeping carry on. */
export function guard(fn: () => void): void {
  try { fn(); } catch (err) { queueMicrotask(() => { throw err; }); }
}
