/** Runs a reload each time a subscriber connection comes back, once `channel` is subscribed again
 * on the new connection (redis-mirror.ts, revocations.ts).
 *
 * The subscribers' automatic re-subscription is off (redis-engine.ts: ioredis left its rejection
 * unhandled), so each user subscribes again on 'ready' itself. A reload started at 'ready' runs on
 * the command connection and may reach Redis before the SUBSCRIBE: a change published between the
 * two would be neither in the loaded copy nor heard. So the reload starts once Redis answered the
 * SUBSCRIBE: every change published from then on is heard. If the link drops again first, the next
 * 'ready' tries again. A subscribe or reload that fails while the link stays up (the command
 * connection still down, a timeout, an error answer) is tried again at the connection's reconnect
 * backoff (redis.reconnectMinMs doubling up to redis.reconnectMaxMs) until it succeeds: the link
 * may never drop again, and the copy would stay behind until it did. */
import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** Registers the 'ready' listener; the first 'ready' (or a connection already ready) is the start's,
 * which subscribes and loads by itself. `what` names the copy in the log. */
export function reloadAfterResubscribe(subscriber: Redis, channel: string, reload: () => Promise<void>, log: Logger, what: string): void {
  let wasReady = subscriber.status === 'ready';
  /** Counts the reconnects: the retries of an older one stop once a newer one starts over. */
  let round = 0;
  subscriber.on('ready', () => {
    if (!wasReady) { wasReady = true; return; }
    const mine = ++round;
    const attempt = (n: number): void => {
      subscriber.subscribe(channel).then(reload).catch((err: unknown) => {
        const delay = retryWhileReady(subscriber, n, () => mine === round, () => attempt(n + 1));
        // The first failure is worth a warning; the retries that follow, at most one per backoff, are not.
        if (delay !== undefined) log[n === 1 ? 'warn' : 'debug']({ err: (err as Error).message, retryInMs: delay }, `reloading ${what} failed; trying again`);
      });
    };
    attempt(1);
  });
}

/** After attempt `n` failed while the subscriber link stays up: runs `again` at the connection's
 * reconnect backoff, unless `current()` no longer holds by then (a newer reconnect started over,
 * the user closed) or the link dropped meanwhile (its next 'ready' starts over). The delay, or
 * undefined when nothing was scheduled. */
export function retryWhileReady(subscriber: Redis, n: number, current: () => boolean, again: () => void): number | undefined {
  if (!current() || subscriber.status !== 'ready') return undefined;
  const delay = retryDelay(subscriber, n);
  setTimeout(() => { if (current() && subscriber.status === 'ready') again(); }, delay).unref();
  return delay;
}

/** The connection's own reconnect delay for attempt `n` (its retryStrategy, redis-connection.ts). */
export function retryDelay(subscriber: Redis, n: number): number {
  const delay = subscriber.options.retryStrategy?.(n);
  return typeof delay === 'number' && delay > 0 ? delay : 1000;
}
