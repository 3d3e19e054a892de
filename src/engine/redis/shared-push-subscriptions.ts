/** Web Push subscriptions stored in Redis for every node (notify/push-subscriptions.ts;
 * docs/operations.md "Follows, push subscriptions and webhooks are shared"). Per tokenId a HASH
 * endpoint -> `{"keys":{"p256dh","auth"},"scope":[...]}` (the scope: the registering credential's
 * subscribe permissions, which the subscription is pushed within), an index SET of the tokenIds that have any, a HASH endpoint ->
 * the tokenId holding it (an endpoint belongs to one tokenId: a registration under another moves
 * it, notify/push-subscriptions.ts), and the deployment's count; push.maxSubscriptionsPerToken and push.maxSubscriptions are checked by the write's own
 * script. A write is acknowledged once Redis has it; each node mirrors every subscription in a
 * MemoryPushSubscriptions (redis-mirror.ts), so whichever node takes a publish can push. A push
 * service's 404/410 on any node removes the subscription here, hence everywhere. */
import type { Redis } from 'ioredis';
import { LimitCause } from '../../protocol/index.js';
import type { Logger } from '../../core/logger.js';
import { TidingsError, limitExceeded } from '../../core/errors.js';
import type { RedisConnection } from '../../core/redis-connection.js';
import { SubscribeScopes } from '../../auth/scopes.js';
import {
  MemoryPushSubscriptions, type PushRegistration, type PushSubscriptionJson, type PushSubscriptionLimits, type PushSubscriptions,
} from '../../notify/push-subscriptions.js';
import { RedisMirror } from './redis-mirror.js';

/** KEYS: token hash, index, count, owners. ARGV: endpoint, keys, tokenId, maxPerToken, max, channel,
 * message, token hash prefix. A known endpoint is replaced (the browser re-registered, its keys may
 * have rotated); one another tokenId holds moves here (out of that tokenId's hash, the count
 * unchanged), within this tokenId's bound. */
const ADD = `
local H, I, C, O = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HEXISTS', H, ARGV[1]) == 0 then
  if redis.call('HLEN', H) >= tonumber(ARGV[4]) then return 'token' end
  local previous = redis.call('HGET', O, ARGV[1])
  local P = previous and (ARGV[8] .. previous)
  if previous and previous ~= ARGV[3] and redis.call('HDEL', P, ARGV[1]) == 1 then
    if redis.call('HLEN', P) == 0 then redis.call('SREM', I, previous) end
  else
    if tonumber(redis.call('GET', C) or '0') >= tonumber(ARGV[5]) then return 'full' end
    redis.call('INCR', C)
  end
  redis.call('SADD', I, ARGV[3])
end
redis.call('HSET', H, ARGV[1], ARGV[2])
redis.call('HSET', O, ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 'ok'`;

/** KEYS: token hash, index, count, owners. ARGV: endpoint, tokenId, channel, message. 1 | 0 */
const REMOVE = `
local H, I, C, O = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('HDEL', H, ARGV[1]) == 0 then return 0 end
redis.call('DECR', C)
if redis.call('HGET', O, ARGV[1]) == ARGV[2] then redis.call('HDEL', O, ARGV[1]) end
if redis.call('HLEN', H) == 0 then redis.call('SREM', I, ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

/** KEYS: token hash, index, count, owners. ARGV: tokenId, channel, message. */
const FORGET = `
local H, I, C, O = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local endpoints = redis.call('HKEYS', H)
local n = #endpoints
if n == 0 then return 0 end
for _, e in ipairs(endpoints) do
  if redis.call('HGET', O, e) == ARGV[1] then redis.call('HDEL', O, e) end
