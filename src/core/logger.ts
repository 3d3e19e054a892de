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
