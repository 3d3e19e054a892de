/** What a request handler is. Feature modules export a table of them (handlers/*.ts), typed by the
 * protocol's one operations map: a handler for `pub` must return a PublishResult. */
import type { GenericRequest, OperationName, ResultOf } from '../protocol/index.js';
import type { Clock } from '../core/clock.js';
import type { TidingsConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Maybe } from '../core/maybe.js';
import type { TokenAuthority } from '../auth/tokens.js';
import type { Engine } from './engine.js';
import type { Session } from './session.js';
import type { IdentityLimits } from '../limits/identity-limits.js';
import type { RequestTimes } from './request-times.js';

export { map } from '../core/maybe.js';

export interface BrokerDeps {
  config: Readonly<TidingsConfig>;
  engine: Engine;
  auth: TokenAuthority;
  clock: Clock;
  log: Logger;
  /** Connections, subscriptions and group memberships per tokenId, and request rates (src/limits/). */
  limits: IdentityLimits;
  /** Times every request to its reply; absent when server.requestHistogram is off. */
  requestTimes?: RequestTimes;
}

export interface RequestContext<K extends OperationName = OperationName> {
  session: Session;
  /** The request as received: untrusted, so every field is checked (validate.ts) before use. */
  frame: GenericRequest;
  /** Sends the ok reply immediately; the handler must then return REPLIED. Used where frames must
   * follow the reply in order (a subscribe's replay, a group join's first deliveries). */
  replyNow(result: ResultOf<K>): void;
  /** Applies the write of a request that may carry an `idempotencyKey`: once per key and `target`
   * (the names it writes, cache first; a repeat is answered the first result, engine/idempotency.ts),
   * else simply. Called after the handler's checks, so a repeat is refused what the credential
   * repeating it may not do, and never answered what another target held. */
  once<T>(target: readonly string[], apply: () => Maybe<T>): Maybe<T>;
}

export const REPLIED = Symbol('replied');

/** Returns the reply payload (or REPLIED), or throws a TidingsError. */
export type Handler<K extends OperationName> = (ctx: RequestContext<K>) => Maybe<ResultOf<K> | typeof REPLIED>;
export type HandlerTable = { [K in OperationName]?: Handler<K> };
