/** Presence across nodes (engine "redis"): the same semantics as MemoryPresence, with the counts in
 * Redis (redis-presence-scripts.ts has the keys) so every node lists every node's subscribers, and
 * each join and leave is decided once, by a script, and published to every node.
 *
 * - Each node knows its own connections exactly (`local`); it writes "my count for (topic, tokenId)
 *   is n" (idempotent), coalescing the changes of one tick. A write that fails (Redis away) is
 *   retried on the next heartbeat; a node Redis forgot (declared dead, or Redis lost its data) takes
 *   a new id and writes all its counts again, and so does one whose Redis restarted (another
 *   run_id) with older data, subtracting what its old id counted at once.
 * - The node whose write took a user's last connection away runs the leave when the grace ends; if
 *   it dies meanwhile, any node's sweep finds the due leave in the `leaving` set.
 * - Every node renews its heartbeat every nodeTimeoutMs / 3. A node silent for nodeTimeoutMs is
 *   declared dead by the next sweep of a live node, which zeroes the dead node's counts; its users
 *   then leave after the grace unless they reconnected (to any node) meanwhile.
 * - Join/leave frames: every node subscribes once to the deployment's presence channel and fans
 *   each event out natively to its local watchers; the presence observers (webhooks) run only on the
 *   node whose script decided the event, so they fire once cluster-wide.
 * - Presence sync: events published while a node's subscriber link is down are not heard. For each
 *   topic its local subscribers watch, the node keeps the members as its watchers were told them;
 *   once the events channel is subscribed again after a reconnect (core/redis-resubscribe.ts), it reads
 *   the members again and tells its watchers the differences as join/leave events. */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { encodeFrame, presenceKey, type PresenceEventFrame, type PresenceMember, type PresenceResult } from '../protocol/index.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { PresenceConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { disconnectSubscriber, type RedisConnection } from '../core/redis-connection.js';
import type { PresenceChange, PresenceEngine, PresenceSubscriber } from './presence.js';
import { PRESENCE_SCRIPTS, type PresenceScriptName } from './redis-presence-scripts.js';
import { reloadAfterResubscribe, retryWhileReady } from '../core/redis-resubscribe.js';

/** Dead nodes claimed, due leaves and dead-node entries handled per sweep (the next sweep goes on). */
const SWEEP_BATCH = 200;

/** A topic local subscribers watch (join/leave events): the members as its watchers were told them. */
interface Watched {
  cache: string;
  topic: string;
  refs: number;
  known: Set<string>;
  /** While a read of the members is under way: the events heard meanwhile, in order. */
  queued: Array<['join' | 'leave', string]> | undefined;
  /** The read under way (reads of one topic run one after another). */
  loading: Promise<void>;
}

/** This node's connections of one user on one topic. */
interface Local { cache: string; topic: string; tokenId: string; member: string; count: number; inFlight: number }

export class RedisPresence implements PresenceEngine {
  private readonly local = new Map<string, Local>();
  /** By `<cache>\0<topic>`; bounded by the topics this node's connections subscribe to. */
  private readonly watched = new Map<string, Watched>();
  /** Entries whose count changed since it was last written (or whose write failed). */
  private readonly dirty = new Set<Local>();
  private flushQueued = false;
  private reincarnating: Promise<void> | undefined;
  /** While a new node id is being registered: writes wait for it, since a write under an id Redis
   * does not know yet is refused ('buried') and would start yet another reincarnation. */
  private registering: Promise<void> | undefined;
  private readonly listeners: Array<(change: PresenceChange) => void> = [];
  /** This node's timers for leave graces its writes started, by member: one per member (a newer
   * grace replaces it), at most presence.maxPendingLeaves (past that, the sweeps run the leave). */
  private readonly graceTimers = new Map<string, TimerHandle>();
  private heartbeatTimer: TimerHandle | undefined;
  private publish: ((key: string, frame: Uint8Array) => void) | undefined;
  private nodeId = newNodeId();
  /** The Redis server process last seen (INFO run_id); undefined when Redis does not say. */
  private redisRunId: string | undefined;
  private closed = false;
  private readonly k: { prefix: string; leaving: string; nodes: string; dead: string; events: string };

