/** TidingsError -> gRPC status, the mapping the Momento SDKs invert (their MomentoErrorCode table),
 * plus Momento's `err` trailer carrying the limit cause (the SDKs refine LIMIT_EXCEEDED_ERROR by it). */
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ErrorCode } from '../../protocol/index.js';
import { TidingsError, toWireError } from '../../core/errors.js';

const STATUS_OF: Record<ErrorCode, status> = {
  [ErrorCode.INVALID_ARGUMENT_ERROR]: status.INVALID_ARGUMENT,
  // The SDKs report OUT_OF_RANGE (and UNIMPLEMENTED) as BAD_REQUEST_ERROR.
  [ErrorCode.BAD_REQUEST_ERROR]: status.OUT_OF_RANGE,
  [ErrorCode.NOT_FOUND_ERROR]: status.NOT_FOUND,
  [ErrorCode.ALREADY_EXISTS_ERROR]: status.ALREADY_EXISTS,
  [ErrorCode.PERMISSION_ERROR]: status.PERMISSION_DENIED,
  [ErrorCode.AUTHENTICATION_ERROR]: status.UNAUTHENTICATED,
  [ErrorCode.LIMIT_EXCEEDED_ERROR]: status.RESOURCE_EXHAUSTED,
  [ErrorCode.FAILED_PRECONDITION_ERROR]: status.FAILED_PRECONDITION,
  [ErrorCode.TIMEOUT_ERROR]: status.DEADLINE_EXCEEDED,
  [ErrorCode.CANCELLED_ERROR]: status.CANCELLED,
  [ErrorCode.SERVER_UNAVAILABLE]: status.UNAVAILABLE,
  [ErrorCode.INTERNAL_SERVER_ERROR]: status.INTERNAL,
  [ErrorCode.CONNECTION_ERROR]: status.UNAVAILABLE,
};

export function grpcStatusOf(code: ErrorCode): status {
  return STATUS_OF[code] ?? status.UNKNOWN;
}

/** Words the SDKs look for in `details`. @gomomento/sdk 1.118.1 picks its limit message before it
 * stores the `err` trailer cause, so in practice it classifies by these words; we send both. */
const LIMIT_WORDS: Partial<Record<string, string>> = {
  topic_subscriptions_limit_exceeded: 'too many subscribers',
  operations_rate_limit_exceeded: 'operations rate limit exceeded',
  throughput_rate_limit_exceeded: 'throughput rate limit exceeded',
  request_size_limit_exceeded: 'request limit exceeded',
  item_size_limit_exceeded: 'item size limit exceeded',
  element_size_limit_exceeded: 'element size limit exceeded',
};

/** A request shape Tidings does not serve (a variant of an answered method): UNIMPLEMENTED, which
 * the SDKs report as BAD_REQUEST_ERROR. Not a TidingsError: the WebSocket protocol has no such code. */
export class UnimplementedError extends Error {}

/** The status a thrown value ends a call with. Untyped errors become a bare INTERNAL (never echoed). */
export function toStatus(err: unknown): StatusObject & Partial<ServiceError> {
  if (err instanceof UnimplementedError) return { code: status.UNIMPLEMENTED, details: err.message, metadata: new Metadata(), message: err.message, name: 'UnimplementedError' };
  const wire = toWireError(err);
  const metadata = new Metadata();
  if (wire.cause !== undefined) metadata.set('err', wire.cause);
  const words = wire.cause !== undefined ? LIMIT_WORDS[wire.cause] : undefined;
  const details = words && !wire.message.toLowerCase().includes(words) ? `${words}: ${wire.message}` : wire.message;
  return { code: grpcStatusOf(wire.code), details, metadata, message: details, name: 'TidingsError' };
}

export function statusError(code: ErrorCode, message: string): StatusObject & Partial<ServiceError> {
  return toStatus(new TidingsError(code, message));
}
