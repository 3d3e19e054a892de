/** Follows stored in Redis for every node (notify/followers.ts Followers; docs/operations.md
 * "Follows, push subscriptions and webhooks are shared"). Per tokenId a SET of its topics
 * (`["cache","topic"]`), an index SET of the tokenIds that follow anything, and the deployment's
 * count; the bounds (notify.maxFollowsPerToken, notify.maxFollows) are checked by the write's own
 * script, so they hold across nodes. A write is acknowledged once Redis has it; each node mirrors
 * every follow in a MemoryFollowers (redis-mirror.ts), so the publish hook's lookup stays
 * synchronous and a publish through any node reaches every follower. */
import type { Redis } from 'ioredis';
import { LimitCause } from '../../protocol/index.js';
import type { NotifyConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { limitExceeded } from '../../core/errors.js';
import type { RedisConnection } from '../../core/redis-connection.js';
import { MemoryFollowers, type Followers } from '../../notify/followers.js';
import { RedisMirror } from './redis-mirror.js';

/** KEYS: token set, index, count. ARGV: member, tokenId, maxPerToken, max, channel, message. */
const FOLLOW = `
local S, I, C = KEYS[1], KEYS[2], KEYS[3]
if redis.call('SISMEMBER', S, ARGV[1]) == 1 then return 'ok' end
if redis.call('SCARD', S) >= tonumber(ARGV[3]) then return 'token' end
if tonumber(redis.call('GET', C) or '0') >= tonumber(ARGV[4]) then return 'full' end
redis.call('SADD', S, ARGV[1])
redis.call('SADD', I, ARGV[2])
redis.call('INCR', C)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 'ok'`;

/** KEYS: token set, index, count. ARGV: member, tokenId, channel, message. */
const UNFOLLOW = `
local S, I, C = KEYS[1], KEYS[2], KEYS[3]
if redis.call('SREM', S, ARGV[1]) == 0 then return 0 end
redis.call('DECR', C)
if redis.call('SCARD', S) == 0 then redis.call('SREM', I, ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

/** KEYS: token set, index, count. ARGV: tokenId, channel, message. */
const FORGET = `
local S, I, C = KEYS[1], KEYS[2], KEYS[3]
local n = redis.call('SCARD', S)
if n == 0 then return 0 end
redis.call('DEL', S)
redis.call('DECRBY', C, n)
redis.call('SREM', I, ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`;

/** One page of a load (redis-mirror.ts): the index scanned from a cursor until about `page size`
 * follows are read, or after `page size` scan steps (a sparse index), each tokenId's set whole.
 * KEYS: index. ARGV: token set prefix, cursor, page size. {next cursor, {tokenId, ...}} */
const LOAD = `
local cursor, want, calls, reply = ARGV[2], tonumber(ARGV[3]) * 2, tonumber(ARGV[3]), {}
repeat
  calls = calls - 1
  local scan = redis.call('SSCAN', KEYS[1], cursor, 'COUNT', 10)
  cursor = scan[1]
  for _, id in ipairs(scan[2]) do
    for _, m in ipairs(redis.call('SMEMBERS', ARGV[1] .. id)) do reply[#reply + 1] = id; reply[#reply + 1] = m end
  end
until cursor == '0' or #reply >= want or calls == 0
return {cursor, reply}`;

/** Announced changes (after the message id, redis-mirror.ts): `["+", tokenId, cache, topic]`, `["-", tokenId, cache, topic]`, `["x", tokenId]`. */
type Change = ['+' | '-', string, string, string] | ['x', string];

/** The copy holds what Redis holds: the bounds are the write scripts' (redis-mirror.ts says why a
 * bound on the copy would lose follows for good). */
const UNBOUNDED: Pick<NotifyConfig, 'maxFollowsPerToken' | 'maxFollows'> = { maxFollowsPerToken: Number.POSITIVE_INFINITY, maxFollows: Number.POSITIVE_INFINITY };

export class RedisFollowers implements Followers {
  private mirror: MemoryFollowers;
  private readonly mirroring: RedisMirror<Change>;
  private readonly tokenPrefix: string;
  private readonly index: string;
  private readonly count: string;

  constructor(private readonly config: NotifyConfig, private readonly connection: RedisConnection, subscriber: Redis, prefix: string, private readonly log: Logger,
    loadPageSize: number) {
    this.mirror = new MemoryFollowers(UNBOUNDED);
    this.tokenPrefix = `${prefix}n:f:`;
    this.index = `${prefix}n:\u0000f:tokens`;
    this.count = `${prefix}n:\u0000f:count`;
    connection.defineScript('tidingsFollow', FOLLOW, 3);
    connection.defineScript('tidingsUnfollow', UNFOLLOW, 3);
    connection.defineScript('tidingsFollowsForget', FORGET, 3);
    connection.defineScript('tidingsFollowsLoad', LOAD, 1);
    this.mirroring = new RedisMirror(connection, subscriber, `${prefix}n:\u0000f:channel`, 'tidingsFollowsLoad', () => [this.index, this.tokenPrefix], loadPageSize,
      { replace: (reply) => this.replace(reply), apply: (change) => this.change(change) }, log, 'follows');
  }

  start(): Promise<void> { return this.mirroring.start(); }

  async follow(tokenId: string, cache: string, topic: string): Promise<void> {
    const change: Change = ['+', tokenId, cache, topic];
    const { reply, unheard } = await this.mirroring.write(change, (message) => this.connection.script<string>('tidingsFollow', [
      this.tokenPrefix + tokenId, this.index, this.count, JSON.stringify([cache, topic]), tokenId,
      this.config.maxFollowsPerToken, this.config.maxFollows, this.mirroring.channel, message], false));
    if (reply === 'token') throw limitExceeded(LimitCause.FOLLOWS, `a tokenId may follow at most ${this.config.maxFollowsPerToken} topics`);
    if (reply === 'full') throw limitExceeded(LimitCause.FOLLOWS, `the deployment holds at most ${this.config.maxFollows} follows`);
    // In force here at once (unless heard already); the other nodes hear it on the channel.
    if (unheard) this.change(change);
  }

  async unfollow(tokenId: string, cache: string, topic: string): Promise<void> {
    const change: Change = ['-', tokenId, cache, topic];
    const { unheard } = await this.mirroring.write(change, (message) => this.connection.script('tidingsUnfollow', [
      this.tokenPrefix + tokenId, this.index, this.count, JSON.stringify([cache, topic]), tokenId, this.mirroring.channel, message], false));
    if (unheard) this.change(change);
  }

  /** Out of this node's copy at once (a revoked credential's follows stop here even when Redis is
   * away), then out of Redis. */
  async forget(tokenId: string): Promise<void> {
    this.mirror.forget(tokenId);
    await this.mirroring.write(['x', tokenId], (message) =>
      this.connection.script('tidingsFollowsForget', [this.tokenPrefix + tokenId, this.index, this.count, tokenId, this.mirroring.channel, message], false));
  }

  of(cache: string, topic: string): ReadonlySet<string> | undefined {
    return this.mirror.of(cache, topic);
  }

  /** Follows in this node's copy. */
  get size(): number { return this.mirror.size; }

  private replace(reply: unknown[]): void {
    const fresh = new MemoryFollowers(UNBOUNDED);
    for (let i = 0; i + 1 < reply.length; i += 2) {
      try {
        const [cache, topic] = JSON.parse(String(reply[i + 1])) as [string, string];
        fresh.follow(String(reply[i]), cache, topic);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'a stored follow was not loaded');
      }
    }
    this.mirror = fresh;
  }

  private change(change: Change): void {
    try {
      if (change[0] === 'x') this.mirror.forget(change[1]);
      else if (change[0] === '-') this.mirror.unfollow(change[1], change[2], change[3]);
      else this.mirror.follow(change[1], change[2], change[3]);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'a follow was not mirrored');
    }
  }
}
