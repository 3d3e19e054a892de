/** What a request handler is. Feature modules export a table of them (handlers/*.ts). */
import type { GenericRequest } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import type { TidingsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { TokenAuthority } from '../auth/tokens.js';
import type { Engine } from './engine.js';
import type { Session } from './session.js';

export interface BrokerDeps {
  config: Readonly<TidingsConfig>;
  engine: Engine;
  auth: TokenAuthority;
  clock: Clock;
  log: Logger;
}

export interface RequestContext {
  session: Session;
  frame: GenericRequest;
  /** Sends the ok reply immediately; the handler must then return REPLIED. Used where frames must
   * follow the reply in order (a subscribe's replay). */
  replyNow(result: unknown): void;
}

export const REPLIED = Symbol('replied');

/** Returns the reply payload `r` (or REPLIED), or throws a TidingsError. */
export type Handler = (ctx: RequestContext) => unknown;
export type HandlerTable = Record<string, Handler>;

/** Hooks handlers use to change connection-level state owned by the broker. */
export interface SessionControl {
  authenticate(session: Session, token: unknown): Promise<void>;
  subscriptionEnded(session: Session, key: string): void;
}

/** Applies `f` to a value that may still be a promise, staying synchronous when it is not: the
 * broker sends a synchronous result inside the uWS message callback, where uWS coalesces writes. */
export function map<T, R>(value: T | Promise<T>, f: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}