end
redis.call('DEL', H)
redis.call('DECRBY', C, n)
redis.call('SREM', I, ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return n`;

/** One page of a load (redis-mirror.ts): the index scanned from a cursor until about `page size`
 * subscriptions are read, or after `page size` scan steps (a sparse index), each tokenId's hash whole.
 * KEYS: index. ARGV: token hash prefix, cursor, page size. {next cursor, {tokenId, ...}} */
const LOAD = `
local cursor, want, calls, reply = ARGV[2], tonumber(ARGV[3]) * 3, tonumber(ARGV[3]), {}
repeat
  calls = calls - 1
  local scan = redis.call('SSCAN', KEYS[1], cursor, 'COUNT', 10)
  cursor = scan[1]
  for _, id in ipairs(scan[2]) do
    local h = redis.call('HGETALL', ARGV[1] .. id)
    for i = 1, #h, 2 do reply[#reply + 1] = id; reply[#reply + 1] = h[i]; reply[#reply + 1] = h[i + 1] end
  end
until cursor == '0' or #reply >= want or calls == 0
return {cursor, reply}`;

/** Announced changes (after the message id, redis-mirror.ts): `["+", tokenId, subscription, scope]`
 * (a move too: the copy moves it as the script did; `scope`: the subscribe permissions),
 * `["-", tokenId, endpoint]`, `["x", tokenId]`. */
type Change = ['+', string, PushSubscriptionJson, unknown] | ['-', string, string] | ['x', string];

/** What the token hash holds per endpoint. */
interface Stored { keys: PushSubscriptionJson['keys']; scope: unknown }

/** The copy holds what Redis holds: the bounds are the write scripts' (redis-mirror.ts says why a
 * bound on the copy would lose subscriptions for good). */
const UNBOUNDED: PushSubscriptionLimits = { maxSubscriptionsPerToken: Number.POSITIVE_INFINITY, maxSubscriptions: Number.POSITIVE_INFINITY };

export class RedisPushSubscriptions implements PushSubscriptions {
  private mirror: MemoryPushSubscriptions;
  private readonly mirroring: RedisMirror<Change>;
  private readonly tokenPrefix: string;
  private readonly index: string;
  private readonly count: string;
  private readonly owners: string;
  private readonly scopes = new SubscribeScopes();

  constructor(private readonly limits: PushSubscriptionLimits, private readonly connection: RedisConnection, subscriber: Redis, prefix: string, private readonly log: Logger,
    loadPageSize: number) {
    this.mirror = new MemoryPushSubscriptions(UNBOUNDED);
    this.tokenPrefix = `${prefix}n:p:`;
    this.index = `${prefix}n:\u0000p:tokens`;
    this.count = `${prefix}n:\u0000p:count`;
    this.owners = `${prefix}n:\u0000p:owners`;
    connection.defineScript('tidingsPushAdd', ADD, 4);
    connection.defineScript('tidingsPushRemove', REMOVE, 4);
    connection.defineScript('tidingsPushForget', FORGET, 4);
    connection.defineScript('tidingsPushLoad', LOAD, 1);
    this.mirroring = new RedisMirror(connection, subscriber, `${prefix}n:\u0000p:channel`, 'tidingsPushLoad', () => [this.index, this.tokenPrefix], loadPageSize,
      { replace: (reply) => this.replace(reply), apply: (change) => this.change(change) }, log, 'push subscriptions');
  }

  start(): Promise<void> { return this.mirroring.start(); }

  async add(tokenId: string, { endpoint, keys, scope }: PushRegistration): Promise<void> {
    const change: Change = ['+', tokenId, { endpoint, keys }, scope.permissions];
    const stored: Stored = { keys, scope: scope.permissions };
    const { reply, unheard } = await this.mirroring.write(change, (message) => this.connection.script<string>('tidingsPushAdd', [
      this.tokenPrefix + tokenId, this.index, this.count, this.owners, endpoint, JSON.stringify(stored), tokenId,
      this.limits.maxSubscriptionsPerToken, this.limits.maxSubscriptions, this.mirroring.channel, message, this.tokenPrefix], false));
    if (reply === 'token') {
      throw limitExceeded(LimitCause.PUSH_SUBSCRIPTIONS, `a tokenId may register at most ${this.limits.maxSubscriptionsPerToken} push subscriptions`);
    }
    if (reply === 'full') throw limitExceeded(LimitCause.PUSH_SUBSCRIPTIONS, `the deployment holds at most ${this.limits.maxSubscriptions} push subscriptions`);
    // In force here at once (unless heard already); the other nodes hear it on the channel.
    if (unheard) this.change(change);
  }

  async remove(tokenId: string, endpoint: string): Promise<boolean> {
    const change: Change = ['-', tokenId, endpoint];
    const { reply: removed, unheard } = await this.mirroring.write(change, (message) => this.connection.script<number>('tidingsPushRemove', [
      this.tokenPrefix + tokenId, this.index, this.count, this.owners, endpoint, tokenId, this.mirroring.channel, message], false));
    if (unheard) this.change(change);
    return Number(removed) === 1;
  }

  /** Out of this node's copy at once (a revoked credential's endpoints get nothing more from here
   * even when Redis is away), then out of Redis. */
  async forget(tokenId: string): Promise<void> {
    this.mirror.forget(tokenId);
    await this.mirroring.write(['x', tokenId], (message) =>
      this.connection.script('tidingsPushForget', [this.tokenPrefix + tokenId, this.index, this.count, this.owners, tokenId, this.mirroring.channel, message], false));
  }

  of(tokenId: string): readonly PushRegistration[] {
    return this.mirror.of(tokenId);
  }

  /** Subscriptions in this node's copy. */
  get size(): number { return this.mirror.size; }

  /** One stored before subscriptions kept a scope has none: it is not loaded, so it gets nothing
   * until the page registers it again (which replaces it). Those skipped are logged once per load,
   * not once each: a deployment upgrading has one per subscription, and every node loads them at
   * each start and reconnect. */
  private replace(reply: unknown[]): void {
    const fresh = new MemoryPushSubscriptions(UNBOUNDED);
    let skipped = 0;
    let reason: string | undefined;
    for (let i = 0; i + 2 < reply.length; i += 3) {
      try {
        const { keys, scope } = JSON.parse(String(reply[i + 2])) as Stored;
        fresh.add(String(reply[i]), { endpoint: String(reply[i + 1]), keys, scope: this.scopes.parse(scope) });
      } catch (err) {
        skipped++;
        // Ours say what is wrong; a JSON parse error's may quote the stored keys.
        reason ??= err instanceof TidingsError ? err.message : (err as Error).name;
      }
    }
    this.mirror = fresh;
    if (skipped > 0) this.log.warn({ skipped, reason }, 'stored push subscriptions not loaded (no scope, or malformed): they get no push until registered again');
  }

  private change(change: Change): void {
    try {
      if (change[0] === 'x') this.mirror.forget(change[1]);
      else if (change[0] === '-') this.mirror.remove(change[1], change[2]);
      else this.mirror.add(change[1], { ...change[2], scope: this.scopes.parse(change[3]) });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'a push subscription was not mirrored');
    }
  }
}
