/** Field checks for request frames; each failure is a typed INVALID_ARGUMENT_ERROR naming the field. */
import { LimitCause, nameProblem, utf8Length, type Position, type Value } from '../protocol/index.js';
import { invalidArgument, limitExceeded } from '../core/errors.js';

type Frame = Record<string, unknown>;

export function nameField(frame: Frame, field: string, kind: 'cache' | 'topic' | 'key' | 'group' | 'topic pattern'): string {
  const value = frame[field];
  const problem = nameProblem(kind, value);
  if (problem) throw invalidArgument(`${field}: ${problem}`);
  return value as string;
}

export function valueField(frame: Frame, field: string, maxBytes: number, cause: LimitCause = LimitCause.VALUE_SIZE): Value {
  const value = frame[field];
  if (typeof value === 'string') {
    if (value.length > maxBytes / 3 && utf8Length(value) > maxBytes) throw limitExceeded(cause, `${field} is larger than ${maxBytes} bytes`);
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.byteLength > maxBytes) throw limitExceeded(cause, `${field} is larger than ${maxBytes} bytes`);
    return value;
  }
  throw invalidArgument(`${field} must be a string (text) or bytes (binary)`);
}

export function optionalInt(frame: Frame, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

export function optionalPosition(frame: Frame, field: string): Position | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') throw invalidArgument(`${field} must be { page, seq }`);
  const page = optionalInt(value as Frame, 'page', 0);
  const seq = optionalInt(value as Frame, 'seq', 0);
  if (page === undefined || seq === undefined) throw invalidArgument(`${field} must be { page, seq }`);
  return { page, seq };
}

/** An optional text field (null means absent, as for every optional field). */
export function optionalString(frame: Frame, field: string): string | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidArgument(`${field} must be a string`);
  return value;
}

/** The fields of `hello` other than the token (which the authority checks: a missing or non-string
 * token is AUTHENTICATION_ERROR, docs/protocol.md). */
export function helloFields(frame: Frame): { versions: number[]; client: string | undefined; batch: boolean } {
  const versions = frame['versions'];
  if (!Array.isArray(versions) || !versions.every((v) => Number.isInteger(v))) {
    throw invalidArgument('versions must be an array of integers (the protocol versions the client speaks)');
  }
  return { versions, client: optionalString(frame, 'client'), batch: optionalBool(frame, 'batch') === true };
}

export function optionalBool(frame: Frame, field: string): boolean | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidArgument(`${field} must be true or false`);
  return value;
}
