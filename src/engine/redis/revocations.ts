/** The revocation list shared by every node on one Redis (auth/revocation.ts RevocationList;
 * docs/operations.md, "What is shared"). Entries live in Redis, one hash per entry with a TTL to
 * the end of the credentials it covers, indexed by a sorted set (score: that end) so a node loads
 * them all at start and after a reconnect (once its channel is subscribed again on the new
 * connection: core/redis-resubscribe.ts). Each node mirrors them in a MemoryRevocationList, so the
 * check at every hello stays synchronous, and an entry added anywhere is PUBLISHed: every node
 * adds it to its mirror and closes its own connections that use a covered credential. The bound
 * (auth.maxRevocations) is the deployment's, checked in the script. */
import type { Redis } from 'ioredis';
import { LimitCause } from '../../protocol/index.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { limitExceeded } from '../../core/errors.js';
import type { RedisConnection } from '../../core/redis-connection.js';
import { reloadAfterResubscribe } from '../../core/redis-resubscribe.js';
import { MemoryRevocationList, type RevocableCredential, type Revocation, type RevocationList, type RevocationListener } from '../../auth/revocation.js';

/** KEYS: index, entry. ARGV: now, revokedAt, until ('' = never), maxEntries, channel, kind (j|k), id,
 * node. Merges with an entry already there (the later time, the longer life), then publishes
 * `node kind revokedAt until id`. {'ok', revokedAt, until} | {'full'} */
const REVOKE = `
local I, K = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', I, '-inf', now)
local prev = redis.call('HMGET', K, 'revokedAt', 'until')
local revoked_at, till = ARGV[2], ARGV[3]
if prev[1] then
  revoked_at = string.format('%.0f', math.max(tonumber(prev[1]), tonumber(revoked_at)))
  if prev[2] == '' or till == '' then till = '' else till = string.format('%.0f', math.max(tonumber(prev[2]), tonumber(till))) end
elseif redis.call('ZCARD', I) >= tonumber(ARGV[4]) then
  return {'full'}
end
redis.call('HSET', K, 'revokedAt', revoked_at, 'until', till)
if till == '' then
  redis.call('PERSIST', K)
  redis.call('ZADD', I, '+inf', K)
else
  redis.call('PEXPIRE', K, math.max(1, tonumber(till) - now))
  redis.call('ZADD', I, till, K)
end
redis.call('PUBLISH', ARGV[5], ARGV[8] .. ' ' .. ARGV[6] .. ' ' .. revoked_at .. ' ' .. (till == '' and '-' or till) .. ' ' .. ARGV[7])
return {'ok', revoked_at, till}`;

/** KEYS: index. ARGV: now. Every live entry: {key, revokedAt, until}... */
const LOAD = `
local I = KEYS[1]
redis.call('ZREMRANGEBYSCORE', I, '-inf', tonumber(ARGV[1]))
local reply = {}
for _, k in ipairs(redis.call('ZRANGE', I, 0, -1)) do
  local e = redis.call('HMGET', k, 'revokedAt', 'until')
  if e[1] then reply[#reply + 1] = k; reply[#reply + 1] = e[1]; reply[#reply + 1] = e[2] end
end
return reply`;

type Reply = Array<string | number>;

export class RedisRevocationList implements RevocationList {
  private readonly mirror: MemoryRevocationList;
  private readonly index: string;
  private readonly channel: string;
  private readonly entryPrefix: string;

