/** A node's full copy of a data set stored in Redis (follows, push subscriptions, admin-added
 * webhook endpoints; docs/operations.md "Follows, push subscriptions and webhooks are shared"). The
 * way revocations are shared (revocations.ts): every change is made by a script that also PUBLISHes
 * it; each node applies what it hears to its copy, and loads the whole set at start and again each
 * time its subscriber link comes back (changes made while it was away were not heard).
 *
 * The load is paged: one script call per page (SSCAN/HSCAN cursor, about `pageSize` entries), so
 * Redis is never blocked for the whole set (one script over 200,000 follows held Redis, hence every
 * node's publishes, for ~200 ms, and answered one ~7 MB reply; 1,000,000 follows, the default
 * bound, about five times that). The pages are not one snapshot; the copy is still right, because:
 * - The data set is a set of entries (tokenId, member); every change decides one entry (add,
 *   remove) or every entry of one tokenId (drop); none depends on what else is there. So an entry's
 *   state is that given by the last change touching it, whatever happened to the others.
 * - Each page reads each tokenId it names in one script: the tokenId's entries as they were at that
 *   page's instant, between the first page and the last.
 * - We are subscribed before the first page runs and keep every change heard from just before it
 *   (`heard`), then replay them, in order, over the union of the pages: the heard changes are a
 *   suffix of all changes that covers everything from the first page on.
 * - An entry touched by a heard change ends as the last such change leaves it (the replay applies
 *   it last). An entry not touched since before the first page read the same on every page that
 *   named its tokenId; its tokenId was named if it had an entry all along (the index holds exactly
 *   the tokenIds that have entries, and a cursor scan returns every member present from its start
 *   to its end, perhaps twice: a union takes that). A tokenId the scan missed had no entry at some
 *   point after the first page, so each entry it has now was added by a heard change.
 * So the copy ends as Redis is once the replay is done. The copy has no bound of its own (Redis's
 * scripts keep the deployment's bounds): an add refused by a bound on the copy would be lost for
 * good, and replayed or own changes can transiently sit on top of the ones a bound counted.
 * At most MAX_HEARD_DURING_LOAD changes are kept; past that the load is done once more. Heard
 * changes also go to the copy in use at once (the load may take seconds).
 * After a reconnect the load starts only once Redis has answered a SUBSCRIBE on the subscriber's
 * new connection (core/redis-resubscribe.ts): started at 'ready', its first page (on the command
 * connection) could reach Redis before ioredis's re-sent SUBSCRIBE, and a change made between the
 * two would be neither loaded nor heard.
 *
 * A node's own change is in force on it as soon as Redis answers, before it is heard (write()).
 * The answer and the announcement come on two connections, in either order: once the change was
 * heard, changes made after it may have been heard too, and applying it again then would undo them
 * (an unfollow on another node, heard before our follow's answer, lost for good). So each message
 * carries an id, and the answer applies the change only when it was not heard yet; hearing it
 * later applies it again, in order. */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.js';
import type { RedisConnection, ScriptArg } from '../../core/redis-connection.js';
import { reloadAfterResubscribe } from '../../core/redis-resubscribe.js';

/** Changes kept while a load is in flight (a page is one round trip; a load of 1,000,000 follows
 * takes a few seconds). */
const MAX_HEARD_DURING_LOAD = 100_000;

/** What a load script answers: the cursor to go on from ('0': done) and the page's entries. */
export type LoadPage = [cursor: string, entries: unknown[]];

export interface MirrorTarget<Change> {
  /** Replaces the copy with the entries of every page of a full load, concatenated. */
  replace(reply: unknown[]): void;
  /** Applies one announced change. */
  apply(change: Change): void;
}

/** `Change`: what one announcement carries (JSON on the channel). */
export class RedisMirror<Change> {
  private readonly channelBytes: Buffer;
  /** Changes heard during a load; undefined when none runs. */
  private heard: Change[] | undefined;
  private overflowed = false;
  private reloading: Promise<void> | undefined;
  private again = false;
  /** This node's own changes: `<tag>:<n>` ids, the ones sent and neither answered nor heard. */
  private readonly tag = randomBytes(8).toString('hex');
  private sequence = 0;
  private readonly unheard = new Set<string>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly subscriber: Redis,
    readonly channel: string,
    private readonly loadScript: string,
    /** The load script's arguments; the cursor and the page size follow them. */
    private readonly loadArgs: () => ScriptArg[],
    private readonly pageSize: number,
    private readonly target: MirrorTarget<Change>,
    private readonly log: Logger,
    private readonly what: string,
  ) {
    this.channelBytes = Buffer.from(channel);
  }

  /** Subscribes, then loads (so a change made in between arrives one way or the other). */
  async start(): Promise<void> {
    this.subscriber.on('messageBuffer', (from: Buffer, message: Buffer) => { if (from.equals(this.channelBytes)) this.onMessage(message.toString()); });
    // After a reconnect: loaded again once the channel is subscribed on the new connection.
    reloadAfterResubscribe(this.subscriber, this.channel, () => this.reload(), this.log, this.what);
    await this.subscriber.subscribe(this.channel);
    await this.reload();
  }

  /** Makes one of this node's changes: `send` publishes the message it is given. `unheard`: the
   * change was not heard before the answer, so the caller applies it now (else it was applied, in
   * order, when heard). */
  async write<T>(change: Change, send: (message: string) => Promise<T>): Promise<{ reply: T; unheard: boolean }> {
    const id = `${this.tag}:${++this.sequence}`;
    this.unheard.add(id);
    try {
      const reply = await send(`${id} ${JSON.stringify(change)}`);
      return { reply, unheard: this.unheard.has(id) };
    } finally {
      this.unheard.delete(id);
    }
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
      const entries: unknown[] = [];
      let cursor = '0';
      do {
        const [next, page] = await this.connection.script<LoadPage>(this.loadScript, [...this.loadArgs(), cursor, this.pageSize], false);
        for (const entry of page) entries.push(entry);
        cursor = String(next);
      } while (cursor !== '0');
      this.target.replace(entries);
      for (const change of this.heard) this.target.apply(change);
      if (this.overflowed) this.again = true;
    } finally {
      this.heard = undefined;
    }
  }

  private onMessage(raw: string): void {
    // `<id> <change>`
    const space = raw.indexOf(' ');
    if (space < 0) return;
    this.unheard.delete(raw.slice(0, space));
    let change: Change;
    try {
      change = JSON.parse(raw.slice(space + 1)) as Change;
    } catch {
      return;
    }
    // In force at once, in the copy in use (a paged load takes a while; the loaded copy replaces it
    // and gets the change again by the replay).
    this.target.apply(change);
    if (this.heard === undefined) return;
    if (this.heard.length < MAX_HEARD_DURING_LOAD) this.heard.push(change);
    // Too many to keep: the next load will have them.
    else this.overflowed = true;
  }
}
