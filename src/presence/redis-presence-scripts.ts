/** The Lua scripts of cluster-wide presence (redis-presence.ts). Redis runs one script at a time,
 * so each join and each leave is decided, and published, exactly once across the cluster.
 *
 * Keys (under `<prefix>p:`; names cannot contain U+0000, so joining with it is unambiguous):
 * - M `p:<cache>\0<topic>`: HASH tokenId -> connections on every node (0 = within the leave grace);
 *   at most presence.maxMembersPerTopic fields.
 * - U `p:<cache>\0<topic>\0u`: connections of users beyond the bound (counted, not listed).
 * - W `p:<cache>\0<topic>\0uw`: HASH tokenId -> that user's connections counted in U, on every node:
 *   a user is untracked as a whole, while it has any such connection (its new ones too).
 * - L `p:\0leaving`: ZSET `<cache>\0<topic>\0<tokenId>` -> when its leave grace ends (node clock ms).
 * - N `p:\0nodes`: ZSET nodeId -> last heartbeat (node clock ms).
 * - D `p:\0dead`: SET of nodeIds whose contributions are being removed.
 * - C `p:\0n:<nodeId>`: HASH `<cache>\0<topic>\0<tokenId>` -> "tracked:untracked", what one node
 *   contributes: the record that lets a live node subtract a dead node's connections.
 * - E `p:\0events` (channel): `J|L<cache>\0<topic>\0<tokenId>` for every join and leave.
 *
 * A node never sends increments, only "my count for this (topic, tokenId) is now n": a retry after
 * a failed or timed-out write, or a resync after Redis lost data, can then never count twice. */

export const PRESENCE_SCRIPTS = {
  /** KEYS: M, U, L, C, E, N, W. ARGV: cache, topic, tokenId, n (this node's connections), now, graceMs,
   * maxMembers, nodeId, burying (1: a live node zeroes a dead one's count; skip the liveness check),
   * maxPendingLeaves (L's bound: past it a last connection leaving is a leave at once).
   * Returns {event, graceEnd}: event '' | 'join' | 'leave' | 'buried' (this node was declared
   * dead: it must take a new id and resync); graceEnd > 0 when the user's last connection left. */
  tidingsPresenceSet: {
    keys: 7,
    lua: `local M, U, L, C, E, N, W = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local tokenId, n, now, grace, max = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if ARGV[9] ~= '1' and not redis.call('ZSCORE', N, ARGV[8]) then return {'buried', 0} end
local member = ARGV[1] .. '\\0' .. ARGV[2] .. '\\0' .. tokenId
local m, u = 0, 0
local old = redis.call('HGET', C, member)
if old then
  local i = string.find(old, ':', 1, true)
  m, u = tonumber(string.sub(old, 1, i - 1)), tonumber(string.sub(old, i + 1))
end
local delta = n - (m + u)
local event, graceEnd = '', 0
if delta > 0 then
  local count = redis.call('HGET', M, tokenId)
  if count then
    -- Back within the grace (on any node): the user never left; no leave, no second join.
    if count == '0' then redis.call('ZREM', L, member) end
    redis.call('HINCRBY', M, tokenId, delta)
    m = m + delta
  elseif redis.call('HEXISTS', W, tokenId) == 0 and redis.call('HLEN', M) < max then
    redis.call('HSET', M, tokenId, delta)
    m = m + delta
    event = 'join'
  else
    -- Untracked already (on any node), or no room: counted, not listed, even once there is room.
    redis.call('INCRBY', U, delta)
    redis.call('HINCRBY', W, tokenId, delta)
    u = u + delta
  end
elseif delta < 0 then
  -- Untracked connections go first: which of a user's connections ends does not matter, only counts.
  local fromU = math.min(u, -delta)
  if fromU > 0 then
    u = u - fromU
    if redis.call('DECRBY', U, fromU) <= 0 then redis.call('DEL', U) end
    if redis.call('HINCRBY', W, tokenId, -fromU) <= 0 then redis.call('HDEL', W, tokenId) end
  end
  local fromM = -delta - fromU
  m = m - fromM
  if fromM > 0 and redis.call('HEXISTS', M, tokenId) == 1 then
    local left = redis.call('HINCRBY', M, tokenId, -fromM)
    if left <= 0 then
      if grace == 0 or (not redis.call('ZSCORE', L, member) and redis.call('ZCARD', L) >= tonumber(ARGV[10])) then
        redis.call('HDEL', M, tokenId)
        event = 'leave'
      else
        if left < 0 then redis.call('HSET', M, tokenId, 0) end
        graceEnd = now + grace
        redis.call('ZADD', L, graceEnd, member)
      end
    end
  end
end
if m + u > 0 then redis.call('HSET', C, member, m .. ':' .. u) else redis.call('HDEL', C, member) end
if event ~= '' then redis.call('PUBLISH', E, (event == 'join' and 'J' or 'L') .. member) end
return {event, graceEnd}`,
  },

  /** A leave grace that may have ended. KEYS: M, L, E. ARGV: member, tokenId, now. Returns 1 when
   * this call made the user leave, else 0 (back meanwhile, not due yet, or already handled). */
  tidingsPresenceExpire: {
    keys: 3,
    lua: `local M, L, E = KEYS[1], KEYS[2], KEYS[3]
local score = redis.call('ZSCORE', L, ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[3]) then return 0 end
redis.call('ZREM', L, ARGV[1])
if redis.call('HGET', M, ARGV[2]) ~= '0' then return 0 end
redis.call('HDEL', M, ARGV[2])
redis.call('PUBLISH', E, 'L' .. ARGV[1])
return 1`,
  },

  /** KEYS: N. ARGV: nodeId, now. 1 = renewed; 0 = the node is not registered (declared dead, or
   * Redis lost its data): it must take a new id and resync. */
  tidingsPresenceHeartbeat: {
    keys: 1,
    lua: `if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1`,
  },

  /** Declares nodes silent since `cutoff` dead and returns every node still being buried.
   * KEYS: N, D. ARGV: cutoff, max nodes claimed per call. */
  tidingsPresenceClaimDead: {
    keys: 2,
    lua: `for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  redis.call('ZREM', KEYS[1], node)
  redis.call('SADD', KEYS[2], node)
end
return redis.call('SRANDMEMBER', KEYS[2], tonumber(ARGV[2]))`,
  },

  /** A node going away on purpose. KEYS: N, D, C. ARGV: nodeId. Whatever it still counts is
   * removed by the others, like a dead node's (after the grace: its clients may reconnect elsewhere). */
  tidingsPresenceDepart: {
    keys: 3,
    lua: `redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('SADD', KEYS[2], ARGV[1]) end
return 1`,
  },
} as const;

export type PresenceScriptName = keyof typeof PRESENCE_SCRIPTS;
