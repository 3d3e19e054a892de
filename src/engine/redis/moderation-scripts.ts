/** Lua scripts of moderator groups in Redis (engine/redis/moderation.ts; docs/operations.md,
 * "Moderator groups across nodes").
 *
 * Why lists and hashes rather than a Stream consumer group: an item handed back (nack, ack timeout,
 * member or node gone) must go out again *ahead of* newer items and to any node, with its attempt
 * count kept, and an `accept` must publish and settle in one step; a PEL owned by one consumer
 * does neither without extra round trips. Each step below is one script, so every node sees a
 * group change atomically.
 *
 * Keys of group (cache, name), B = `<prefix>m:<cache>\0<name>`:
 *   B        HASH  pattern, next (item id counter), bytes (buffered value bytes), idle (since when)
 *   B\0q     LIST  ids of buffered items, handed-back ones at the head, fresh ones at the tail
 *   B\0i     HASH  id -> `page,seq,ts,bytes,output\0<msgpack {c,t,v,k?,o?}>`
 *   B\0a     HASH  id -> deliveries so far
 *   B\0l     HASH  id -> the member that had it last
 *   B\0f     HASH  id -> the node holding it (in flight)
 *   B\0c     HASH  id -> which claim of it that is, `<claim call>:<B's claims counter>`: a hand-back
 *                  or settle names the claim, so a late or retried one of an earlier claim by the
 *                  same node changes nothing; the claim call (the node's own number for it) lets a
 *                  node undo a claim whose reply it never got (tidingsGroupUnclaim)
 *   B\0m     HASH  member connection id -> its node
 * and per deployment: D = `<prefix>m:<cache>` HASH group -> pattern, `\0v` -> directory version
 * (deleted with its last group); `<prefix>m:\0groups` SET of every group's B;
 * `<prefix>m:\0groups\0v` the counter directory versions come from (g_new_version);
 * `<prefix>m:\0bytes` buffered bytes of all groups;
 * `<prefix>m:\0node:<id>` a node's heartbeat (PX moderation.nodeTimeoutMs): the number of the
 * node's heartbeat that last found it gone (tidingsNodeBeat).
 * Group scripts derive B's sub-keys from B (one Redis, not Redis Cluster: docs/operations.md). */