  constructor(
    private readonly config: PresenceConfig,
    private readonly clock: Clock,
    private readonly connection: RedisConnection,
    /** A connection of its own in subscriber mode, for the events channel. */
    private readonly subscriber: Redis,
    keyPrefix: string,
    private readonly log: Logger,
  ) {
    const p = `${keyPrefix}p:`;
    this.k = { prefix: p, leaving: `${p}\u0000leaving`, nodes: `${p}\u0000nodes`, dead: `${p}\u0000dead`, events: `${p}\u0000events` };
    for (const [name, { keys, lua }] of Object.entries(PRESENCE_SCRIPTS)) connection.defineScript(name, lua, keys);
  }

  start(publish: (key: string, frame: Uint8Array) => void): void {
    this.publish = publish;
  }

  /** Registers the node and subscribes to the events channel; awaited by the engine's start. */
  async connect(): Promise<void> {
    this.subscriber.on('message', (_channel: string, message: string) => this.onEvent(message));
    reloadAfterResubscribe(this.subscriber, this.k.events, () => this.sync(), this.log, 'presence of watched topics');
    await this.subscriber.connect();
    await this.subscriber.subscribe(this.k.events);
    await this.register();
    this.redisRunId = await this.connection.runId();
    this.scheduleHeartbeat();
  }

  watch(cache: string, topic: string): void {
    const key = `${cache}\u0000${topic}`;
    const w = this.watched.get(key);
    if (w) { w.refs++; return; }
    const fresh: Watched = { cache, topic, refs: 1, known: new Set(), queued: undefined, loading: Promise.resolve() };
    this.watched.set(key, fresh);
    this.readFirst(fresh, 1);
  }

  /** Not announced: a new watcher asks `presence` for the members; this only sets what it knows.
   * What a sync tells the watchers is the difference from it, so a read that fails (an error
   * answer, a timeout, Redis's other connection away) is tried again at the reconnect backoff while
   * the topic is watched: else a member listed before the watch who left while the link was down
   * would never be told. If the link drops meanwhile, the sync after it reads instead. */
  private readFirst(w: Watched, attempt: number): void {
    this.read(w, false).catch((err: unknown) => {
      const delay = retryWhileReady(this.subscriber, attempt, () => !this.closed && this.watched.get(`${w.cache}\u0000${w.topic}`) === w, () => this.readFirst(w, attempt + 1));
      if (delay !== undefined) this.log.debug({ err: (err as Error).message, retryInMs: delay }, 'presence: reading a watched topic\'s members failed; trying again');
    });
  }

  unwatch(cache: string, topic: string): void {
    const key = `${cache}\u0000${topic}`;
    const w = this.watched.get(key);
    if (w && --w.refs === 0) this.watched.delete(key);
  }

