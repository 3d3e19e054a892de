/** pino factory. Token, key and secret fields are redacted wherever they appear, so a credential
 * can never reach a log line even if a caller logs a whole request or config object. */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'token', '*.token', 'apiKey', '*.apiKey', 'signingKey', '*.signingKey', '*.*.signingKey',
  'authorization', '*.authorization', 'headers.authorization', 'secret', '*.secret', 'authToken', '*.authToken',
];

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  const config: LoggerOptions = {
    level: options.level,
    base: { service: 'tidings' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
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
  if (!stream || stream._writing !== true || typeof stream.once !== 'function') return done();
  let called = false;
  const once = () => { if (!called) { called = true; clearTimeout(timer); done(); } };
  const timer = setTimeout(once, maxWaitMs);
  stream.once('drain', once);
  // After pino's own listener, which turns the stream's writes and flushes into no-ops on EPIPE.
  stream.once('error', () => setImmediate(once));
}