export const GROUP_PRELUDE = `
local function gk(B, s) return B .. '\\0' .. s end

local function g_bytes_of(rec)
  local _, _, b = string.find(rec, '^[^,]*,[^,]*,[^,]*,(%d+),')
  return tonumber(b)
end

-- A group with no member, no buffered item and nothing in flight is idle since now.
local function g_touch(B, now)
  if redis.call('EXISTS', B) == 0 then return end
  if redis.call('HLEN', gk(B, 'm')) == 0 and redis.call('LLEN', gk(B, 'q')) == 0 and redis.call('HLEN', gk(B, 'f')) == 0 then
    redis.call('HSETNX', B, 'idle', string.format('%.0f', now))
  else
    redis.call('HDEL', B, 'idle')
  end
end

local function g_expired(B, now, idle_ms)
  local idle = redis.call('HGET', B, 'idle')
  return idle and now - tonumber(idle) >= idle_ms
end

local function g_delete_item(B, id)
  for _, s in ipairs({'i', 'a', 'l', 'f', 'c'}) do redis.call('HDEL', gk(B, s), id) end
end

-- A directory changed: it gets a version from one counter of the deployment, kept at or above
-- every version a directory has had (earlier releases counted per directory), so a directory gone
-- with its last group and made again later never repeats a version a node still holds. Still a
-- number, as HINCRBY of earlier releases expects. A directory left with no group is deleted:
-- nothing stays behind per cache.
local function g_new_version(D, Gset)
  local V = Gset .. '\\0v'
  local cur = tonumber(redis.call('HGET', D, '\\0v') or '0')
  if tonumber(redis.call('GET', V) or '0') < cur then redis.call('SET', V, string.format('%.0f', cur)) end
  if redis.call('HLEN', D) - redis.call('HEXISTS', D, '\\0v') == 0 then
    redis.call('DEL', D)
    return
  end
  redis.call('HSET', D, '\\0v', string.format('%.0f', redis.call('INCR', V)))
end

local function g_forget(B, D, name, Gset, Gbytes)
  local bytes = tonumber(redis.call('HGET', B, 'bytes') or '0')
  if bytes > 0 then redis.call('DECRBY', Gbytes, bytes) end
  redis.call('DEL', B, gk(B, 'q'), gk(B, 'i'), gk(B, 'a'), gk(B, 'l'), gk(B, 'f'), gk(B, 'c'), gk(B, 'm'))
  redis.call('HDEL', D, name)
  g_new_version(D, Gset)
  redis.call('SREM', Gset, B)
end

-- Whether node holds item id under this claim (moderation.ts Held.tag).
local function g_holds(B, id, node, claim)
  return redis.call('HGET', gk(B, 'f'), id) == node and redis.call('HGET', gk(B, 'c'), id) == claim
end

-- A msgpack str or bin at byte i of s, as msgpackr writes them: its bytes and the index after it.
local MP_LENGTH = {[0xd9] = 'B', [0xc4] = 'B', [0xda] = '>I2', [0xc5] = '>I2', [0xdb] = '>I4', [0xc6] = '>I4'}
local function g_mp_bytes(s, i)
  local b = string.byte(s, i)
  local n
  if b >= 0xa0 and b <= 0xbf then n, i = b - 0xa0, i + 1 else n, i = struct.unpack(MP_LENGTH[b], s, i + 1) end
  return string.sub(s, i, i + n - 1), i + n
end

-- Publishes the sender's \`rejected\` (docs/protocol.md) for the item of record rec on the direct
-- channel, whose nodes hand it to the sender's connection (moderation.ts onMessage), in the step
-- that settles the item: a node that never gets the reply cannot tell whether to send it. Nothing
-- when rec names no connection. The record's map {c, t, v, k?, o?} (moderation.ts plan()) holds
-- strs and bins only; it is read here, not with cmsgpack, which reads no bin (a binary v).
local function g_tell_sender(direct, rec, reason, by)
  local page, seq, at = string.match(rec, '^(%d+),(%d+),[^%z]*%z()')
  local fields, n = {}, string.byte(rec, at)
  if n == 0xde then n, at = struct.unpack('>I2', rec, at + 1) else n, at = n - 0x80, at + 1 end
  for _ = 1, n do
    local key, value
    key, at = g_mp_bytes(rec, at)
    value, at = g_mp_bytes(rec, at)
    fields[key] = value
  end
  if not fields.o then return end
  -- A map of 7 (0x87), in the order of the memory engine's frame.
  redis.call('PUBLISH', direct, fields.o .. ' \\135' .. cmsgpack.pack('t', 'rejected', 'cache', fields.c, 'topic', fields.t,
    'page', tonumber(page), 'seq', tonumber(seq), 'reason', reason, 'by', by))
end

-- Puts an in-flight item back at the head of the queue, or gives it up after max_attempts
-- deliveries, telling its sender on the direct channel (returns true then). undo: the claim is
-- cancelled, not an attempt.
local function g_back(B, Gbytes, id, last, max_attempts, undo, direct)
  redis.call('HDEL', gk(B, 'f'), id)
  redis.call('HDEL', gk(B, 'c'), id)
  local rec = redis.call('HGET', gk(B, 'i'), id)
  if not rec then return false end
  local attempts
  if undo then attempts = redis.call('HINCRBY', gk(B, 'a'), id, -1) else attempts = tonumber(redis.call('HGET', gk(B, 'a'), id) or '0') end
  if not undo and attempts >= max_attempts then
    g_delete_item(B, id)
    g_tell_sender(direct, rec, 'not moderated after ' .. attempts .. ' delivery attempts', 'server')
    return true
  end
  redis.call('LPUSH', gk(B, 'q'), id)
  if last ~= '' then redis.call('HSET', gk(B, 'l'), id, last) end
  local b = g_bytes_of(rec)
  redis.call('HINCRBY', B, 'bytes', b)
  redis.call('INCRBY', Gbytes, b)
  return false
end
`;

