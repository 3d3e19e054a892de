/** Runs a reload each time a subscriber connection comes back, once `channel` is subscribed again
 * on the new connection (redis-mirror.ts, revocations.ts).
 *
 * ioredis re-sends SUBSCRIBE for every channel as the new connection gets ready, then emits
 * 'ready' on the next tick; nothing tells when Redis took it. A reload started at 'ready' runs on
 * the command connection and may reach Redis first: a change published between the two is neither
 * in the loaded copy nor heard. So we send SUBSCRIBE once more (idempotent): Redis answers one
 * connection's commands in order, so its answer means ioredis's own one was taken too, and every
 * change published from then on is heard; the reload starts then. If the link drops again first,
 * the next 'ready' tries again. */
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.js';

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
