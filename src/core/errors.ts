/** The server's one error type. Handlers throw it; the edge turns it into a wire `err` frame.
 * Anything else thrown is logged and answered as INTERNAL_SERVER_ERROR, never echoed. */
import { ErrorCode, type LimitCause, type UnavailableCause, type WireError } from '../protocol/index.js';

export class TidingsError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly cause_?: LimitCause | UnavailableCause,
  ) {
    super(message);
    this.name = 'TidingsError';
  }

  toWire(): WireError {
    return this.cause_ === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, cause: this.cause_ };
  }
}

export const invalidArgument = (message: string) => new TidingsError(ErrorCode.INVALID_ARGUMENT_ERROR, message);
export const badRequest = (message: string) => new TidingsError(ErrorCode.BAD_REQUEST_ERROR, message);
export const permissionDenied = (message: string) => new TidingsError(ErrorCode.PERMISSION_ERROR, message);
export const authenticationFailed = (message: string) => new TidingsError(ErrorCode.AUTHENTICATION_ERROR, message);
export const notFound = (message: string) => new TidingsError(ErrorCode.NOT_FOUND_ERROR, message);
export const limitExceeded = (cause: LimitCause, message: string) => new TidingsError(ErrorCode.LIMIT_EXCEEDED_ERROR, message, cause);
export const failedPrecondition = (message: string) => new TidingsError(ErrorCode.FAILED_PRECONDITION_ERROR, message);

const INTERNAL: WireError = { code: ErrorCode.INTERNAL_SERVER_ERROR, message: 'internal server error' };

/** Wire form of any thrown value; untyped errors become a generic INTERNAL_SERVER_ERROR. */
export function toWireError(err: unknown): WireError {
  return err instanceof TidingsError ? err.toWire() : INTERNAL;
}