/** The feeding half of a publish to a topic (appended to the topic engine's publish script).
 * KEYS after T, S, P: D, Gset, Gbytes, B1..Bn. ARGV after now, ttl, keep, channel, head, tail:
 * [7] directory version the node planned with, [8] bufferItems, [9] bufferBytes,
 * [10] totalBufferBytes, [11] groupIdleMs, [12] item bytes, [13] item blob, then per group name,
 * output, the page of the topic the node holds (0 when none) and last the idempotency key and its
 * window (store/redis/scripts.ts idempotent()).
 * Returns {seq, page, ts}, {'stale'} (the node's copy of the directory is out of date: reload, retry),
 * {'full', group index, members} or {'total'}; refused publishes change nothing. */
export const FED_PUBLISH = `
local D, Gset, Gbytes = KEYS[4], KEYS[5], KEYS[6]
if (redis.call('HGET', D, '\\0v') or '') ~= ARGV[7] then return {'stale'} end
local n = #KEYS - 6
local bytes = tonumber(ARGV[12])
for g = 1, n do
  local B = KEYS[6 + g]
  if g_expired(B, now, tonumber(ARGV[11])) then
    g_forget(B, D, ARGV[12 + 2 * g], Gset, Gbytes)
    return {'stale'}
  end
  if redis.call('LLEN', gk(B, 'q')) >= tonumber(ARGV[8]) or tonumber(redis.call('HGET', B, 'bytes') or '0') + bytes > tonumber(ARGV[9]) then
    return {'full', g, redis.call('HLEN', gk(B, 'm'))}
  end
end
if n > 0 and tonumber(redis.call('GET', Gbytes) or '0') + bytes * n > tonumber(ARGV[10]) then return {'total'} end
local page, seq, created = topic_position(now)
seq = seq + 1
topic_publish(page, seq, created, item_frame(ARGV[5], ARGV[6], seq, page, now), ARGV[4], tonumber(ARGV[3]), tonumber(ARGV[2]))
for g = 1, n do
  local B = KEYS[6 + g]
  local id = tostring(redis.call('HINCRBY', B, 'next', 1))
  redis.call('HSET', gk(B, 'i'), id, topic_ms(page) .. ',' .. topic_ms(seq) .. ',' .. topic_ms(now) .. ',' .. ARGV[12] .. ',' .. ARGV[13 + 2 * g] .. '\\0' .. ARGV[13])
  redis.call('RPUSH', gk(B, 'q'), id)
  redis.call('HINCRBY', B, 'bytes', bytes)
  redis.call('HDEL', B, 'idle')
  redis.call('INCRBY', Gbytes, bytes)
  redis.call('PUBLISH', B, 'w')
end
return {seq, page, now}`;

/** An accepted delivery: pubAppend's body guarded by "this node still holds the item", and the
 * item settled in the same step. KEYS: K, M, T, S, P, B; ARGV: pubAppend's, then item id, node, claim tag. */
export const ACCEPT_GUARD = `
local B = KEYS[6]
if not g_holds(B, ARGV[18], ARGV[19], ARGV[20]) then return {'not_held'} end`;
export const ACCEPT_SETTLE = `
g_delete_item(B, ARGV[18])
g_touch(B, now)`;

/** Members of nodes whose heartbeat expired leave B, and the items those nodes held go back to
 * its queue (returns how many were given up, as tidingsGroupBack). */