  constructor(
    private readonly maxEntries: number,
    private readonly clock: Clock,
    private readonly connection: RedisConnection,
    private readonly subscriber: Redis,
    prefix: string,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {
    this.mirror = new MemoryRevocationList(maxEntries, clock);
    this.index = `${prefix}r:\u0000index`;
    this.channel = `${prefix}r:\u0000channel`;
    this.entryPrefix = `${prefix}r:`;
    connection.defineScript('tidingsRevoke', REVOKE, 2);
    connection.defineScript('tidingsRevocationsLoad', LOAD, 1);
  }

  /** Subscribes, then loads (so an entry added in between arrives one way or the other). */
  async start(): Promise<void> {
    const channel = Buffer.from(this.channel);
    this.subscriber.on('messageBuffer', (from: Buffer, message: Buffer) => { if (from.equals(channel)) this.onMessage(message.toString()); });
    // Entries added while the link was down were not heard: load them all again, once the channel
    // is subscribed on the new connection (core/redis-resubscribe.ts: else an entry added in between
    // is neither loaded nor heard, and the revoked credential goes on working on this node).
    reloadAfterResubscribe(this.subscriber, this.channel, () => this.load(false), this.log, 'revocations');
    await this.subscriber.subscribe(this.channel);
    await this.load(true);
  }

  get size(): number { return this.mirror.size; }

  async revoke(entry: Revocation): Promise<void> {
    if ((entry.jti === undefined) === (entry.tokenId === undefined)) throw new TypeError('a revocation names exactly one of tokenId and jti');
    const reply = await this.store(entry);
    if (String(reply[0]) === 'full') {
      throw limitExceeded(LimitCause.REVOCATIONS, `the deployment holds its maximum of ${this.maxEntries} revocations (auth.maxRevocations); they leave as the credentials they cover expire`);
    }
    // Here at once (the caller expects it in force when this resolves); other nodes by the channel.
    // This node hears it there too (onMessage), maybe first: then it is held already.
    if (!this.mirror.holds(entry)) await this.mirror.revoke(entry);
  }

  isRevoked(credential: RevocableCredential): boolean {
    return this.mirror.isRevoked(credential);
  }

  /** Writes (merges) the entry into Redis and publishes it (REVOKE). */
  private store(entry: Revocation): Promise<Reply> {
    const [kind, id] = entry.jti !== undefined ? ['j', entry.jti] : ['k', entry.tokenId!];
    return this.connection.script<Reply>('tidingsRevoke', [
      this.index, `${this.entryPrefix}${kind}:${id}`, this.clock.now(), entry.revokedAt, entry.until ?? '', this.maxEntries, this.channel, kind, id, this.nodeId], false);
  }

  subscribe(listener: RevocationListener): () => void {
    return this.mirror.subscribe(listener);
  }

  /** `atStart`: the entries are older than this node (RevocationList.subscribe); a reload after a
   * reconnect finds the ones made while this node did not hear, which its connections may have
   * gone on using. */
  private async load(atStart: boolean): Promise<void> {
    const reply = await this.connection.script<Reply>('tidingsRevocationsLoad', [this.index, this.clock.now()], false);
    const loaded = new Set<string>();
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const key = String(reply[i]).slice(this.entryPrefix.length);
      loaded.add(key);
      const until = String(reply[i + 2]);
      this.apply(key[0]!, key.slice(2), Number(reply[i + 1]), until === '' ? null : Number(until), atStart);
    }
    if (!atStart) await this.restore(loaded);
  }

  /** After a reconnect: entries this node holds that Redis no longer has (it came back empty, or
   * from an older snapshot) are written back. Nothing removes a live entry on purpose (none is
   * ever evicted: that would silently un-revoke, docs/tokens.md), so a missing one was lost, and
   * without this a node started from now on would accept the revoked credential. A write that
   * fails fails the reload, which is tried again (core/redis-resubscribe.ts). */
  private async restore(loaded: Set<string>): Promise<void> {
    const missing = [...this.mirror.entries()].filter((e) => !loaded.has(e.jti !== undefined ? `j:${e.jti}` : `k:${e.tokenId}`));
    if (missing.length === 0) return;
    this.log.warn({ entries: missing.length }, 'revocations missing in Redis (it lost data); writing them back');
    for (const entry of missing) {
      const reply = await this.store(entry);
      if (String(reply[0]) === 'full') { this.log.error({ max: this.maxEntries }, 'revocations could not all be written back: auth.maxRevocations reached'); return; }
    }
  }

  private onMessage(message: string): void {
    // `node kind revokedAt until id`: the id last, since it may contain spaces. This node's own
    // entries too: a revoke whose answer was lost (TIMEOUT_ERROR, yet run and published) is in
    // force here only through this; one it mirrored already is skipped (apply: holds).
    const parts = message.split(' ');
    if (parts.length < 5) return;
    this.apply(parts[1]!, parts.slice(4).join(' '), Number(parts[2]), parts[3] === '-' ? null : Number(parts[3]), false);
  }

  /** `atStart`: found by the load at start (RevocationList.subscribe). */
  private apply(kind: string, id: string, revokedAt: number, until: number | null, atStart: boolean): void {
    const entry: Revocation = kind === 'j' ? { jti: id, revokedAt, until } : { tokenId: id, revokedAt, until };
    // Known already, whole (a reload after a reconnect brings every entry again): no listener call,
    // so connections are not walked once per entry. A widened entry (a longer until) is merged.
    if (this.mirror.holds(entry)) return;
    // The mirror's bound equals the deployment's, so a full mirror only means entries expiring now.
    this.mirror.revoke(entry, atStart).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'revocation not mirrored'));
  }
}
