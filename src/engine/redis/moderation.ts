/** Moderator groups shared by every node on one Redis (docs/operations.md, "Moderator groups
 * across nodes"): the ModerationEngine of moderation/moderation-engine.ts with the memory
 * engine's rules (docs/moderation.md), its state in Redis (moderation-scripts.ts).
 *
 * - Publishing: every publish runs the topic engine's fed script (PublishFeed below). The node
 *   names the groups the topic feeds from its copy of the cache's group directory; the script
 *   checks the copy's version (a stale copy is reloaded and the publish retried), refuses the
 *   publish when a group is full, and otherwise appends the item to each group's queue and rings
 *   the group's channel, all in the publish's own step: a publish is acknowledged only once every
 *   group took it.
 * - Handing out: a node with members of a group listens on its channel and claims as many items
 *   as its members have room for (one script: handed-back items first), then gives each to a
 *   member round-robin, preferring one that did not have it last. Members, in-flight limits, ack
 *   timers (on the Clock) and delivery ids are the node's own; Redis records which node holds
 *   each item.
 * - Settling: accept publishes, appends and settles in one script that first checks the node
 *   still holds the item; reject settles and tells the sender in one; nack, an ack timeout, a
 *   member leaving or closing hand the item back to the head of the queue (or give it up after
 *   maxAttempts and tell the sender in one). The sender is told on whatever node it is connected
 *   to (the direct channel).
 * - Node loss: each node refreshes a heartbeat key (PX moderation.nodeTimeoutMs); nodes with
 *   members reap, every nodeTimeoutMs / 4, the items and members of nodes whose heartbeat expired,
 *   and every node sweeps a page of all groups too (a group whose members all died has no live
 *   node to reap it). A claim, hand-back or settle names its claim of the item (Held.tag), so a
 *   late or retried one of an earlier claim changes nothing. */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  ErrorCode, LimitCause, decodeFrame, encodeFrame, utf8Length,
  type AcceptResult, type DeliveryFrame, type GroupLeaveResult, type GroupPattern, type Position, type RetractResult, type Value,
} from '../../protocol/index.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { ModerationConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { TidingsError, failedPrecondition, limitExceeded } from '../../core/errors.js';
import type { RedisConnection, ScriptArg } from '../../core/redis-connection.js';
import { retryWhileReady } from '../../core/redis-resubscribe.js';
import type { GroupMember, HeldDelivery, ModerationEngine } from '../../moderation/moderation-engine.js';
import type { GroupStats } from '../../moderation/group-registry.js';
import type { GroupCounters } from '../../moderation/group.js';
import { outputOf, parsePattern, toWirePattern, type Affix } from '../../moderation/pattern.js';
import type { RedisCacheStore } from '../../store/redis-store.js';
import { GROUP_SCRIPTS, type GroupScriptName } from './moderation-scripts.js';
import type { FeedPlan, PublishFeed, RedisTopicEngine, Reply } from './topic-engine.js';

/** An item as a group holds it (moderation-scripts.ts, B\0i). */
interface Item { cache: string; topic: string; output: string; value: Value; tokenId: string | undefined; page: number; seq: number; ts: number }

interface Member { id: string; sink: GroupMember; maxInFlight: number; held: Set<number> }

interface Held { delivery: number; id: string; tag: string; item: Item; member: Member; group: LocalGroup; timer: TimerHandle }

/** An item this node claimed: its id and which claim of it (moderation-scripts.ts B\0c). */
type Claimed = [id: string, tag: string];

/** A group this node has members of. */
interface LocalGroup {
  cache: string;
  name: string;
  /** B: the group's Redis key and wake channel. */
  key: string;
  affix: Affix;
  members: Map<string, Member>;
  order: Member[];
  cursor: number;
  claiming: boolean;
  again: boolean;
  /** A claim call whose reply never came (Redis may have run it): undone before the next claim. */
  unsureClaim: string | undefined;
  buffered: number;
  counters: GroupCounters;
}

interface Directory { version: string; groups: Map<string, Affix> }

const VERSION_FIELD = '\u0000v';
/** Groups of the deployment each tick's sweep looks at (SSCAN's hint): 10,000 groups (the default
 * moderation.maxGroups) take ~160 ticks, under 7 min at the default nodeTimeoutMs. */
const SWEEP_GROUPS_PER_TICK = 64;

