/** pino factory. Token, key and secret fields are redacted wherever they appear (and a failed Redis
 * command's arguments dropped from logged errors), so a credential
 * can never reach a log line even if a caller logs a whole request or config object. */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'token', '*.token', 'apiKey', '*.apiKey', 'signingKey', '*.signingKey', '*.*.signingKey',
  'authorization', '*.authorization', 'headers.authorization', 'secret', '*.secret', 'authToken', '*.authToken',
];

/** pino's error serializer, minus the arguments of a failed Redis command. ioredis puts them on
 * its errors (`command: { name, args }`), and a script's arguments carry what it writes: a webhook
 * secret, a push subscription's keys, cache values. An unexpected Redis error (a script meeting a
 * key of another type, written there by something else) reaches the log as such an error. The command's name stays: it says which write failed. */
export function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error);
  if (typeof serialized === 'object' && serialized !== null) dropCommandArgs(serialized as Record<string, unknown>, Object.getPrototypeOf(serialized) as object, 0);
  return serialized;
}

/** Replaces `command` by its name in a serialized error and the errors serialized inside it (they
 * share its prototype); any other value is the caller's own object, never changed. */
function dropCommandArgs(error: Record<string, unknown>, proto: object, depth: number): void {
  const command = error['command'];
  if (typeof command === 'object' && command !== null && 'args' in command) error['command'] = { name: (command as { name?: unknown }).name };
  if (depth >= 8) return;
  for (const value of Object.values(error)) {
    for (const nested of Array.isArray(value) ? value : [value]) {
      if (typeof nested === 'object' && nested !== null && Object.getPrototypeOf(nested) === proto) dropCommandArgs(nested as Record<string, unknown>, proto, depth + 1);
    }
  }
}

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const config: LoggerOptions = {
    level: options.level,
    base: { service: 'tidings' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** Calls `done` once the lines logged so far have been written, or failed to be (a closed pipe),
 * or after `maxWaitMs`. For exits: pino flushes synchronously on `exit`, and that flush retries a
 * failed write forever, so exiting with a line in flight to a stdout whose reader has gone (EPIPE)
 * would never end. Once the write has failed, pino drops the stream's later writes and flushes. */
export function whenLogsWritten(logger: Logger, done: () => void, maxWaitMs = 1000): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    { _writing?: boolean; once?(event: string, listener: () => void): void } | undefined;
  // sonic-boom (pino's stdout destination) says whether a write is in flight; other streams: now.
  // `_writing` is private, but nothing public tells: logger.flush(cb) is sonic-boom's flush(cb),
  // which calls back at once when minLength is 0 (pino's default), a write in flight or not
  // (sonic-boom 4.2). Should it go, this waits for nothing, as for other streams.
  if (!stream || stream._writing !== true || typeof stream.once !== 'function') return done();
  let called = false;
  const once = () => { if (!called) { called = true; clearTimeout(timer); done(); } };
  const timer = setTimeout(once, maxWaitMs);
  stream.once('drain', once);
  // After pino's own listener, which turns the stream's writes and flushes into no-ops on EPIPE.
  stream.once('error', () => setImmediate(once));
}