const GROUP_REAP = `
local function g_reap(B, Gbytes, heartbeat_prefix, now, max_attempts, direct)
  local alive = {}
  local function live(node)
    if alive[node] == nil then alive[node] = redis.call('EXISTS', heartbeat_prefix .. node) == 1 end
    return alive[node]
  end
  local members = redis.call('HGETALL', gk(B, 'm'))
  for i = 1, #members, 2 do
    if not live(members[i + 1]) then redis.call('HDEL', gk(B, 'm'), members[i]) end
  end
  local dead, back = 0, false
  local held = redis.call('HGETALL', gk(B, 'f'))
  for i = 1, #held, 2 do
    if not live(held[i + 1]) then
      back = true
      if g_back(B, Gbytes, held[i], '', max_attempts, false, direct) then dead = dead + 1 end
    end
  end
  if back then redis.call('PUBLISH', B, 'w') end
  g_touch(B, now)
  return dead
end`;

export const GROUP_SCRIPTS = {
  /** A node's heartbeat: renews its key for nodeTimeoutMs, or makes it anew holding this heartbeat's
   * number, so that a node whose heartbeat found the key gone learns it from a later heartbeat too
   * when the answer of that one was lost (it was taken for gone: moderation.ts heartbeat()).
   * KEYS: the node's heartbeat key. ARGV: nodeTimeoutMs, this heartbeat's number. Returns the
   * number of the heartbeat that last found the key gone. */
  tidingsNodeBeat: {
    keys: 1,
    lua: `
local found = redis.call('GET', KEYS[1]) or ARGV[2]
redis.call('SET', KEYS[1], found, 'PX', ARGV[1])
return tonumber(found)`,
  },

  /** KEYS: D, Gset, Gbytes, B. ARGV: name, pattern, member, node, now, maxGroups, groupIdleMs.
   * {'ok', members, buffered} | {'pattern', existing} | {'groups'} | {'exists', members, buffered} */
  tidingsGroupJoin: {
    keys: 4,
    lua: `${GROUP_PRELUDE}
local D, Gset, Gbytes, B = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[5])
local existing = redis.call('HGET', D, ARGV[1])
if existing and g_expired(B, now, tonumber(ARGV[7])) then
  g_forget(B, D, ARGV[1], Gset, Gbytes)
  existing = false
end
if existing and existing ~= ARGV[2] then return {'pattern', existing} end
if not existing then
  if redis.call('SCARD', Gset) >= tonumber(ARGV[6]) then
    -- At the bound: forget idle groups first (O(groups), only here), as the memory engine does.
    for _, b in ipairs(redis.call('SMEMBERS', Gset)) do
      if g_expired(b, now, tonumber(ARGV[7])) then
        local d, name = string.match(b, '^(.*)%z([^%z]*)$')
        g_forget(b, d, name, Gset, Gbytes)
      end
    end
  end
  if redis.call('SCARD', Gset) >= tonumber(ARGV[6]) then return {'groups'} end
  redis.call('HSET', D, ARGV[1], ARGV[2])
  g_new_version(D, Gset)
  redis.call('SADD', Gset, B)
  redis.call('HSET', B, 'pattern', ARGV[2])
end
if redis.call('HEXISTS', gk(B, 'm'), ARGV[3]) == 1 then return {'exists', redis.call('HLEN', gk(B, 'm')), redis.call('LLEN', gk(B, 'q'))} end
redis.call('HSET', gk(B, 'm'), ARGV[3], ARGV[4])
redis.call('HDEL', B, 'idle')
return {'ok', redis.call('HLEN', gk(B, 'm')), redis.call('LLEN', gk(B, 'q'))}`,
  },

  /** Takes up to `count` buffered items for this node, handed-back ones first. `sole` is the
   * node's only member with room ('' when it has several): an item that member had last stays
   * queued for another member of the group, wherever it is, while there is one.
   * A node whose heartbeat (ARGV[4], its key) has expired claims nothing: other nodes take it for
   * gone and would hand what it claims to members elsewhere; it renews the heartbeat and registers
   * its members again first (moderation.ts heartbeat()).
   * KEYS: B, Gbytes. ARGV: node, count, sole, heartbeat key, claim call. {id, attempts, lastMember, record, claim tag}...
   * then the number of items still queued (the node's stats; absent when the heartbeat expired). */
  tidingsGroupClaim: {
    keys: 2,
    lua: `${GROUP_PRELUDE}
local B, Gbytes = KEYS[1], KEYS[2]
if redis.call('EXISTS', ARGV[4]) == 0 then return {} end
local ids = redis.call('LPOP', gk(B, 'q'), tonumber(ARGV[2]))
local reply = {}
if not ids then return {0} end
local sole = ARGV[3]
local others = sole ~= '' and redis.call('HLEN', gk(B, 'm')) > 1
local skipped = {}
local total = 0
for _, id in ipairs(ids) do
  local rec = redis.call('HGET', gk(B, 'i'), id)
  if rec then
    local last = redis.call('HGET', gk(B, 'l'), id) or ''
    if others and last == sole then
      skipped[#skipped + 1] = id
    else
      local attempts = redis.call('HINCRBY', gk(B, 'a'), id, 1)
      local tag = ARGV[5] .. ':' .. tostring(redis.call('HINCRBY', B, 'claims', 1))
      redis.call('HSET', gk(B, 'f'), id, ARGV[1])
      redis.call('HSET', gk(B, 'c'), id, tag)
      total = total + g_bytes_of(rec)
      reply[#reply + 1] = id
      reply[#reply + 1] = attempts
      reply[#reply + 1] = last
      reply[#reply + 1] = rec
      reply[#reply + 1] = tag
    end
  end
end
for i = #skipped, 1, -1 do redis.call('LPUSH', gk(B, 'q'), skipped[i]) end
if total > 0 then
  redis.call('HINCRBY', B, 'bytes', -total)
  redis.call('DECRBY', Gbytes, total)
end
reply[#reply + 1] = redis.call('LLEN', gk(B, 'q'))
return reply`,
  },

  /** Undoes a claim call whose reply the node never got (a timeout: Redis may have run it all the
   * same): the items it took for this node, which the node does not know it holds and so would never
   * settle or hand back, go back to the head of the queue, the attempt not counted. Until this has
   * run the node claims nothing more for the group (moderation.ts pump), so at most one call per
   * group is in doubt. KEYS: B, Gbytes. ARGV: node, now, claim call. Returns how many went back. */
  tidingsGroupUnclaim: {
    keys: 2,
    lua: `${GROUP_PRELUDE}
local B, Gbytes = KEYS[1], KEYS[2]
local prefix = ARGV[3] .. ':'
local claims = redis.call('HGETALL', gk(B, 'c'))
local back = 0
for i = 1, #claims, 2 do
  if string.sub(claims[i + 1], 1, #prefix) == prefix and redis.call('HGET', gk(B, 'f'), claims[i]) == ARGV[1] then
    g_back(B, Gbytes, claims[i], '', 0, true)
    back = back + 1
  end
end
if back > 0 then redis.call('PUBLISH', B, 'w') end
g_touch(B, tonumber(ARGV[2]))
return back`,
  },

  /** Hands items this node holds back to the group (nack, ack timeout, member gone, or a claim
   * the node could not place: undo). KEYS: B, Gbytes. ARGV: node, now, maxAttempts, undo (1/0),
   * last member ('' = none), the direct channel, then id and claim tag pairs. Returns how many
   * were given up (their senders told in this step: g_back). */
  tidingsGroupBack: {
    keys: 2,
    lua: `${GROUP_PRELUDE}
local B, Gbytes = KEYS[1], KEYS[2]
local dead = 0
for i = #ARGV - 1, 7, -2 do
  local id = ARGV[i]
  if g_holds(B, id, ARGV[1], ARGV[i + 1]) and g_back(B, Gbytes, id, ARGV[5], tonumber(ARGV[3]), ARGV[4] == '1', ARGV[6]) then dead = dead + 1 end
end
if #ARGV >= 7 then redis.call('PUBLISH', B, 'w') end
g_touch(B, tonumber(ARGV[2]))
return dead`,
  },

  /** Settles an item this node holds without publishing (reject), and tells the sender in the same
   * step (g_tell_sender). KEYS: B. ARGV: node, now, id, claim tag, the direct channel, the reason.
   * {'ok'} | {'not_held'} */
  tidingsGroupSettle: {
    keys: 1,
    lua: `${GROUP_PRELUDE}
local B = KEYS[1]
if not g_holds(B, ARGV[3], ARGV[1], ARGV[4]) then return {'not_held'} end
g_tell_sender(ARGV[5], redis.call('HGET', gk(B, 'i'), ARGV[3]), ARGV[6], 'moderator')
g_delete_item(B, ARGV[3])
g_touch(B, tonumber(ARGV[2]))
return {'ok'}`,
  },

  /** Forgets those of the groups B1..Bn idle past groupIdleMs: a pubAppend to their input, refused
   * by the node's copy of the directory, is not refused for a forgotten group (as with the memory
   * engine). KEYS (count given): D, Gset, Gbytes, B1..Bn. ARGV: now, groupIdleMs, name1..namen.
   * Returns how many it forgot. */
  tidingsGroupExpire: {
    keys: undefined,
    lua: `${GROUP_PRELUDE}
local D, Gset, Gbytes = KEYS[1], KEYS[2], KEYS[3]
local now, idle_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local forgotten = 0
for g = 4, #KEYS do
  if g_expired(KEYS[g], now, idle_ms) then
    g_forget(KEYS[g], D, ARGV[g - 1], Gset, Gbytes)
    forgotten = forgotten + 1
  end
end
return forgotten`,
  },

  /** KEYS: B. ARGV: member, now. */
  tidingsGroupLeave: {
    keys: 1,
    lua: `${GROUP_PRELUDE}
local B = KEYS[1]
redis.call('HDEL', gk(B, 'm'), ARGV[1])
g_touch(B, tonumber(ARGV[2]))
return 1`,
  },

  /** A node whose heartbeat expired is gone: its members leave and its items go back to the group.
   * KEYS: B, Gbytes. ARGV: heartbeat key prefix, now, maxAttempts, the direct channel. {how many
   * were given up (as Back), the number of items queued (the node's stats: refreshed every tick
   * even while its members have no room to claim)} */
  tidingsGroupReap: {
    keys: 2,
    lua: `${GROUP_PRELUDE}
${GROUP_REAP}
return {g_reap(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]), redis.call('LLEN', gk(KEYS[1], 'q'))}`,
  },

  /** tidingsGroupReap over a page of every group in the deployment (SSCAN of Gset), so that a group
   * whose members were all on nodes that died is reaped too (no live node has members to reap it),
   * turns idle and is forgotten. KEYS: Gset, Gbytes. ARGV: cursor, page size, heartbeat key prefix,
   * now, maxAttempts, the direct channel. {next cursor, then B and how many it gave up (as Back) for
   * each group that gave up any} */
  tidingsGroupSweep: {
    keys: 2,
    lua: `${GROUP_PRELUDE}
${GROUP_REAP}
local scan = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[2]))
local reply = {scan[1]}
for _, B in ipairs(scan[2]) do
  local dead = g_reap(B, KEYS[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6])
  if dead > 0 then reply[#reply + 1] = B; reply[#reply + 1] = dead end
end
return reply`,
  },
} as const;

export type GroupScriptName = keyof typeof GROUP_SCRIPTS;