export class RedisModeration implements ModerationEngine, PublishFeed {
  /** This process's name in Redis (heartbeat, holder of in-flight items). */
  readonly nodeId = randomBytes(9).toString('base64url');
  private readonly directories = new Map<string, Directory>();
  private readonly reloading = new Map<string, Promise<void>>();
  private readonly groups = new Map<string, LocalGroup>();
  private readonly memberships = new Map<string, Set<LocalGroup>>();
  private readonly deliveries = new Map<number, Held>();
  private nextDelivery: number;
  /** Joins whose script failed (a timeout: Redis may have run it all the same), by member, with the
   * groups' keys: the tick removes the member from those groups in Redis unless it joined since. */
  private readonly unsureJoins = new Map<string, Set<string>>();
  /** Joins awaiting their script, by `member\0key`: a leave of the same waits for it (as the memory
   * engine's, where a join is done when its request is), and no cleanup runs under it (unsureJoins). */
  private readonly joining = new Map<string, Promise<Reply>>();
  /** Joins under way per member: they count against maxGroupsPerConnection, so gsubs sent at once
   * cannot pass it together. */
  private readonly joinsUnderWay = new Map<string, number>();
  /** Numbers this node's claim calls (moderation-scripts.ts tidingsGroupUnclaim) and heartbeats
   * together, in the order they are sent (one connection: the order Redis runs them in), so a
   * claim numbered below the heartbeat that found the node's key gone ran before it (releaseHeld). */
  private calls = 0;
  /** The number of the last heartbeat known to have found this node's key gone (0: none yet). */
  private foundGone = 0;
  /** Hand-backs and leaves that failed while Redis was away, retried every tick. */
  private readonly retries: Array<() => Promise<void>> = [];
  private readonly pending = new Set<Promise<unknown>>();
  private tick: NodeJS.Timeout | undefined;
  /** Counts the subscriber's reconnects: a retry of an older one's re-subscription stops once a
   * newer one starts over. */
  private resubscribeRound = 0;
  /** close() ran: nothing is tried again. */
  private closed = false;
  /** start() subscribed: a 'ready' from now on is a reconnect's. */
  private subscribedOnce = false;
  /** Taken for gone: members to register again (heartbeat()). */
  private rejoining = false;
  /** Where the sweep of every group goes on (SSCAN of groupSet; '0' starts over). */
  private sweepCursor = '0';
  private readonly groupSet: string;
  private readonly totalBytes: string;
  private readonly heartbeatPrefix: string;
  private readonly direct: string;

  constructor(
    private readonly config: ModerationConfig,
    private readonly clock: Clock,
    private readonly connection: RedisConnection,
    /** The topic engine's subscriber connection (wake channels and the direct channel). */
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly topics: RedisTopicEngine,
    private readonly cache: RedisCacheStore,
    /** Delivery ids handed out: first, first + step, ... (a node on several shards keeps them apart). */
    private readonly deliveryIds: { first: number; step: number } = { first: 1, step: 1 },
  ) {
    this.nextDelivery = deliveryIds.first;
    this.groupSet = `${prefix}m:\u0000groups`;
    this.totalBytes = `${prefix}m:\u0000bytes`;
    this.heartbeatPrefix = `${prefix}m:\u0000node:`;
    this.direct = `${prefix}m:\u0000direct`;
    for (const [name, { keys, lua }] of Object.entries(GROUP_SCRIPTS)) connection.defineScript(name, lua, keys);
  }

  async start(): Promise<void> {
    await this.heartbeat();
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
    // Wake-ups sent while the link was down were missed, so each group claims once its channel is
    // subscribed again (core/redis-resubscribe.ts: a claim sent at 'ready' may reach Redis before ioredis's
    // re-sent SUBSCRIBE, and an item published between the two would wait for the tick).
    const wasReady = this.subscriber.status === 'ready';
    this.subscriber.on('ready', () => { if (wasReady || this.subscribedOnce) this.resubscribed(); });
    await this.subscriber.subscribe(this.direct);
    this.subscribedOnce = true;
    const every = Math.max(100, Math.floor(this.config.nodeTimeoutMs / 4));
    this.tick = setInterval(() => { this.onTick().catch(() => { /* the next tick tries again */ }); }, every);
    this.tick.unref();
  }

  /** After a reconnect: SUBSCRIBE the direct channel and every group channel again (ioredis does
   * not: redis-engine.ts), then claim once Redis answered (from then on every wake-up is heard). If the link drops again first, the next 'ready'
   * tries again; meanwhile the tick claims. */
  private resubscribed(): void {
    this.resubscribe(++this.resubscribeRound, 1);
  }

