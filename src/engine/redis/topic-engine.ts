/** Topics across nodes through Redis (engine.ts contracts 2 and 3).
 *
 * - publish: one Lua script (scripts.ts) takes the next seq, records the message in the topic's
 *   capped list and PUBLISHes it; the reply is the item's (page, seq). A topic's publishes of one
 *   event-loop iteration share one script call and one channel message (publish-batches.ts).
 * - Each node subscribes once per topic that has local subscribers (not once per client) and keeps
 *   a node-local window of it (topics/topic-registry.ts, the memory engine's windows and budgets),
 *   filled from the recent-messages list on first use and then fed by the subscription, strictly in
 *   seq order. Reads are synchronous from that window; local fan-out is native (Fanout).
 * - A message with a seq jump (missed while the subscription was down) or another page (Redis lost
 *   the topic) makes the node reload the list: what it still holds is replayed in order; what it
 *   no longer holds is announced to local subscribers with a `disc`, never skipped silently. The
 *   subscription reconnects by itself and reloads every topic when it does. */
import type { Redis } from 'ioredis';
import { ErrorCode, encodeFrame, encodeFrameHead, encodeItemParts, itemPartsValue, type DiscontinuityFrame, type NoticeFrame, type Position, type PublishResult, type RetractResult, type Value } from '../../protocol/index.js';
import type { Clock } from '../../core/clock.js';
import type { TopicsConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { disconnectSubscriber, rethrowTyped, type RedisConnection, type ScriptArg } from '../../core/redis-connection.js';
import { retryDelay, retryWhileReady } from '../../core/redis-resubscribe.js';
import { TidingsError, invalidArgument } from '../../core/errors.js';
import { wrongKind } from '../../store/cache-store.js';
import { inputTopicRefusal } from '../../moderation/pattern.js';
import { TopicRegistry } from '../../topics/topic-registry.js';
import type { Topic } from '../../topics/topic.js';
import type { Fanout, PublishHook, Subscriber, TopicActivity, TopicEngine, TopicStats, WindowRead } from '../engine.js';
import { TOPIC_SCRIPTS, type TopicScriptName } from './scripts.js';
import { TopicKeys } from './keys.js';
import { PublishBatches, type Batch, type BatchLimits } from './publish-batches.js';
import { UnheardPublishes } from './unheard-publishes.js';
import { forEachChannelItem, parseTopicMessage, type TopicMessage as Message } from './channel-messages.js';

/** After a reconnect, how soon a failed window reload is tried again. */
const RELOAD_RETRY_MS = 1000;

/** A topic this node subscribed to in Redis. */
interface Channel {
  cache: string;
  name: string;
  keys: TopicKeys;
  /** Local subscribe calls in progress or active; the Redis subscription ends at 0. */
  refs: number;
  /** Resolves once the window is loaded; rejected when subscribing or loading failed. */
  loaded: Promise<void>;
  /** Redis confirmed the SUBSCRIBE: only then does ioredis list the channel (and subscribe it again
   * after a reconnect), so only then can a failed UNSUBSCRIBE leave an orphan. */
  subscribed?: boolean;
  /** Messages that arrived while (re)loading, applied after it. Each load has its own: an older
   * reload answered while a newer one (a resubscription's) is in flight leaves the newer one's. */
  pending: Message[] | undefined;
  /** Set when the subscription came back, cleared by the next reload begun since that succeeds:
   * until then the window was not checked against Redis (which may have gone back), so a live
   * message that seems next in seq may not be, and it makes the node reload instead. */
  unchecked?: boolean;
  /** Counts the resubscriptions: a reload begun before the latest one may have been answered
   * before Redis went back, so it does not clear `unchecked`. */
  resubscriptions?: number;
  /** The newest message applied to the window, kept here too: the window may have lost it to
   * topics.windowTotalBytes, and a reload needs it to tell a Redis that went back (reloadNow). */
  newest?: Message | undefined;
  /** The reload under way, if any (reload()). */
  reloading?: Promise<boolean> | undefined;
  /** After a failed reload: the next try (retryReload()), and how many failed in a row. */
  retry?: NodeJS.Timeout | undefined;
  failedReloads?: number;
}

export type Reply = Array<Buffer | number>;

export interface PubAppendStep {
  /** Keys and ARGV (after now) of the list half, as RedisCacheStore prepares them. */
  listKeys: [string, string];
  listArgs: Array<string | number | Uint8Array>;
  /** A moderator's accept: the same step, guarded by and settling one group delivery. */
  guard?: PubAppendGuard | undefined;
}

/** Extra keys and trailing ARGV of tidingsModerationAccept. */
export interface PubAppendGuard { keys: string[]; args: Array<string | number> }

/** What moderator groups add to every publish (engine/redis/moderation.ts): the publish script
 * checks the node's copy of the cache's group directory is current and feeds the groups the
 * topic is an input of, in the same step, or refuses the publish when one is full. */
export interface PublishFeed {
  /** Synchronous, from the node's copy of the directory: the keys after T, S, P and the ARGV after
   * the item's (scripts.ts tidingsTopicPublishFed). `value` is owned (a copy). */
  plan(cache: string, topic: string, value: Value, tokenId: string | undefined, origin: string | undefined): FeedPlan;
  /** Whether publishes to the topic feed a group, by the node's copy (pubAppend refuses them). */
  feeds(cache: string, topic: string): boolean;
  /** feeds(), after forgetting the groups it names that were idle past groupIdleMs (a copy keeps
   * them until something touches them): what a refusal is decided on. */
  feedsLive(cache: string, topic: string): Promise<boolean>;
  /** The directory's key and the version of the node's copy: a batch of publishes to a topic that
   * feeds no group by that copy is checked against it (scripts.ts tidingsTopicPublishBatch). */
  directory(cache: string): [key: string, version: string];
  /** The script said the copy is out of date. */
  reload(cache: string): Promise<void>;
  /** Throws the typed error for a refusal reply ('full', 'total'). */
  refused(cache: string, topic: string, plan: FeedPlan, reply: Reply): never;
}

export interface FeedPlan { keys: string[]; args: Array<string | number | Uint8Array>; groups: string[] }

/** What a batched publish needs to go alone through the group feed (after a stale directory); the
 * value is read back from the item's encoded head then, so the hot path copies nothing more. */
interface Resend { tokenId: string | undefined; origin: string | undefined }

export class RedisTopicEngine implements TopicEngine {
  readonly registry: TopicRegistry;
  private readonly channels = new Map<string, Channel>();
  /** Channels left whose UNSUBSCRIBE failed (the link was down): ioredis still lists them and
   * subscribes them again on reconnect, so they are unsubscribed then. */
  private readonly orphans = new Set<string>();
  private readonly hooks: PublishHook[] = [];
  private fanout: Fanout | undefined;
  private published = 0;
  private delivered = 0;
  private touchTimer: NodeJS.Timeout | undefined;
  private subscriberWasReady = false;
  /** Counts the subscriber's reconnects: a retry of an older one's re-subscription stops once a
   * newer one starts over. */
  private resubscribeRound = 0;
  /** The subscription link dropped and its topics were told (topic_interrupted). */
  private interrupted = false;
  private closing = false;
  /** Set by the Redis engine before start(): every publish is checked against the moderator groups. */
  private feed!: PublishFeed;
  private readonly batches: PublishBatches<Resend>;
  /** The write's idempotency key and window as script ARGV ('' and 0 when none). */
  private idempotencyArgs: () => [string, number] = () => ['', 0];
  /** Idempotent publishes sent whose reply was lost: their hooks run when a retry hears them. */
  private unheard: UnheardPublishes | undefined;

  constructor(
    private readonly config: TopicsConfig,
    private readonly clock: Clock,
    private readonly connection: RedisConnection,
    /** A second connection in subscriber mode (a connection with SUBSCRIBE can send nothing else). */
    private readonly subscriber: Redis,
    private readonly keyPrefix: string,
    private readonly log: Logger,
    batchLimits: BatchLimits,
    /** How many Redis shards the node's topics.maxTopics is split among (1: not split). */
    shardCount: number,
  ) {
    // Publishes never add to this registry (they go to Redis): it holds only topics with a local
    // subscribe under way or active, so a full one refuses rather than drop another's window.
    this.registry = new TopicRegistry(config, clock, {
      dropsIdle: false,
      limitSource: shardCount > 1 ? `for this cache's Redis shard: topics.maxTopics is split among the node's ${shardCount} shards` : undefined,
    });
    this.batches = new PublishBatches(batchLimits, (batch) => this.sendBatch(batch), (sendAll) => connection.inOneWrite(sendAll));
    for (const [name, { keys, lua }] of Object.entries(TOPIC_SCRIPTS)) {
      connection.defineScript(name, lua, keys);
    }
  }

  /** Idempotent writes remembered in Redis (core/idempotency-key.ts): the publish scripts take the key. */
  setIdempotency(args: () => [string, number], maxKeys: number): void {
    this.idempotencyArgs = args;
    this.unheard = new UnheardPublishes(maxKeys);
  }

  /** Moderator groups: every publish goes through their script from now on (register before start()). */
  setFeed(feed: PublishFeed): void {
    this.feed = feed;
  }

  addPublishHook<A>(hook: PublishHook<A>): void {
    this.hooks.push(hook as PublishHook);
  }

  async start(fanout: Fanout): Promise<void> {
    this.fanout = fanout;
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
    this.subscriber.on('ready', () => {
      if (this.subscriberWasReady) this.resubscribed();
      this.subscriberWasReady = true;
    });
    // Subscribers are told when live items stop because Redis is away, and again once they flow.
    this.subscriber.on('close', () => {
      if (!this.subscriberWasReady || this.interrupted || this.closing) return;
      this.interrupted = true;
      this.log.warn('redis subscription lost; subscribers told (topic_interrupted), reconnecting');
      for (const channel of this.channels.values()) this.notice(channel, 'topic_interrupted');
    });
    await this.subscriber.connect();
    // Subscribed topics stay alive in Redis while any node has subscribers, published to or not.
    // At most a third of the TTL apart (a floor above that would let a quiet topic's TTL end between touches).
    this.touchTimer = setInterval(() => this.touch(), Math.max(10, Math.floor(this.config.idleTopicMs / 3)));
    this.touchTimer.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.touchTimer);
    disconnectSubscriber(this.subscriber);
  }

  /** Redis sends one connection's pushed messages and replies in order: once a PING sent now on the
   * subscriber connection is answered, every message Redis published before it took the PING has
   * been received and applied (onMessage is synchronous). Items whose message started a window
   * reload are the exception: they arrive with the reload. */
  async settle(): Promise<void> {
    if (this.subscriber.status !== 'ready') return;
    await this.subscriber.ping();
  }

  sendTo(connectionId: string, frame: Uint8Array): void {
    this.fanout!.sendTo(connectionId, frame);
  }

  publish(cache: string, name: string, value: Value, tokenId: string | undefined, origin?: string): Promise<PublishResult> {
    const { feed } = this;
    const idem = this.idempotencyArgs();
    if (idem[0] === '' && this.connection.ready && !feed.feeds(cache, name)) {
      // Gathered with the topic's other publishes of this iteration into one script call. While Redis
      // is away publishes go alone, so each is held and bounded as one command (redis.maxQueuedCommands).
      return this.stamp(cache, name, value, tokenId, origin, idem, (keys, _now, head, tail) =>
        this.batches.add(keys, cache, name, head, tail, { tokenId, origin }));
    }
    // Owned now: a retry after a directory reload runs after an await (contract 1).
    const owned = typeof value !== 'string' ? new Uint8Array(value) : value;
    return this.stamp(cache, name, value, tokenId, origin, idem, (keys, now, head, tail) => {
      this.batches.flush(keys.channel); // earlier publishes to the topic go first
      return this.publishAlone(keys, cache, name, owned, tokenId, origin, idem, now, head, tail);
    });
  }

  /** One publish in its own script, through the group feed. */
  private async publishAlone(keys: TopicKeys, cache: string, name: string, value: Value, tokenId: string | undefined, origin: string | undefined,
    idem: [string, number], now: number, head: Uint8Array, tail: Uint8Array): Promise<Required<PublishResult> & { dup: boolean }> {
    const { feed } = this;
    for (let attempt = 1; ; attempt++) {
      const plan = feed.plan(cache, name, value, tokenId, origin);
      const reply = await this.script('tidingsTopicPublishFed', 3 + plan.keys.length, keys.topic, keys.recent, keys.lastPage, ...plan.keys,
        now, this.config.idleTopicMs, this.config.windowItems, keys.channel, head, tail, ...plan.args, this.heldPage(cache, name), ...idem);
      const status = String(reply[0]);
      if (status === 'stale' && attempt < 3) { await feed.reload(cache); continue; }
      if (status === 'stale') throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'moderator groups of this cache kept changing; retry');
      if (status === 'full' || status === 'total') feed.refused(cache, name, plan, reply);
      return { seq: Number(reply[0]), page: Number(reply[1]), ts: Number(reply[2]), dup: reply[3] !== undefined };
    }
  }

  /** One script call for a topic's gathered publishes (publish-batches.ts). */
  private sendBatch(batch: Batch<Resend>): void {
    const { keys, items } = batch;
    // Gathered while the node's copy of the directory said the topic feeds no group; the copy may
    // have been reloaded since. The version sent below is the copy's now, so it must be judged by
    // the copy now too: a topic that feeds a group by it goes through the feed, item by item.
    if (this.feed.feeds(batch.cache, batch.topic)) { this.sendAlone(batch); return; }
    const guard = this.feed.directory(batch.cache);
    const args: ScriptArg[] = [guard ? 4 : 3, keys.topic, keys.recent, keys.lastPage];
    if (guard) args.push(guard[0]);
    args.push(this.clock.now(), this.config.idleTopicMs, this.config.windowItems, keys.channel, guard?.[1] ?? '', this.heldPage(batch.cache, batch.topic));
    for (const item of items) args.push(item.head, item.tail);
    this.script('tidingsTopicPublishBatch', ...args).then((reply) => {
      if (String(reply[0]) === 'stale') return this.resendStale(batch);
      const first = Number(reply[0]);
      const page = Number(reply[1]);
      const ts = Number(reply[2]);
      for (let i = 0; i < items.length; i++) items[i]!.resolve({ seq: first + i, page, ts, dup: false });
    }, (err: unknown) => {
      for (const item of items) item.reject(err);
    });
  }

  /** A group was created or dropped on another node since this node's copy of the directory:
   * nothing of the batch was published; each item goes again alone, in order, through the feed.
   * The topic's open batch (later publishes) is not sent first: it leaves at the end of the
   * iteration, after these. */
  private async resendStale(batch: Batch<Resend>): Promise<void> {
    try {
      await this.feed.reload(batch.cache);
    } catch (err) {
      for (const item of batch.items) item.reject(err);
      return;
    }
    this.sendAlone(batch);
  }

  /** Each item of the batch alone, in order, through the group feed. */
  private sendAlone(batch: Batch<Resend>): void {
    for (const item of batch.items) {
      const { tokenId, origin } = item.retry;
      this.publishAlone(batch.keys, batch.cache, batch.topic, itemPartsValue(item.head), tokenId, origin, ['', 0], this.clock.now(), item.head, item.tail).then(item.resolve, item.reject);
    }
  }

  /** pubAppend's topic half: the same hooks and stamping as publish, with the list half in the
   * same script. Refusals of the list half come back as the reply (the caller maps them). */
  pubAppend(cache: string, name: string, value: Value, tokenId: string | undefined, list: PubAppendStep): Promise<Required<PublishResult> & { reply: Reply }> {
    // Groups are fed by publish only: a pubAppend to an input topic would skip its moderators.
    const refuse = () => inputTopicRefusal(name);
    const { feed } = this;
    if (feed.feeds(cache, name)) {
      // A group idle past groupIdleMs is forgotten first: its input is an ordinary topic again.
      // A copy: a binary value may be a view into the receive buffer, reused across the await (contract 1).
      const owned = typeof value === 'string' ? value : new Uint8Array(value);
      // The idempotency key is taken now: after the await it is gone (core/idempotency-key.ts),
      // and the write would be deduplicated on this node only.
      const idem = this.pubAppendIdempotency(list);
      return feed.feedsLive(cache, name).then((feeds) => {
        if (feeds) throw refuse();
        return this.pubAppendUnfed(cache, name, owned, tokenId, list, idem);
      });
    }
    return this.pubAppendUnfed(cache, name, value, tokenId, list, this.pubAppendIdempotency(list));
  }

  /** A moderator's accept carries no idempotency key: its delivery settles once anyway. */
  private pubAppendIdempotency(list: PubAppendStep): [string, number] | [] {
    return list.guard ? [] : this.idempotencyArgs();
  }

  private pubAppendUnfed(cache: string, name: string, value: Value, tokenId: string | undefined, list: PubAppendStep,
    idem: [string, number] | []): Promise<Required<PublishResult> & { reply: Reply }> {
    const refuse = () => inputTopicRefusal(name);
    const { feed } = this;
    const { guard } = list;
    return this.stamp(cache, name, value, tokenId, undefined, idem, async (keys, now, head, tail) => {
      this.batches.flush(keys.channel);
      for (let attempt = 1; ; attempt++) {
        // The node's copy of the group directory may not know a group yet: the script checks its
        // version (a stale copy is reloaded, then the refusal above asked again).
        const directory = guard ? undefined : feed.directory(cache);
        const keyCount = guard ? [] : [directory ? 6 : 5];
        const reply = await this.script(guard ? 'tidingsModerationAccept' : 'tidingsPubAppend', ...keyCount, ...list.listKeys, keys.topic, keys.recent, keys.lastPage,
          ...(guard?.keys ?? (directory ? [directory[0]] : [])), now, ...list.listArgs, this.config.idleTopicMs, this.config.windowItems, keys.channel, head, tail,
          this.heldPage(cache, name), ...(guard?.args ?? [directory?.[1] ?? '']), ...idem);
        if (String(reply[0]) === 'stale') {
          if (attempt >= 3) throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, 'moderator groups of this cache kept changing; retry');
          await feed.reload(cache);
          if (feed.feeds(cache, name) && await feed.feedsLive(cache, name)) throw refuse();
          continue;
        }
        // {'ok', length, seq, page, ts} (+ 'dup'); a repeat answered from a record an older node
        // wrote has no ts: the repeat's own time stands in.
        const dup = String(reply[reply.length - 1]) === 'dup';
        const ts = reply.length - (dup ? 1 : 0) > 4 ? Number(reply[4]) : now;
        return { seq: Number(reply[2] ?? 0), page: Number(reply[3] ?? 0), ts, reply, dup };
      }
    });
  }

  /** A moderator's take-down in one script (scripts.ts tidingsRetract); `listKeys` name the
   * topic's history list (the list pubAppend wrote, named like the topic). */
  async retract(cache: string, name: string, target: Position, tokenId: string | undefined, reason: string | undefined, listKeys: [string, string]): Promise<RetractResult> {
    const frame: Record<string, unknown> = { t: 'retract', cache, topic: name, target: { page: target.page, seq: target.seq } };
    if (reason !== undefined) frame['reason'] = reason;
    if (tokenId !== undefined) frame['tokenId'] = tokenId;
    const keys = new TopicKeys(this.keyPrefix, cache, name);
    this.batches.flush(keys.channel);
    const reply = await this.script('tidingsRetract', ...listKeys, keys.topic, keys.recent, keys.lastPage, this.clock.now(),
      String(target.page), String(target.seq), this.config.idleTopicMs, this.config.windowItems, keys.channel, encodeFrameHead(frame, 3), this.heldPage(cache, name));
    if (String(reply[0]) === 'wrongtype') throw wrongKind(cache, name, String(reply[1]), 'list');
    if (String(reply[0]) !== 'ok') throw invalidArgument(`target: topic "${name}" has published no item at page ${target.page}, seq ${target.seq}`);
    return { seq: Number(reply[1]), page: Number(reply[2]), removed: Number(reply[3]) > 0 };
  }

  async subscribe(cache: string, name: string, _who: Subscriber, after?: Position): Promise<Position> {
    const keys = new TopicKeys(this.keyPrefix, cache, name);
    let channel = this.channels.get(keys.channel);
    if (!channel) {
      const pending: Message[] = [];
      channel = { cache, name, keys, refs: 0, loaded: Promise.resolve(), pending };
      this.channels.set(keys.channel, channel);
      channel.loaded = this.load(channel, pending);
    }
    channel.refs++;
    try {
      await channel.loaded;
      // A resume from a position this node's window has not reached: another node delivered it and
      // this node's subscription is behind (slower, or reconnecting). Brought up to date from Redis
      // first (a reload under way may predate the position: then one more), so that the resume is
      // not taken for one from the future (a disc, a replay, then the same items again live).
      // A reload that failed (Redis unreachable from this node) leaves the window behind: the resume
      // is refused, retryable, rather than answered as one from the future (a `disc` naming items the
      // client has, and the window's old items again). One that succeeded and is still behind is a
      // position Redis never reached (or lost): that is the future, answered with a `disc`. A window
      // waiting for its re-sent SUBSCRIBE waits for that resubscription's reload (resubscribe() sets
      // `reloading`).
      for (let tries = 0; after && tries < 2 && this.behind(cache, name, after); tries++) {
        if (!await (channel.reloading ?? this.reload(channel))) {
          throw new TidingsError(ErrorCode.SERVER_UNAVAILABLE, `this node cannot reach Redis to catch up to the resume position (page ${after.page}, seq ${after.seq}) it is behind; retry`);
        }
      }
    } catch (err) {
      this.release(channel);
      throw err;
    }
    return this.registry.get(cache, name)!.attach(this.clock.now());
  }

  /** The page of the topic this node's window holds (0 when none): a page a publish starts comes
   * after it (scripts.ts topicPrelude), also when Redis lost the last page handed out. */
  private heldPage(cache: string, name: string): number {
    return this.registry.get(cache, name)?.page ?? 0;
  }

  private behind(cache: string, name: string, after: Position): boolean {
    const topic = this.registry.get(cache, name);
    return topic !== undefined && (after.page > topic.page || (after.page === topic.page && after.seq > topic.seq));
  }

  liveInterrupted(): boolean {
    return this.interrupted;
  }

  position(cache: string, name: string): Position | undefined {
    return this.registry.position(cache, name);
  }

  read(cache: string, name: string, after: Position, maxBytes: number): WindowRead {
    // A subscribed topic is never dropped, so a miss only happens for a reader that never subscribed.
    return this.registry.read(cache, name, after, maxBytes);
  }

  unsubscribe(cache: string, name: string, _who: Subscriber): void {
    this.registry.get(cache, name)?.detach(this.clock.now());
    const channel = this.channels.get(new TopicKeys(this.keyPrefix, cache, name).channel);
    if (channel) this.release(channel);
  }

  /** `published` counts this node's publishes; `delivered` and the windows count what this node
   * fanned out to its own subscribers (sum them over the nodes for the cluster). */
  stats(): TopicStats {
    return {
      topics: this.registry.size, windowBytes: this.registry.windowBytes, published: this.published, delivered: this.delivered,
      redisChannels: this.channels.size + this.orphans.size,
      windowEvictions: { ...this.registry.evictions }, topicsEvicted: this.registry.topicsEvicted,
    };
  }

  *activity(): Iterable<TopicActivity> {
    for (const t of this.registry.all()) yield { cache: t.cache, topic: t.name, page: t.page, seq: t.seq, subscribers: t.subscribers, windowBytes: t.windowBytes };
  }

  // -- internals ---------------------------------------------------------------------------------

  /** Runs the publish hooks around one stamping script (a hook may refuse before anything is sent).
   * `idem`: the write's idempotency key and window, as the script takes them (none: empty key). */
  private async stamp<R extends PublishResult>(cache: string, name: string, value: Value, tokenId: string | undefined, origin: string | undefined,
    idem: readonly [string, number] | readonly [],
    run: (keys: TopicKeys, now: number, head: Uint8Array, tail: Uint8Array) => Promise<R & { dup: boolean }>): Promise<R> {
    const { hooks } = this;
    let admissions: unknown[] | undefined;
    for (let i = 0; i < hooks.length; i++) {
      const admission = hooks[i]!.admit(cache, name, value);
      if (admission !== undefined) (admissions ??= [])[i] = admission;
    }
    // Encoded (copied) now: a binary value may be a view into the receive buffer (contract 1).
    const { head, tail } = encodeItemParts(cache, name, value, tokenId);
    const kept = admissions && typeof value !== 'string' ? new Uint8Array(value) : value;
    const now = this.clock.now();
    const [idemKey = '', idemWindowMs = 0] = idem;
    let stamped: R & { dup: boolean };
    try {
      stamped = await run(new TopicKeys(this.keyPrefix, cache, name), now, head, tail);
    } catch (err) {
      // The script may have run with its reply lost: the hooks wait for a retry that hears it.
      if (admissions && idemKey !== '') this.unheard?.remember(idemKey, UnheardPublishes.digest(head, tail), now, idemWindowMs);
      throw err;
    }
    const { dup, ...rest } = stamped;
    const result = rest as unknown as R; // without `dup`, which must not reach the reply
    if (result.seq === 0) return result; // refused by the list half: nothing was published
    const unheard = idemKey !== '' && this.unheard?.take(idemKey, head, tail, now) === true;
    // A repeated idempotent write: the first one ran the hooks, unless its reply never came here.
    if (dup && !unheard) return result;
    this.published++;
    if (admissions) {
      const item = { cache, topic: name, value: kept, tokenId, page: result.page, seq: result.seq, ts: result.ts ?? now, origin };
      for (let i = 0; i < hooks.length; i++) if (admissions[i] !== undefined) hooks[i]!.published(item, admissions[i]);
    }
    return result;
  }

  /** Subscribes to the topic's channel, then loads its window: messages arriving in between wait in
   * `pending`, so none is missed and none applied twice. */
  private async load(channel: Channel, pending: Message[]): Promise<void> {
    try {
      await this.subscriber.subscribe(channel.keys.channel).catch(rethrowTyped);
      channel.subscribed = true;
      await this.reloadNow(channel, false, pending);
    } catch (err) {
      if (this.channels.get(channel.keys.channel) === channel) this.channels.delete(channel.keys.channel);
      // Unsubscribed anyway (a SUBSCRIBE that timed out may still be taken), but remembered as an
      // orphan only when confirmed: subscribes refused while the link is down (one per topic name a
      // client tries) would otherwise pile up in `orphans` for as long as the outage lasts.
      this.leave(channel.keys.channel, channel.subscribed === true);
      throw err;
    }
  }

  /** After a reconnect: once the channels are subscribed again (this SUBSCRIBE: ioredis's own
   * re-subscription is off, redis-engine.ts), reload every window: what was published meanwhile is in
   * the recent-messages lists, and what is published from now on arrives as messages. */
  private resubscribed(): void {
    this.resubscribe(++this.resubscribeRound, 1);
  }

  /** One attempt of resubscribed(); a SUBSCRIBE that fails while the link stays up (answered after
   * redis.commandTimeoutMs, an error answer) is tried again at the connection's reconnect backoff:
   * no reconnect may ever come to do it, and until it succeeds the windows are not reloaded, so
   * what was published while the link was down reached nobody and topic_resumed never came. */
  private resubscribe(round: number, attempt: number): void {
    const orphans = [...this.orphans].filter((name) => !this.channels.has(name));
    this.orphans.clear();
    for (const name of orphans) this.leave(name);
    const channels = [...this.channels.values()];
    if (channels.length === 0) { this.interrupted = false; return; }
    for (const channel of channels) {
      channel.pending ??= [];
      channel.unchecked = true;
      channel.resubscriptions = (channel.resubscriptions ?? 0) + 1;
    }
    const reloaded = this.subscriber.subscribe(...channels.map((c) => c.keys.channel)).then(
      async () => {
        const reloads = channels.map((channel) => { channel.pending = undefined; return this.reload(channel); });
        const results = await Promise.all(reloads);
        if (results.includes(false)) {
          // Redis answered the SUBSCRIBE but not the reload (its other connection is still away): again shortly.
          if (!this.closing) setTimeout(() => this.resubscribed(), RELOAD_RETRY_MS).unref();
          return results;
        }
        if (!this.interrupted) return results;
        this.interrupted = false;
        this.log.info('redis subscription back; subscribers caught up (topic_resumed)');
        for (const channel of this.channels.values()) this.notice(channel, 'topic_resumed');
        return results;
      },
      (err: unknown) => {
        for (const channel of channels) channel.pending = undefined;
        const delay = retryWhileReady(this.subscriber, attempt, () => !this.closing && round === this.resubscribeRound, () => this.resubscribe(round, attempt + 1));
        if (delay !== undefined) this.log.debug({ err: (err as Error).message, retryInMs: delay }, 'resubscribe failed; trying again');
        return undefined;
      },
    );
    // Until its reload begins, a channel's reload is this one: a resume that must wait for the
    // window to catch up waits for it (reload() would otherwise answer at once, with nothing done).
    channels.forEach((channel, i) => {
      if (channel.reloading) return;
      const waiting = reloaded.then((results) => results?.[i] ?? false);
      channel.reloading = waiting;
      void waiting.then(() => { if (channel.reloading === waiting) channel.reloading = undefined; });
    });
  }

  private notice(channel: Channel, kind: 'topic_interrupted' | 'topic_resumed'): void {
    const topic = this.registry.get(channel.cache, channel.name);
    if (!topic) return;
    const frame: NoticeFrame = { t: 'notice', kind, cache: channel.cache, topic: channel.name };
    this.fanout!.publish(topic.key, new Uint8Array(encodeFrame(frame))); // owned (contract 5)
  }

  /** Brings a loaded window up to date from Redis (after a seq jump, a new page, a reconnect).
   * Resolves false when it failed (Redis away: the next message or reconnect tries again). */
  private reload(channel: Channel): Promise<boolean> {
    // A load is under way (it applies what arrives meanwhile): that reload, or false when there is
    // none to wait for (the first load, a resubscription still waiting for its SUBSCRIBE): the
    // window is not caught up yet.
    if (channel.pending) return channel.reloading ?? Promise.resolve(false);
    const pending: Message[] = [];
    channel.pending = pending;
    const done = this.reloadNow(channel, true, pending).then(() => { channel.failedReloads = 0; return true; }, (err: unknown) => {
      if (channel.pending === pending) channel.pending = undefined;
      this.log.debug({ err: (err as Error).message, topic: channel.name }, 'topic reload failed');
      this.retryReload(channel);
      return false;
    });
    channel.reloading = done;
    void done.then(() => { if (channel.reloading === done) channel.reloading = undefined; });
    return done;
  }

  /** A failed reload leaves the window out of step, and the messages that showed it were dropped
   * with it: nothing else may ever reload it while the link stays up (a quiet topic sends no next
   * message). So it is tried again at the connection's reconnect backoff while the topic is served
   * and its subscription is up (a link that drops reloads every window once back: resubscribed()). */
  private retryReload(channel: Channel): void {
    if (channel.retry || this.closing) return;
    channel.failedReloads = (channel.failedReloads ?? 0) + 1;
    channel.retry = setTimeout(() => {
      channel.retry = undefined;
      if (this.closing || this.channels.get(channel.keys.channel) !== channel || this.subscriber.status !== 'ready') return;
      void this.reload(channel);
    }, retryDelay(this.subscriber, channel.failedReloads));
    channel.retry.unref();
  }

  /** `pending`: the messages that arrive for this load (channel.pending until a newer load replaces it). */
  private async reloadNow(channel: Channel, announce: boolean, pending: Message[]): Promise<void> {
    const { keys } = channel;
    const known = this.registry.get(channel.cache, channel.name);
    // The item held at the known seq: Redis holding another one there went back and was published
    // to since (scripts.ts tidingsTopicLoad).
    const { newest, resubscriptions } = channel;
    const reply = await this.script('tidingsTopicLoad', keys.topic, keys.recent, keys.lastPage, this.clock.now(), this.config.idleTopicMs, this.config.windowItems,
      known?.page ?? 0, known?.seq ?? 0, newest && newest.page === known!.page && newest.seq === known!.seq ? newest.frame : '');
    if (this.channels.get(keys.channel) !== channel) return; // unsubscribed meanwhile
    const page = Number(reply[0]);
    const seq = Number(reply[1]);
    const messages = (reply.slice(2) as Buffer[]).map((raw) => parseTopicMessage(raw));
    const before = this.registry.get(channel.cache, channel.name);
    const moved = !before || before.page !== page;
    let topic = moved ? this.registry.adopt(channel.cache, channel.name, page) : before;
    if (moved && before && announce) this.announceGap(topic, before.seq, messages[0]?.seq ?? seq + 1);
    const first = messages[0]?.seq ?? seq + 1;
    // A page just taken was announced above. On the same page, items between what this node holds
    // and what Redis still holds are gone, also when it held none yet (subscribed at seq 0).
    if (!moved && topic.seq + 1 < first) {
      topic = this.resetWindow(topic);
      if (announce) this.announceGap(topic, topic.seq, first);
    }
    for (const m of messages) this.append(channel, topic, m, announce);
    if (seq > topic.seq) {
      if (announce) this.announceGap(topic, topic.seq, seq + 1);
      topic = this.resetWindow(topic);
      topic.seq = seq;
    }
    if (channel.pending === pending) channel.pending = undefined;
    if (channel.resubscriptions === resubscriptions) channel.unchecked = false;
    for (const m of pending) this.apply(channel, m, false);
  }

  private onMessage(channelName: string, raw: Buffer): void {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    forEachChannelItem(raw, (message) => this.receive(channel, message));
  }

  private receive(channel: Channel, message: Message): void {
    if (channel.pending) channel.pending.push(message);
    else this.apply(channel, message);
  }

  /** `requeue` false: `m` waited for a reload that did not bring the window up to it. It is not
   * queued again (a real message is in the recent list the next reload reads; one that is not, e.g.
   * junk PUBLISHed on the channel, would otherwise reload forever). */
  private apply(channel: Channel, m: Message, requeue = true): void {
    const topic = this.registry.get(channel.cache, channel.name);
    if (!topic) return;
    // Another page, larger or not: pages come from max(now, lastPage + 1, the publishing node's page
    // + 1), and a Redis that lost the topic with its lastPage key (FLUSHDB, eviction) may hand out a
    // smaller one than this node holds to a node holding none. The reload goes on under a page above
    // this node's (scripts.ts tidingsTopicLoad) and announces it (a `disc`); a late message of a page
    // already left costs one reload.
    // Any message on a window not yet checked since the subscription came back reloads it too.
    if (m.page !== topic.page || m.seq > topic.seq + 1 || channel.unchecked) {
      this.reload(channel);
      if (requeue) channel.pending?.push(m);
      return;
    }
    this.append(channel, topic, m, true);
  }

  private append(channel: Channel, topic: Topic, m: Message, fanOut: boolean): void {
    if (m.seq <= topic.seq) return;
    topic.seq = m.seq;
    channel.newest = m;
    this.registry.record(topic, { seq: m.seq, frame: m.frame });
    if (fanOut) {
      this.delivered += topic.subscribers;
      this.fanout!.publish(topic.key, m.frame);
    }
  }

  /** Tells local subscribers that items (lastSeq, newSeq) are lost, in the window's own words. */
  private announceGap(topic: Topic, lastSeq: number, newSeq: number): void {
    const disc: DiscontinuityFrame = { t: 'disc', cache: topic.cache, topic: topic.name, lastSeq, newSeq, page: topic.page };
    this.fanout!.publish(topic.key, new Uint8Array(encodeFrame(disc))); // owned (contract 5)
  }

  /** An empty window at the topic's page and seq (the window must stay contiguous). */
  private resetWindow(topic: Topic): Topic {
    const { subscribers, seq, page } = topic;
    this.registry.drop(topic.cache, topic.name);
    const fresh = this.registry.adopt(topic.cache, topic.name, page);
    fresh.subscribers = subscribers;
    fresh.seq = seq;
    return fresh;
  }

  private release(channel: Channel): void {
    channel.refs--;
    if (channel.refs > 0 || this.channels.get(channel.keys.channel) !== channel) return;
    this.channels.delete(channel.keys.channel);
    this.registry.drop(channel.cache, channel.name);
    this.leave(channel.keys.channel);
  }

  private leave(name: string, listed = true): void {
    this.subscriber.unsubscribe(name).catch(() => { if (listed) this.orphans.add(name); });
  }

  private touch(): void {
    if (this.channels.size === 0 || !this.connection.ready) return;
    const pipeline = this.connection.client.pipeline();
    for (const { keys } of this.channels.values()) {
      pipeline.pexpire(keys.topic, this.config.idleTopicMs);
      pipeline.pexpire(keys.recent, this.config.idleTopicMs);
    }
    pipeline.exec().catch(() => { /* the next round tries again */ });
  }

  private script(name: TopicScriptName, ...args: ScriptArg[]): Promise<Reply> {
    // A load only reads what clients see (a page it starts is the one the next load returns).
    return this.connection.script<Reply>(name, args, true, name === 'tidingsTopicLoad' ? 'read' : 'write');
  }
}
