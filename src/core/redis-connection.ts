/** One Redis connection with every wait bounded (docs/operations.md, "Redis down or slow").
 *
 * ioredis's own offline queue is off: a command it queued could time out for the caller and still
 * be sent after a reconnect, so a client told "failed, retry" would see its write applied twice.
 * Instead this class holds at most `maxQueuedCommands` commands while Redis is away, each for at
 * most `queueTimeoutMs`; one that times out is dropped from the queue and never sent. Commands in
 * flight when the connection drops fail at once (maxRetriesPerRequest 0) and are never resent. */
import { Redis } from 'ioredis';
import { ErrorCode } from '../protocol/index.js';
import type { RedisConfig } from './config.js';
import type { Logger } from './logger.js';
import { TidingsError } from './errors.js';

interface Held {
  run(): void;
  fail(err: TidingsError): void;
  timer: NodeJS.Timeout;
}

export class RedisConnection {
  readonly client: Redis;
  /** Commands waiting for the connection, oldest first (a Set keeps insertion order). */
  private readonly held = new Set<Held>();
  private closed = false;
  private wasReady = false;

  constructor(private readonly config: RedisConfig, private readonly log: Logger) {
    this.client = new Redis(config.url, {
      lazyConnect: true,
      // Commands issued in one tick (publishes arriving together) leave in one write, and while
      // one such batch awaits its replies the next ones gather (one batch in flight): that keeps
      // publishes batched into Redis and PUBLISHes batched out of it to every node. Corking the
      // socket per tick without auto-pipelining was measured and is worse (docs/benchmarks-redis.md).
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: config.commandTimeoutMs,
      connectTimeout: config.connectTimeoutMs,
      retryStrategy: (attempt) => Math.min(config.reconnectMaxMs, config.reconnectMinMs * 2 ** Math.min(attempt - 1, 16)),
    });
    this.client.on('ready', () => {
      if (this.wasReady) log.info({ redis: this.where() }, 'redis connection back');
      this.wasReady = true;
      this.flush();
    });
    this.client.on('close', () => {
      if (this.wasReady && !this.closed) log.warn({ redis: this.where() }, 'redis connection lost; reconnecting');
    });
    // Every failed reconnect attempt emits an error; the lost/back lines above say what matters.
    this.client.on('error', (err: Error) => log.debug({ err: err.message, redis: this.where() }, 'redis connection error'));
  }

  /** Connects once; rejects (naming the host, never the password) when Redis has not answered
   * within connectTimeoutMs. Later drops reconnect by themselves. */
  async connect(): Promise<void> {
    const timeout = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`Redis at ${this.where()} did not answer within ${this.config.connectTimeoutMs} ms (redis.connectTimeoutMs)`)), this.config.connectTimeoutMs).unref();
    });
    const ready = new Promise<void>((resolve) => {
      if (this.client.status === 'ready') resolve();
      else this.client.once('ready', () => resolve());
    });
    this.client.connect().catch(() => { /* retried by the retry strategy; the timeout reports */ });
    try {
      await Promise.race([ready, timeout]);
    } catch (err) {
      this.client.disconnect();
      throw err;
    }
  }

  /** Runs `command` now when connected, else holds it (bounded) until the connection is back.
   * Redis and ioredis failures come back as TidingsErrors with stable codes. */
  run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    if (this.client.status === 'ready' && this.held.size === 0) return command(this.client).catch(rethrowTyped);
    if (this.closed) return Promise.reject(unavailable('the server is shutting down'));
    if (this.held.size >= this.config.maxQueuedCommands) {
      return Promise.reject(unavailable(`Redis is unreachable and ${this.held.size} commands already wait for it (redis.maxQueuedCommands)`));
    }
    return new Promise<T>((resolve, reject) => {
      const held: Held = {
        run: () => { command(this.client).catch(rethrowTyped).then(resolve, reject); },
        fail: reject,
        timer: setTimeout(() => {
          this.held.delete(held);
          reject(unavailable(`Redis was unreachable for ${this.config.queueTimeoutMs} ms (redis.queueTimeoutMs); the command was not sent`));
        }, this.config.queueTimeoutMs),
      };
      this.held.add(held);
      // The connection may have come back between the status check and now.
      if (this.client.status === 'ready') this.flush();
    });
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const held of this.held) {
      clearTimeout(held.timer);
      held.fail(unavailable('the server is shutting down'));
    }
    this.held.clear();
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  /** Sends every held command, in arrival order, within this tick (so later commands, which go
   * straight out once `held` is empty, cannot overtake them). */
  private flush(): void {
    for (const held of this.held) {
      clearTimeout(held.timer);
      held.run();
    }
    this.held.clear();
  }

  private where(): string {
    try {
      const url = new URL(this.config.url);
      return `${url.hostname}:${url.port || 6379}`;
    } catch {
      return '(unparsable url)';
    }
  }
}

function unavailable(message: string): TidingsError {
  return new TidingsError(ErrorCode.SERVER_UNAVAILABLE, message);
}

/** ioredis and Redis failures as typed errors. Both retryable codes say whether the command may
 * have been applied: SERVER_UNAVAILABLE when it was never sent or the connection dropped under it,
 * TIMEOUT_ERROR when Redis may have applied it but its answer did not come back in time. */
export function rethrowTyped(err: unknown): never {
  if (err instanceof TidingsError) throw err;
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'Command timed out') {
    throw new TidingsError(ErrorCode.TIMEOUT_ERROR, 'Redis did not answer in time (redis.commandTimeoutMs); the write may have been applied');
  }
  if (/^(OOM|LOADING|MASTERDOWN|READONLY|BUSY|TRYAGAIN|CLUSTERDOWN)\b/.test(message)) {
    throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, `Redis refused the command: ${message.split('.')[0]}`);
  }
  if (err instanceof Error && err.name === 'ReplyError') throw err; // a bug of ours (bad script): INTERNAL, logged
  throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'the connection to Redis was lost; the command may or may not have been applied');
}