  /** After a reconnect: each watched topic's members read again, the differences told. */
  private async sync(): Promise<void> {
    // Redis may have forgotten this node (it came back empty, or took the node for dead while it was
    // cut off): its counts are written again first, not at the next heartbeat, else the read lists
    // none of its members and every watcher is told they left (and joined again a heartbeat later).
    const alive = await this.script('tidingsPresenceHeartbeat', this.k.nodes, this.nodeId, this.clock.now());
    const runId = await this.connection.runId();
    if (Number(alive) === 0) await this.reincarnate(this.nodeId);
    else if (runId !== undefined && this.redisRunId !== undefined && runId !== this.redisRunId) {
      // Another Redis process that still knows this node: restarted from an older snapshot, or a
      // replica that lagged. Its counts of this node may be stale either way (a user who joined
      // since missing, one who left since listed for good): written again under a new id, and the
      // old id's counts subtracted at once, so connections are not counted twice until a sweep.
      const stale = this.nodeId;
      await this.reincarnate(stale);
      while (!(await this.bury(stale)));
    }
    if (runId !== undefined) this.redisRunId = runId;
    const results = await Promise.allSettled([...this.watched.values()].map((w) => this.read(w, true)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) throw new Error(`${failed} watched topics could not be read`);
  }

  /** Reads the topic's members (after any read under way). `announce`: tells the watchers who
   * joined or left since what they know, except users an event heard during the read already
   * told them about (that event is newer than, or as new as, the read). */
  private read(w: Watched, announce: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.watched.get(`${w.cache}\u0000${w.topic}`) !== w) return;
      w.queued = [];
      let listed: Set<string>;
      try {
        listed = new Set((await this.members(w.cache, w.topic)).members.map((m) => m.tokenId));
      } catch (err) {
        this.settleQueued(w);
        throw err;
      }
      const told = new Set(w.queued.map(([, tokenId]) => tokenId));
      if (announce) {
        for (const tokenId of listed) if (!w.known.has(tokenId) && !told.has(tokenId)) this.tell('join', w.cache, w.topic, tokenId);
        for (const tokenId of w.known) if (!listed.has(tokenId) && !told.has(tokenId)) this.tell('leave', w.cache, w.topic, tokenId);
      }
      w.known = listed;
      this.settleQueued(w);
    };
    const next = w.loading.catch(() => {}).then(run);
    w.loading = next;
    return next;
  }

  private settleQueued(w: Watched): void {
    for (const [kind, tokenId] of w.queued ?? []) {
      if (kind === 'join') w.known.add(tokenId);
      else w.known.delete(tokenId);
    }
    w.queued = undefined;
  }

  observe(listener: (change: PresenceChange) => void): void {
    this.listeners.push(listener);
  }

  add(cache: string, topic: string, who: PresenceSubscriber): void {
    const member = memberOf(cache, topic, who.tokenId);
    let entry = this.local.get(member);
    if (!entry) {
      entry = { cache, topic, tokenId: who.tokenId, member, count: 0, inFlight: 0 };
      this.local.set(member, entry);
    }
    entry.count++;
    this.markDirty(entry);
  }

  remove(cache: string, topic: string, who: PresenceSubscriber): void {
    const entry = this.local.get(memberOf(cache, topic, who.tokenId));
    if (!entry || entry.count === 0) return;
    entry.count--;
    this.markDirty(entry);
  }

  async members(cache: string, topic: string): Promise<PresenceResult> {
    const keys = this.topicKeys(cache, topic);
    const [hash, untracked] = await this.connection.run((r) => Promise.all([r.hgetall(keys.members), r.get(keys.untracked)]));
    const members: PresenceMember[] = [];
    for (const [tokenId, connections] of Object.entries(hash)) members.push({ tokenId, connections: Number(connections) });
    return { members, untracked: Math.max(0, Number(untracked ?? 0)) };
  }

  async isPresent(cache: string, topic: string, tokenId: string): Promise<boolean> {
    const { members } = this.topicKeys(cache, topic);
    return (await this.connection.run((r) => r.hexists(members, tokenId))) === 1;
  }

  /** Writes what is pending, then leaves the cluster: the other nodes remove what this node still
   * counts after the grace (its clients may be reconnecting to them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.heartbeatTimer);
    for (const timer of this.graceTimers.values()) this.clock.clearTimeout(timer);
    this.graceTimers.clear();
    await this.flush();
    await this.script('tidingsPresenceDepart', this.k.nodes, this.k.dead, this.nodeKey(this.nodeId), this.nodeId).catch(() => {});
    disconnectSubscriber(this.subscriber);
  }

  // -- writes ------------------------------------------------------------------------------------

  private markDirty(entry: Local): void {
    this.dirty.add(entry);
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    // One write per (topic, user) per tick, however many connections of it came and went.
    queueMicrotask(() => { this.flushQueued = false; void this.flush(); });
  }

  private flush(): Promise<unknown> {
    const entries = [...this.dirty];
    this.dirty.clear();
    return Promise.all(entries.map((e) => this.write(e)));
  }

  private async write(entry: Local): Promise<void> {
    const keys = this.topicKeys(entry.cache, entry.topic);
    entry.inFlight++;
    try {
      if (this.registering) await this.registering;
      const node = this.nodeId;
      const count = entry.count;
      const [event, graceEnd] = await this.script('tidingsPresenceSet', keys.members, keys.untracked, this.k.leaving, this.nodeKey(node), this.k.events, this.k.nodes, keys.untrackedUsers,
        entry.cache, entry.topic, entry.tokenId, count, this.clock.now(), this.config.leaveGraceMs, this.config.maxMembersPerTopic, node, 0, this.config.maxPendingLeaves) as [string, number];
      if (event === 'buried') {
        this.dirty.add(entry);
        await this.reincarnate(node);
        return;
      }
      if (event === 'join' || event === 'leave') this.changed(event, entry.cache, entry.topic, entry.tokenId);
      if (Number(graceEnd) > 0 && !this.closed) this.leaveAfterGrace(entry.member, entry.cache, entry.topic, entry.tokenId, Number(graceEnd));
      else if (count > 0) this.cancelGraceTimer(entry.member);
    } catch (err) {
      // Redis away or slow: the heartbeat writes the then-current count again.
      this.dirty.add(entry);
      this.log.debug({ err: (err as Error).message }, 'presence write failed; retried on the next heartbeat');
    } finally {
      entry.inFlight--;
      // Forgotten only when nothing about it is pending: a later entry for the same user must not
      // race a retry of this one.
      if (entry.count === 0 && entry.inFlight === 0 && !this.dirty.has(entry) && this.local.get(entry.member) === entry) this.local.delete(entry.member);
    }
  }

  /** Forgotten by the cluster (declared dead while slow or cut off, or Redis lost the data), or its
   * counts possibly stale (a Redis restarted with older data): a new id, so a sweep still burying
   * the old one cannot remove what is written under the new one. */
  private reincarnate(forgotten: string): Promise<void> {
    if (this.nodeId !== forgotten) return this.reincarnating ?? this.flush().then(() => {});
    this.nodeId = newNodeId();
    this.log.warn({ node: this.nodeId }, 'presence: Redis forgot this node, or restarted with older data; registering again and rewriting its counts');
    const registering = (async () => {
      // Whatever the old id still counts is removed by the sweeps like a dead node's.
      await this.script('tidingsPresenceDepart', this.k.nodes, this.k.dead, this.nodeKey(forgotten), forgotten).catch(() => {});
      await this.register();
    })().finally(() => { if (this.registering === registering) this.registering = undefined; });
    this.registering = registering;
    this.reincarnating = (async () => {
      await registering;
      for (const entry of this.local.values()) this.dirty.add(entry);
      await this.flush();
    })().finally(() => { this.reincarnating = undefined; });
    return this.reincarnating;
  }

  private async register(): Promise<void> {
    await this.connection.run((r) => r.zadd(this.k.nodes, this.clock.now(), this.nodeId));
  }

  // -- leaves, heartbeats and sweeps -------------------------------------------------------------

  private leaveAfterGrace(member: string, cache: string, topic: string, tokenId: string, graceEnd: number): void {
    this.cancelGraceTimer(member);
    // Redis bounds the pending leaves cluster-wide; this bounds the timers of one node whatever
    // Redis holds. Without a timer the leave is run by a sweep once due (a heartbeat later).
    if (this.graceTimers.size >= this.config.maxPendingLeaves) return;
    const timer = this.clock.setTimeout(() => {
      if (this.graceTimers.get(member) === timer) this.graceTimers.delete(member);
      // A timer may fire a moment before the clock reads graceEnd (Node's run on a monotonic clock,
      // in whole ms): the grace it waited for is over, and a later one (set since, by any node) is not.
      void this.expire(member, cache, topic, tokenId, Math.max(this.clock.now(), graceEnd));
    }, Math.max(0, graceEnd - this.clock.now()));
    this.graceTimers.set(member, timer);
  }

  /** The member is back (through this node): its leave is not due any more. */
  private cancelGraceTimer(member: string): void {
    const timer = this.graceTimers.get(member);
    if (timer === undefined) return;
    this.clock.clearTimeout(timer);
    this.graceTimers.delete(member);
  }

  /** Leave graces this node holds a timer for (the tidings_presence_pending_leaves gauge). */
  pendingLeaves(): number { return this.graceTimers.size; }

  /** Runs the member's leave if its grace ended by `now`. */
  private async expire(member: string, cache: string, topic: string, tokenId: string, now: number): Promise<void> {
    const { members } = this.topicKeys(cache, topic);
    const left = await this.script('tidingsPresenceExpire', members, this.k.leaving, this.k.events, member, tokenId, now).catch(() => 0);
    if (Number(left) === 1) this.changed('leave', cache, topic, tokenId);
  }

  private scheduleHeartbeat(): void {
    if (this.closed) return;
    this.heartbeatTimer = this.clock.setTimeout(() => {
      this.beat().catch((err: unknown) => this.log.debug({ err: (err as Error).message }, 'presence heartbeat failed'))
        .finally(() => this.scheduleHeartbeat());
    }, Math.max(10, Math.floor(this.config.nodeTimeoutMs / 3)));
  }

  private async beat(): Promise<void> {
    const alive = await this.script('tidingsPresenceHeartbeat', this.k.nodes, this.nodeId, this.clock.now());
    if (Number(alive) === 0) await this.reincarnate(this.nodeId);
    else if (this.dirty.size > 0) await this.flush();
    await this.sweep();
  }

  /** Due leaves whose node did not run them, and the counts of dead nodes. */
  private async sweep(): Promise<void> {
    const now = this.clock.now();
    const due = await this.connection.run((r) => r.zrangebyscore(this.k.leaving, '-inf', now, 'LIMIT', 0, SWEEP_BATCH));
    await Promise.all(due.map((member) => {
      const [cache, topic, tokenId] = splitMember(member);
      return this.expire(member, cache, topic, tokenId, now);
    }));
    const dead = await this.script('tidingsPresenceClaimDead', this.k.nodes, this.k.dead, now - this.config.nodeTimeoutMs, SWEEP_BATCH) as unknown as string[];
    for (const node of dead) await this.bury(node);
  }

  /** Zeroes one batch of a dead node's counts; the node is forgotten once it counts nothing.
   * Resolves true then. */
  private async bury(node: string): Promise<boolean> {
    const nodeKey = this.nodeKey(node);
    // HSCAN from 0 may answer an empty page (a run of emptied buckets) while entries remain: only
    // cursor 0 means the scan saw everything, so page on within this sweep until a batch is found.
    let cursor = '0';
    let flat: string[] = [];
    do {
      [cursor, flat] = await this.connection.run((r) => r.hscan(nodeKey, cursor, 'COUNT', SWEEP_BATCH));
    } while (flat.length === 0 && cursor !== '0');
    for (let i = 0; i < flat.length; i += 2) {
      const [cache, topic, tokenId] = splitMember(flat[i]!);
      const keys = this.topicKeys(cache, topic);
      const [event, graceEnd] = await this.script('tidingsPresenceSet', keys.members, keys.untracked, this.k.leaving, nodeKey, this.k.events, this.k.nodes, keys.untrackedUsers,
        cache, topic, tokenId, 0, this.clock.now(), this.config.leaveGraceMs, this.config.maxMembersPerTopic, node, 1, this.config.maxPendingLeaves) as [string, number];
      if (event === 'leave') this.changed('leave', cache, topic, tokenId);
      if (Number(graceEnd) > 0) this.leaveAfterGrace(flat[i]!, cache, topic, tokenId, Number(graceEnd));
    }
    if (flat.length === 0) {
      this.log.info({ node }, 'presence: removed the members of a node that stopped renewing its heartbeat');
      await this.connection.run((r) => r.srem(this.k.dead, node));
    }
    return flat.length === 0;
  }

  // -- events ------------------------------------------------------------------------------------

  /** Runs the observers on the one node that decided the event. */
  private changed(kind: 'join' | 'leave', cache: string, topic: string, tokenId: string): void {
    const change: PresenceChange = { kind, cache, topic, tokenId, ts: this.clock.now() };
    for (const listener of this.listeners) listener(change);
  }

  /** Every node: one event from the channel, encoded once, fanned out to the local watchers. */
  private onEvent(message: string): void {
    const kind = message[0] === 'J' ? 'join' : 'leave';
    const [cache, topic, tokenId] = splitMember(message.slice(1));
    this.tell(kind, cache, topic, tokenId);
    const w = this.watched.get(`${cache}\u0000${topic}`);
    if (!w) return;
    if (w.queued) w.queued.push([kind, tokenId]);
    else if (kind === 'join') w.known.add(tokenId);
    else w.known.delete(tokenId);
  }

  /** One join/leave frame to the topic's local watchers. */
  private tell(kind: 'join' | 'leave', cache: string, topic: string, tokenId: string): void {
    const frame: PresenceEventFrame = { t: kind, cache, topic, tokenId };
    this.publish?.(presenceKey(cache, topic), encodeFrame(frame).slice());
  }

  private topicKeys(cache: string, topic: string): { members: string; untracked: string; untrackedUsers: string } {
    const members = `${this.k.prefix}${cache}\u0000${topic}`;
    return { members, untracked: `${members}\u0000u`, untrackedUsers: `${members}\u0000uw` };
  }

  private nodeKey(node: string): string {
    return `${this.k.prefix}\u0000n:${node}`;
  }

  private script(name: PresenceScriptName, ...args: Array<string | number>): Promise<unknown> {
    return this.connection.script(name, args, false);
  }
}

function newNodeId(): string {
  return randomBytes(9).toString('base64url');
}

/** `<cache>\0<topic>\0<tokenId>`: cache and topic names cannot contain U+0000; a tokenId may. */
function memberOf(cache: string, topic: string, tokenId: string): string {
  return `${cache}\u0000${topic}\u0000${tokenId}`;
}

function splitMember(member: string): [string, string, string] {
  const a = member.indexOf('\u0000');
  const b = member.indexOf('\u0000', a + 1);
  return [member.slice(0, a), member.slice(a + 1, b), member.slice(b + 1)];
}
