/** Runs a reload each time a subscriber connection comes back, once `channel` is subscribed again
 * on the new connection (redis-mirror.ts, revocations.ts).
 *
 * The subscribers' automatic re-subscription is off (redis-engine.ts: ioredis left its rejection
 * unhandled), so each user subscribes again on 'ready' itself. A reload started at 'ready' runs on
 * the command connection and may reach Redis before the SUBSCRIBE: a change published between the
 * two would be neither in the loaded copy nor heard. So the reload starts once Redis answered the
 * SUBSCRIBE: every change published from then on is heard. If the link drops again first, the next
 * 'ready' tries again. */
import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** Registers the 'ready' listener; the first 'ready' (or a connection already ready) is the start's,
 * which subscribes and loads by itself. `what` names the copy in the log. */
export function reloadAfterResubscribe(subscriber: Redis, channel: string, reload: () => Promise<void>, log: Logger, what: string): void {
  let wasReady = subscriber.status === 'ready';
  subscriber.on('ready', () => {
    if (!wasReady) { wasReady = true; return; }
    subscriber.subscribe(channel).then(reload).catch((err: unknown) =>
      log.warn({ err: (err as Error).message }, `reloading ${what} failed; retried on the next reconnect`));
  });
}