  /** One attempt of resubscribed(). One that fails while the link stays up (answered after
   * redis.commandTimeoutMs, an error answer) is tried again at the connection's reconnect backoff:
   * no reconnect may come to do it, and until it succeeds the groups do not claim what was queued
   * while the link was down (the tick does, nodeTimeoutMs / 4 later). */
  private resubscribe(round: number, attempt: number): void {
    const groups = [...this.groups.values()];
    this.track(this.subscriber.subscribe(this.direct, ...groups.map((g) => g.key)).then(
      // The heartbeat first, not at the next tick: a Redis that came back empty (or took this node
      // for gone) lists none of its members until they are registered again, and meanwhile every
      // node publishes to their groups' inputs as to ordinary topics; and a claim before the
      // heartbeat is renewed gets nothing.
      () => this.heartbeat().catch(() => { /* the tick tries again */ }).then(() => { for (const g of groups) this.pump(g); }),
      (err: unknown) => {
        const delay = retryWhileReady(this.subscriber, attempt, () => !this.closed && round === this.resubscribeRound, () => this.resubscribe(round, attempt + 1));
        if (delay !== undefined) this.log.debug({ err: (err as Error).message, retryInMs: delay }, 'moderation: resubscribing group channels failed; trying again');
      },
    ));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.tick);
    for (const held of this.deliveries.values()) this.clock.clearTimeout(held.timer);
    await Promise.allSettled([...this.pending]);
    // Gone at once rather than after nodeTimeoutMs: other nodes reap what this one still holds.
    await this.connection.run((r) => r.del(this.heartbeatKey(this.nodeId))).catch(() => {});
  }

  // -- PublishFeed: what every publish carries -----------------------------------------------------

  plan(cache: string, topic: string, value: Value, tokenId: string | undefined, origin: string | undefined): FeedPlan {
    const dir = this.directories.get(cache);
    const keys = [this.directoryKey(cache), this.groupSet, this.totalBytes];
    const fed: Array<{ name: string; output: string }> = [];
    if (dir) {
      for (const [name, affix] of dir.groups) {
        const output = outputOf(affix, topic);
        if (output !== undefined) fed.push({ name, output });
      }
    }
    if (fed.length === 0) return { keys, args: [dir?.version ?? '', 0, 0, 0, 0, 0, ''], groups: [] };
    const bytes = typeof value === 'string' ? utf8Length(value) : value.byteLength;
    // Strings and bytes only: the scripts that tell the sender read it without cmsgpack (g_tell_sender).
    const blob: Record<string, unknown> = { c: cache, t: topic, v: value };
    if (tokenId !== undefined) blob['k'] = tokenId;
    if (origin !== undefined) blob['o'] = origin;
    const c = this.config;
    const args: Array<string | number | Uint8Array> = [dir!.version, c.bufferItems, c.bufferBytes, c.totalBufferBytes, c.groupIdleMs, bytes, encodeFrame(blob)];
    for (const { name, output } of fed) {
      keys.push(this.groupKey(cache, name));
      args.push(name, output);
    }
    return { keys, args, groups: fed.map((f) => f.name) };
  }

  directory(cache: string): [key: string, version: string] {
    return [this.directoryKey(cache), this.directories.get(cache)?.version ?? ''];
  }

  feeds(cache: string, topic: string): boolean {
    const dir = this.directories.get(cache);
    if (!dir) return false;
    for (const affix of dir.groups.values()) if (outputOf(affix, topic) !== undefined) return true;
    return false;
  }

  async feedsLive(cache: string, topic: string): Promise<boolean> {
    const dir = this.directories.get(cache);
    const names = dir ? [...dir.groups].filter(([, affix]) => outputOf(affix, topic) !== undefined).map(([name]) => name) : [];
    if (names.length === 0) return false;
    const forgotten = await this.connection.script<number>('tidingsGroupExpire', [3 + names.length, this.directoryKey(cache), this.groupSet, this.totalBytes,
      ...names.map((n) => this.groupKey(cache, n)), this.clock.now(), this.config.groupIdleMs, ...names]);
    if (Number(forgotten) === 0) return true;
    await this.reload(cache);
    return this.feeds(cache, topic);
  }

  reload(cache: string): Promise<void> {
    let loading = this.reloading.get(cache);
    if (!loading) {
      loading = this.loadDirectory(cache).then(async () => {
        if (!this.lostLocalGroup(cache)) return;
        // Redis no longer lists a group this node has members of: it came back empty (restarted
        // without persistence) or reaped this node while it was cut off. Its members are registered
        // again first (as the heartbeat does once it finds its key gone): with the copy alone the
        // publish asking would take the input for an ordinary topic, acknowledged and read by no one.
        this.rejoining = true;
        await this.heartbeat();
        await this.loadDirectory(cache);
      }).finally(() => this.reloading.delete(cache));
      this.reloading.set(cache, loading);
    }
    return loading;
  }

  private async loadDirectory(cache: string): Promise<void> {
    const fields = await this.connection.run((r) => r.hgetall(this.directoryKey(cache)));
    const groups = new Map<string, Affix>();
    for (const [name, pattern] of Object.entries(fields)) {
      if (name !== VERSION_FIELD) groups.set(name, parsePattern(JSON.parse(pattern)));
    }
    const version = fields[VERSION_FIELD] ?? '';
    this.directories.delete(cache);
    if (version !== '' || groups.size > 0) this.keepDirectory(cache, { version, groups });
  }

  /** A group of `cache` with members on this node that the loaded copy of the directory lacks. */
  private lostLocalGroup(cache: string): boolean {
    const listed = this.directories.get(cache)?.groups;
    for (const group of this.groups.values()) {
      if (group.cache === cache && group.members.size > 0 && !listed?.has(group.name)) return true;
    }
    return false;
  }

  /** Keeps a copy as the most recently loaded, forgetting the least recently loaded past
   * moderation.maxGroups: a cache with groups has at least one, so the copies that count fit, and a
   * forgotten one is only a 'stale' reply and a reload away (the scripts check the version; a
   * node that published to many caches whose groups are gone since would otherwise keep them all). */
  private keepDirectory(cache: string, dir: Directory): void {
    this.directories.set(cache, dir);
    for (const oldest of this.directories.keys()) {
      if (this.directories.size <= this.config.maxGroups) break;
      this.directories.delete(oldest);
    }
  }

  /** Copies of group directories this node holds (tidings_moderation_directory_copies). */
  directoryCopies(): number {
    return this.directories.size;
  }

  refused(cache: string, _topic: string, plan: { groups: string[] }, reply: Reply): never {
    if (String(reply[0]) === 'total') {
      throw limitExceeded(LimitCause.GROUP_BUFFER, `moderator groups hold their deployment-wide maximum of ${this.config.totalBufferBytes} unassigned bytes; retry later`);
    }
    const name = plan.groups[Number(reply[1]) - 1] ?? '?';
    const local = this.groups.get(this.groupKey(cache, name));
    if (local) local.counters.refused++;
    throw limitExceeded(
      LimitCause.GROUP_BUFFER,
      `moderator group "${name}" holds its maximum of unassigned items (${Number(reply[2]) === 0 ? 'no moderator is connected' : 'moderators are behind'}); retry later`,
    );
  }

  // -- ModerationEngine ----------------------------------------------------------------------------

  async join(cache: string, name: string, pattern: GroupPattern, sink: GroupMember, maxInFlight: number): Promise<void> {
    const affix = parsePattern(pattern);
    const key = this.groupKey(cache, name);
    const mine = this.memberships.get(sink.id);
    if ([...mine ?? []].some((g) => g.key === key)) throw new TidingsError(ErrorCode.ALREADY_EXISTS_ERROR, `already a member of group "${name}" in cache "${cache}"`);
    const underWay = this.joinsUnderWay.get(sink.id) ?? 0;
    if ((mine?.size ?? 0) + underWay >= this.config.maxGroupsPerConnection) {
      throw limitExceeded(LimitCause.GROUPS, `a connection may be a member of at most ${this.config.maxGroupsPerConnection} groups`);
    }
    const wire = JSON.stringify(toWirePattern(affix));
    // Before the script is sent: a cleanup of an earlier failed join sent from now on would come after it.
    this.unsureJoins.get(sink.id)?.delete(key);
    const joining = `${sink.id}\u0000${key}`;
    const script = this.script('tidingsGroupJoin', this.directoryKey(cache), this.groupSet, this.totalBytes, key,
      name, wire, sink.id, this.nodeId, this.clock.now(), this.config.maxGroups, this.config.groupIdleMs);
    this.joining.set(joining, script);
    this.joinsUnderWay.set(sink.id, underWay + 1);
    const done = (): void => {
      if (this.joining.get(joining) === script) this.joining.delete(joining);
      const left = (this.joinsUnderWay.get(sink.id) ?? 1) - 1;
      if (left > 0) this.joinsUnderWay.set(sink.id, left);
      else this.joinsUnderWay.delete(sink.id);
    };
    let reply: Reply;
    try {
      reply = await script;
      done();
    } catch (err) {
      done();
      // Redis may have run it after the timeout: the tick takes the member out again (onTick), so
      // it is not listed there as a member no node delivers to.
      let unsure = this.unsureJoins.get(sink.id);
      if (!unsure) this.unsureJoins.set(sink.id, (unsure = new Set()));
      unsure.add(key);
      throw err;
    }
    const refused = this.joinRefusal(cache, name, reply);
    if (refused) throw refused;
    // Connection ids are unique to the deployment: Redis lists this connection because an earlier
    // join of it ran there after this node stopped waiting. It becomes the member it asked to be
    // (the same connection joining twice at once is refused: the first one is a member by now).
    if (String(reply[0]) === 'exists' && this.groups.get(key)?.members.has(sink.id)) {
      throw new TidingsError(ErrorCode.ALREADY_EXISTS_ERROR, `already a member of group "${name}" in cache "${cache}"`);
    }
    let group = this.groups.get(key);
    if (!group) {
      group = {
        cache, name, key, affix, members: new Map(), order: [], cursor: 0, claiming: false, again: false, unsureClaim: undefined, buffered: Number(reply[2]),
        counters: { offered: 0, delivered: 0, redelivered: 0, accepted: 0, rejected: 0, nacked: 0, timedOut: 0, deadLettered: 0, refused: 0 },
      };
      this.groups.set(key, group);
      this.subscriber.subscribe(key).catch(() => { /* the tick claims meanwhile; resubscribed() after the reconnect */ });
    }
    // The reply goes out before the first delivery.
    sink.accepted({ members: Number(reply[1]), buffered: Number(reply[2]) });
    const member: Member = { id: sink.id, sink, maxInFlight: Math.min(maxInFlight, this.config.maxInFlightPerMember), held: new Set() };
    group.members.set(member.id, member);
    group.order.push(member);
    let set = mine;
    if (!set) this.memberships.set(sink.id, (set = new Set()));
    set.add(group);
    // This node publishes to the group too: its directory copy learns the group now.
    this.reload(cache).catch(() => {});
    this.track(this.reap(group));
    this.pump(group);
  }

  /** The error of a tidingsGroupJoin that registered no member (undefined: 'ok' or 'exists'). */
  private joinRefusal(cache: string, name: string, reply: Reply): TidingsError | undefined {
    switch (String(reply[0])) {
      case 'pattern': return failedPrecondition(`group "${name}" in cache "${cache}" exists with another pattern (${String(reply[1])})`);
      case 'groups': return limitExceeded(LimitCause.GROUPS, `the deployment holds its maximum of ${this.config.maxGroups} groups`);
      default: return undefined;
    }
  }

  async leave(memberId: string, cache: string, name: string): Promise<GroupLeaveResult> {
    const key = this.groupKey(cache, name);
    // A join of the same sent before: leave what it joins (its continuation runs before this one's).
    await this.joining.get(`${memberId}\u0000${key}`)?.catch(() => undefined);
    const group = this.groups.get(key);
    if (!group || !group.members.has(memberId)) throw failedPrecondition(`not a member of group "${name}" in cache "${cache}"`);
    return { requeued: await this.removeMember(group, memberId) };
  }

  connectionClosed(memberId: string): void {
    const groups = this.memberships.get(memberId);
    if (!groups) return;
    for (const group of [...groups]) this.track(this.removeMember(group, memberId));
  }

  async held(memberId: string, delivery: number): Promise<HeldDelivery | undefined> {
    const held = this.deliveries.get(delivery);
    if (!held || held.member.id !== memberId) return undefined;
    return { cache: held.item.cache, topic: held.item.topic, output: held.item.output, tokenId: held.item.tokenId };
  }

  async accept(memberId: string, delivery: number, value: Value | undefined, keep: number): Promise<AcceptResult> {
    const held = this.claimLocal(memberId, delivery);
    const { item, group } = held;
    try {
      // The sender's tokenId, never the moderator's: the item was stamped when it was published.
      const result = await this.cache.pubAppend(item.cache, item.output, item.output, value ?? item.value, item.tokenId, {
        ttl: { ttlMs: this.config.historyTtlSec * 1000, refresh: true },
        truncateToSize: keep,
      }, {
        keys: [group.key], args: [held.id, this.nodeId, held.tag],
        refusal: `delivery ${delivery} is no longer held by this node (it was handed to another member)`,
      });
      group.counters.accepted++;
      return { page: result.page, seq: result.seq };
    } catch (err) {
      // Not settled (or, on a lost reply, perhaps settled: then the hand-back finds nothing to do).
      this.track(this.handBack(group, [[held.id, held.tag]], memberId));
      throw err;
    } finally {
      this.pump(group);
    }
  }

  async reject(memberId: string, delivery: number, reason: string): Promise<void> {
    const held = this.claimLocal(memberId, delivery);
    const { group } = held;
    let reply: Reply;
    try {
      // The settle tells the sender: a lost reply must not lose the notice (the hand-back below then finds nothing to do).
      reply = await this.script('tidingsGroupSettle', group.key, this.nodeId, this.clock.now(), held.id, held.tag, this.direct, reason);
    } catch (err) {
      this.track(this.handBack(group, [[held.id, held.tag]], memberId));
      throw err;
    } finally {
      this.pump(group);
    }
    if (String(reply[0]) !== 'ok') throw failedPrecondition(`delivery ${delivery} is no longer held by this node (it was handed to another member)`);
    group.counters.rejected++;
  }

  async nack(memberId: string, delivery: number): Promise<void> {
    const held = this.claimLocal(memberId, delivery);
    held.group.counters.nacked++;
    await this.handBack(held.group, [[held.id, held.tag]], memberId);
  }

  retract(cache: string, topic: string, target: Position, tokenId: string | undefined, reason: string | undefined): Promise<RetractResult> {
    return this.topics.retract(cache, topic, target, tokenId, reason, this.cache.listKeys(cache, topic));
  }

  /** This node's view: its own members and deliveries, the group's buffered count as last seen,
   * and its own counters (sum them over the nodes for the deployment). */
  stats(): GroupStats[] {
    return [...this.groups.values()].map((g) => ({
      cache: g.cache, group: g.name, pattern: toWirePattern(g.affix), members: g.members.size,
      memberLoad: g.order.map((m) => ({ id: m.id, inFlight: m.held.size })),
      buffered: g.buffered, inFlight: g.order.reduce((n, m) => n + m.held.size, 0), counters: { ...g.counters },
    }));
  }

  // -- handing out ---------------------------------------------------------------------------------

  /** Claims as many items as the group's local members have room for, until the queue is empty. */
  private pump(group: LocalGroup): void {
    if (group.claiming) { group.again = true; return; }
    if (this.groups.get(group.key) !== group) return;
    if (group.unsureClaim !== undefined) {
      // Its items go back to the queue (for any node's members, room here or not) before this node
      // claims again.
      group.claiming = true;
      const undo = this.unclaim(group, group.unsureClaim);
      this.track(undo.then(() => { group.unsureClaim = undefined; }, () => {}).finally(() => {
        group.claiming = false;
        if (group.unsureClaim === undefined) this.pump(group);
      }));
      return;
    }
    let room = 0;
    const withRoom: Member[] = [];
    for (const m of group.order) {
      if (m.held.size < m.maxInFlight) { room += m.maxInFlight - m.held.size; withRoom.push(m); }
    }
    if (room === 0) return;
    group.claiming = true;
    group.again = false;
    const call = String(++this.calls);
    const claim = this.script('tidingsGroupClaim', group.key, this.totalBytes, this.nodeId, room, withRoom.length === 1 ? withRoom[0]!.id : '', this.heartbeatKey(this.nodeId), call).then((reply) => {
      const unplaced: Claimed[] = [];
      const claimed = Math.floor(reply.length / 5);
      // Then the queue's length, unless the node was taken for gone (nothing claimed, nothing said).
      if (reply.length % 5 === 1) group.buffered = Number(reply[reply.length - 1]);
      for (let i = 0; i + 4 < reply.length; i += 5) {
        const id = String(reply[i]);
        const tag = String(reply[i + 4]);
        if (!this.place(group, id, tag, Number(reply[i + 1]), String(reply[i + 2]), reply[i + 3] as Buffer)) unplaced.push([id, tag]);
      }
      if (unplaced.length > 0) this.track(this.handBack(group, unplaced, '', true));
      group.claiming = false;
      if (group.again || (claimed > 0 && claimed >= room)) this.pump(group);
    }, (err: unknown) => {
      // A lost reply (a timeout) may hide a claim Redis ran: undone at the next pump (the tick's),
      // or now if this node left the group meanwhile (it never pumps that group again).
      if (this.groups.get(group.key) === group) group.unsureClaim = call;
      else this.undoClaim(group, call);
      group.claiming = false;
      this.log.debug({ err: (err as Error).message, group: group.name }, 'moderation claim failed; undone, then retried at the next tick');
    });
    this.track(claim);
  }

  private unclaim(group: LocalGroup, call: string): Promise<Reply> {
    return this.script('tidingsGroupUnclaim', group.key, this.totalBytes, this.nodeId, this.clock.now(), call);
  }

  /** Unclaims a call of a group this node no longer pumps: retried every tick until Redis takes it. */
  private undoClaim(group: LocalGroup, call: string): void {
    this.track(this.untilTaken(async () => { await this.unclaim(group, call); }));
  }

  /** Gives a claimed item to a member with room (false: none has room any more). */
  private place(group: LocalGroup, id: string, tag: string, attempts: number, last: string, record: Buffer): boolean {
    const member = this.pick(group, last);
    if (!member) return false;
    const item = parseItem(record);
    const delivery = this.nextDelivery;
    this.nextDelivery += this.deliveryIds.step;
    const timer = this.clock.setTimeout(() => this.expire(delivery), this.config.ackTimeoutMs);
    this.deliveries.set(delivery, { delivery, id, tag, item, member, group, timer });
    member.held.add(delivery);
    group.counters.delivered++;
    if (attempts > 1) group.counters.redelivered++;
    else group.counters.offered++;
    const frame: DeliveryFrame = {
      t: 'delivery', cache: item.cache, group: group.name, topic: item.topic, output: item.output, value: item.value,
      page: item.page, seq: item.seq, ts: item.ts, delivery, attempt: attempts,
    };
    if (item.tokenId !== undefined) frame.tokenId = item.tokenId;
    member.sink.deliver(encodeFrame(frame));
    return true;
  }

  /** Round-robin among members with room, preferring one that did not have the item last. */
  private pick(group: LocalGroup, last: string): Member | undefined {
    const n = group.order.length;
    let fallback: Member | undefined;
    for (let i = 0; i < n; i++) {
      const member = group.order[(group.cursor + i) % n]!;
      if (member.held.size >= member.maxInFlight) continue;
      if (member.id === last && n > 1) { fallback ??= member; continue; }
      group.cursor = (group.cursor + i + 1) % n;
      return member;
    }
    return fallback;
  }

  private claimLocal(memberId: string, delivery: number): Held {
    const held = this.deliveries.get(delivery);
    if (!held || held.member.id !== memberId) throw failedPrecondition(`delivery ${delivery} is not held by this connection (settled, timed out, or not its own)`);
    this.drop(held);
    return held;
  }

  private drop(held: Held): void {
    this.clock.clearTimeout(held.timer);
    this.deliveries.delete(held.delivery);
    held.member.held.delete(held.delivery);
  }

  private expire(delivery: number): void {
    const held = this.deliveries.get(delivery);
    if (!held) return;
    held.group.counters.timedOut++;
    this.drop(held);
    this.track(this.handBack(held.group, [[held.id, held.tag]], held.member.id));
  }

  /** Puts items this node holds back at the head of the group's queue; retried until Redis takes it. */
  private handBack(group: LocalGroup, claims: Claimed[], last: string, undo = false): Promise<void> {
    const run = async (): Promise<void> => {
      const dead = await this.script<number>('tidingsGroupBack', group.key, this.totalBytes, this.nodeId, this.clock.now(), this.config.maxAttempts, undo ? 1 : 0, last,
        this.direct, ...claims.flat());
      group.counters.deadLettered += dead;
      this.pump(group);
    };
    return this.untilTaken(run, (err) => this.log.debug({ err: err.message, group: group.name }, 'moderation hand-back failed; retried'));
  }

  /** Runs a write Redis must take in the end (a hand-back, a leave, an undo): on failure it is
   * queued and run again every tick until Redis takes it. */
  private untilTaken(run: () => Promise<void>, failed?: (err: Error) => void): Promise<void> {
    return run().catch((err: unknown) => {
      failed?.(err as Error);
      this.retries.push(run);
    });
  }

  private async removeMember(group: LocalGroup, memberId: string): Promise<number> {
    const member = group.members.get(memberId);
    if (!member) return 0;
    group.members.delete(memberId);
    group.order = group.order.filter((m) => m !== member);
    const mine = this.memberships.get(memberId);
    mine?.delete(group);
    if (mine?.size === 0) this.memberships.delete(memberId);
    const held = [...member.held].map((d) => this.deliveries.get(d)!);
    for (const h of held) this.drop(h);
    if (group.members.size === 0) {
      this.groups.delete(group.key);
      // No pump of this node will undo it now.
      if (group.unsureClaim !== undefined) this.undoClaim(group, group.unsureClaim);
      this.subscriber.unsubscribe(group.key).catch(() => {});
    }
    const leave = async (): Promise<void> => {
      // A retry (Redis was away) after the connection joined the group again must not remove it.
      if (this.groups.get(group.key)?.members.has(memberId)) return;
      await this.script('tidingsGroupLeave', group.key, memberId, this.clock.now());
    };
    if (held.length > 0) await this.handBack(group, held.map((h): Claimed => [h.id, h.tag]), memberId);
    await this.untilTaken(leave);
    // The others may take what this member had.
    if (this.groups.get(group.key) === group) this.pump(group);
    return held.length;
  }

  // -- node liveness -------------------------------------------------------------------------------

  private async onTick(): Promise<void> {
    await this.heartbeat();
    for (const retry of this.retries.splice(0)) await this.untilTaken(retry);
    this.leaveUnsureJoins();
    for (const group of [...this.groups.values()]) {
      await this.reap(group);
      this.pump(group);
    }
    await this.sweep();
  }

  /** Takes the members of failed joins out of those groups in Redis, unless they joined since (a
   * join clears its entry before its script is sent, and each leave is sent in the same step as
   * its check, so a leave never overtakes a later join). One that fails is tried at the next tick. */
  private leaveUnsureJoins(): void {
    for (const [member, keys] of [...this.unsureJoins]) {
      this.unsureJoins.delete(member);
      for (const key of keys) {
        // A member now, or joining again (that join is unsure in turn if it fails).
        if (this.groups.get(key)?.members.has(member) || this.joining.has(`${member}\u0000${key}`)) continue;
        this.track(this.script('tidingsGroupLeave', key, member, this.clock.now()).catch(() => {
          // Redis away: again at the next tick, skipped there if the member joined or is joining meanwhile.
          let unsure = this.unsureJoins.get(member);
          if (!unsure) this.unsureJoins.set(member, (unsure = new Set()));
          unsure.add(key);
        }));
      }
    }
  }

  private async heartbeat(): Promise<void> {
    // Any heartbeat answers which one last found the key gone: the answer of that one may have
    // been lost (Redis ran it past redis.commandTimeoutMs).
    const found = await this.script<number>('tidingsNodeBeat', this.heartbeatKey(this.nodeId), this.config.nodeTimeoutMs, ++this.calls);
    // The first one always finds it gone (a new node).
    if (found > this.foundGone && this.foundGone > 0) {
      // Redis was away longer than nodeTimeoutMs: other nodes took this one for gone and reaped
      // its members and items (a settle of those is refused). Register the members again.
      this.log.warn({ node: this.nodeId }, 'moderation: this node was taken for gone; rejoining its members');
      this.rejoining = true;
      this.releaseHeld(found);
    }
    this.foundGone = Math.max(this.foundGone, found);
    // Until every member is registered again: a rejoin cut short (Redis away again) goes on at the
    // next tick, whose heartbeat then finds its key (a member already back answers 'exists').
    if (this.rejoining) {
      for (const group of [...this.groups.values()]) {
        for (const member of [...group.order]) {
          // Left meanwhile (its leave goes after this check, so never before the join): not again.
          if (this.groups.get(group.key) !== group || !group.members.has(member.id)) continue;
          const reply = await this.script('tidingsGroupJoin', this.directoryKey(group.cache), this.groupSet, this.totalBytes, group.key,
            group.name, JSON.stringify(toWirePattern(group.affix)), member.id, this.nodeId, this.clock.now(), this.config.maxGroups, this.config.groupIdleMs);
          const refused = this.joinRefusal(group.cache, group.name, reply);
          // Not when it left meanwhile, or another heartbeat's rejoin (they may overlap) ended it first.
          if (!refused || group.members.get(member.id) !== member) continue;
          // Redis will not take the member again (the group made anew with another pattern, or
          // maxGroups reached meanwhile): it leaves, and is told, rather than wait for deliveries
          // that never come.
          this.log.warn({ group: group.name, err: refused.message }, 'moderation: a member could not be registered again; its membership ended');
          this.track(this.removeMember(group, member.id));
          member.sink.ended(refused);
        }
      }
      this.rejoining = false;
    }
  }

  /** Ends every delivery this node's members hold from a claim that ran before heartbeat `found`
   * made the node's key anew: what they held was handed out again (or went with Redis), so each
   * would otherwise take a member's room, for nothing, until its ack timeout. The hand-back puts
   * back one not yet reaped and changes nothing for the others. A later claim ran with the key
   * back: no node reaps what it took. */
  private releaseHeld(found: number): void {
    for (const held of [...this.deliveries.values()]) {
      // A claim tag starts with its call's number (pump()).
      if (Number.parseInt(held.tag, 10) > found) continue;
      this.drop(held);
      this.track(this.handBack(held.group, [[held.id, held.tag]], held.member.id));
    }
  }

  private async reap(group: LocalGroup): Promise<void> {
    try {
      const reply = await this.script('tidingsGroupReap', group.key, this.totalBytes, this.heartbeatPrefix, this.clock.now(), this.config.maxAttempts, this.direct);
      group.counters.deadLettered += Number(reply[0]);
      group.buffered = Number(reply[1]);
    } catch (err) {
      this.log.debug({ err: (err as Error).message, group: group.name }, 'moderation reap failed');
    }
  }

  /** A page of every group in the deployment per tick: reaps groups this node has no member of too,
   * so that one whose members all died with their nodes turns idle and is forgotten. */
  private async sweep(): Promise<void> {
    try {
      const reply = await this.script('tidingsGroupSweep', this.groupSet, this.totalBytes, this.sweepCursor, SWEEP_GROUPS_PER_TICK,
        this.heartbeatPrefix, this.clock.now(), this.config.maxAttempts, this.direct);
      this.sweepCursor = String(reply[0]);
      // Groups this node has no member of have nothing to count.
      for (let i = 1; i + 1 < reply.length; i += 2) {
        const group = this.groups.get(String(reply[i]));
        if (group) group.counters.deadLettered += Number(reply[i + 1]);
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'moderation sweep failed');
    }
  }

  // -- messages ------------------------------------------------------------------------------------

  private onMessage(channel: string, message: Buffer): void {
    // `<connection> <frame>`: a sender's `rejected` (moderation-scripts.ts g_tell_sender).
    if (channel === this.direct) {
      const space = message.indexOf(0x20);
      // A copy: the frame outlives ioredis's read buffer.
      this.topics.sendTo(message.toString('latin1', 0, space), new Uint8Array(message.subarray(space + 1)));
      return;
    }
    const group = this.groups.get(channel);
    if (group) this.pump(group);
  }

  // -- internals -----------------------------------------------------------------------------------

  private track(promise: Promise<unknown>): void {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise));
  }

  private directoryKey(cache: string): string { return `${this.prefix}m:${cache}`; }
  private groupKey(cache: string, name: string): string { return `${this.prefix}m:${cache}\u0000${name}`; }
  private heartbeatKey(node: string): string { return `${this.heartbeatPrefix}${node}`; }

  private script<R = Reply>(name: GroupScriptName, ...args: ScriptArg[]): Promise<R> {
    return this.connection.script<R>(name, args);
  }
}

/** `page,seq,ts,bytes,output\0<msgpack {c, t, v, k?, o?}>` (moderation-scripts.ts). */
function parseItem(record: Buffer): Item {
  const commas: number[] = [];
  for (let i = 0; commas.length < 4; i++) if (record[i] === 0x2c) commas.push(i);
  const nul = record.indexOf(0, commas[3]);
  const head = record.toString('latin1', 0, commas[3]).split(',').map(Number);
  const blob = decodeFrame(record.subarray(nul + 1));
  const value = blob['v'];
  return {
    cache: String(blob['c']), topic: String(blob['t']), output: record.toString('utf8', commas[3]! + 1, nul),
    value: typeof value === 'string' ? value : new Uint8Array(value as Uint8Array),
    tokenId: typeof blob['k'] === 'string' ? blob['k'] : undefined,
    page: head[0]!, seq: head[1]!, ts: head[2]!,
  };
}
