/** A node's full copy of a small data set stored in Redis (follows, push subscriptions, admin-added
 * webhook endpoints; docs/operations.md "Follows, push subscriptions and webhooks are shared"). The
 * way revocations are shared (revocations.ts): every change is made by a script that also PUBLISHes
 * it; each node applies what it hears to its copy, and loads the whole set at start and again each
 * time its subscriber link comes back (changes made while it was away were not heard).
 *
 * A reload replaces the copy. Changes heard while the load is in flight are kept and applied on top
 * of the loaded set, in order: each is idempotent (add, remove, drop everything of a tokenId), and
 * the ones heard form a suffix of the changes, so replaying them over a snapshot taken somewhere in
 * that suffix ends in the state Redis has. At most MAX_HEARD_DURING_LOAD are kept; past that the load is
 * done once more. */
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.js';
import type { RedisConnection, ScriptArg } from '../../core/redis-connection.js';

/** Changes kept while a load is in flight (a load takes one round trip; this is plenty). */
const MAX_HEARD_DURING_LOAD = 10_000;

export interface MirrorTarget {
  /** Replaces the copy with what a full load answered. */
  replace(reply: unknown[]): void;
  /** Applies one announced change. */
  apply(message: string): void;
}

export class RedisMirror {
  private readonly channelBytes: Buffer;
  /** Changes heard during a load; undefined when none runs. */
  private heard: string[] | undefined;
  private overflowed = false;
  private reloading: Promise<void> | undefined;
  private again = false;
  private wasReady = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly subscriber: Redis,
    readonly channel: string,
    private readonly loadScript: string,
    private readonly loadArgs: () => ScriptArg[],
    private readonly target: MirrorTarget,
    private readonly log: Logger,
    private readonly what: string,
  ) {
    this.channelBytes = Buffer.from(channel);
  }

  /** Subscribes, then loads (so a change made in between arrives one way or the other). */
  async start(): Promise<void> {
    this.subscriber.on('messageBuffer', (from: Buffer, message: Buffer) => { if (from.equals(this.channelBytes)) this.onMessage(message.toString()); });
    this.subscriber.on('ready', () => {
      if (this.wasReady) this.reload().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, `reloading ${this.what} failed; retried on the next reconnect`));
      this.wasReady = true;
    });
    if (this.subscriber.status === 'ready') this.wasReady = true;
    await this.subscriber.subscribe(this.channel);
    await this.reload();
  }

  /** One load at a time; a reload asked for during one runs once it ends. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.again = false;
          await this.loadOnce();
        } while (this.again);
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  private async loadOnce(): Promise<void> {
    this.heard = [];
    this.overflowed = false;
    try {
      const reply = await this.connection.script<unknown[]>(this.loadScript, this.loadArgs(), false);
      this.target.replace(reply);
      for (const message of this.heard) this.target.apply(message);
      if (this.overflowed) this.again = true;
    } finally {
      this.heard = undefined;
    }
  }

  private onMessage(message: string): void {
    if (this.heard === undefined) {
      this.target.apply(message);
    } else if (this.heard.length < MAX_HEARD_DURING_LOAD) {
      this.heard.push(message);
    } else {
      // Too many to keep: the next load will have them.
      this.overflowed = true;
    }
  }
}
