/** The Lua scripts of the Redis topic engine. A publish is one script: it takes the topic's next
 * seq (contiguous, engine.ts contract 2), builds the item frame (the node sends it without seq,
 * page and ts; cmsgpack encodes those), appends the message to the topic's capped list of recent
 * messages, refreshes the TTLs and PUBLISHes it. Redis runs scripts one at a time, so every node
 * receives a topic's messages in seq order, and the list and the channel never disagree.
 *
 * Keys of a topic (engine/redis/keys.ts): T = HASH { page, seq }, S = LIST of recent messages,
 * P = the deployment's last page handed out (pages only grow, also when Redis lost a topic).
 * A message is `seq SP page SP frame`: nodes read (seq, page) without decoding the frame and fan
 * the frame out as is (encoded once, cluster-wide). A channel message carrying several items
 * (tidingsTopicPublishBatch) is `*` then, per item, `length SP message`; S holds one message per item. */
import { LIST_PRELUDE, idempotent } from '../../store/redis/scripts.js';
import { ACCEPT_GUARD, ACCEPT_SETTLE, FED_PUBLISH, GROUP_PRELUDE } from './moderation-scripts.js';

/** Topic functions; `base` is the index of T in KEYS (P and S follow), `heldPage` the ARGV (a Lua
 * expression) with the page of the topic the node holds (0 when none). */
function topicPrelude(base: number, heldPage: string): string {
  return `
local T, S, P = KEYS[${base}], KEYS[${base + 1}], KEYS[${base + 2}]
local held_page = tonumber(${heldPage} or '0')
local function topic_ms(n) return string.format('%.0f', n) end

-- A page after every page handed out so far, and after the node's: when Redis lost P too, P alone
-- may be behind the page subscribers hold (a clock behind it), and a smaller page would make their
-- nodes go on under another one, without what was published under it.
local function new_page(at)
  return math.max(at, tonumber(redis.call('GET', P) or '0') + 1, held_page + 1)
end

-- (page, seq, created): the topic's position, or a new page when Redis holds none: a new topic, an
-- idle one that expired, or one Redis lost.
local function topic_position(at)
  local meta = redis.call('HMGET', T, 'page', 'seq')
  if meta[1] then return tonumber(meta[1]), tonumber(meta[2]), false end
  return new_page(at), 0, true
end

local function topic_create(page, ttl)
  redis.call('SET', P, topic_ms(page))
  redis.call('DEL', S)
  redis.call('HSET', T, 'page', topic_ms(page), 'seq', 0)
  redis.call('PEXPIRE', T, ttl)
end

-- The item frame: the node's head and tail around seq, page and ts (codec.ts encodeItemParts).
local function item_frame(head, tail, seq, page, at)
  return head .. cmsgpack.pack(seq, page, at) .. tail
end

local function topic_message(seq, page, frame) return topic_ms(seq) .. ' ' .. topic_ms(page) .. ' ' .. frame end

-- Records messages that took seqs up to seq. Trimming and expiry are amortised, so that most
-- publishes do neither: S is cut back to the newest keep once it holds keep/16 more (its readers
-- take the newest keep), and T and S get ttl + ttl/8 once less than ttl is left (never less than
-- ttl after a publish; S first, as a new S has no TTL).
local function topic_record(seq, messages, keep, ttl)
  redis.call('HSET', T, 'seq', topic_ms(seq))
  if redis.call('RPUSH', S, unpack(messages)) > keep + math.floor(keep / 16) then redis.call('LTRIM', S, -keep, -1) end
  if redis.call('PTTL', S) < ttl then
    local lease = ttl + math.floor(ttl / 8)
    redis.call('PEXPIRE', T, lease)
    redis.call('PEXPIRE', S, lease)
  end
end

-- Records the frame that took seq and publishes it.
local function topic_publish(page, seq, created, frame, channel, keep, ttl)
  if created then topic_create(page, ttl) end
  local message = topic_message(seq, page, frame)
  topic_record(seq, {message}, keep, ttl)
  redis.call('PUBLISH', channel, message)
end
`;
}

/** The list append then the publish, shared by pubAppend and a moderator's accept (ARGV as
 * tidingsPubAppend's); returns the refusal of the append, else falls through with `pushed`,
 * `seq` and `page` set. */
const PUB_APPEND_BODY = `local page, seq, created = topic_position(now)
seq = seq + 1
local header = topic_ms(page) .. ',' .. topic_ms(seq) .. ',' .. topic_ms(now)
if ARGV[10] == '1' then header = header .. ',' .. ARGV[11] end
local element = ARGV[8] .. #header .. ':' .. header .. ARGV[9]
local pushed = push(true, {element}, tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
if pushed[1] ~= 'ok' then return pushed end
topic_publish(page, seq, created, item_frame(ARGV[15], ARGV[16], seq, page, now), ARGV[14], tonumber(ARGV[13]), tonumber(ARGV[12]))
`;

export const TOPIC_SCRIPTS = {
  /** Several publishes to one topic in one step (engine/redis/publish-batches.ts): contiguous
   * seqs, one append to S, one PUBLISH (a batch message when there are several). KEYS: T, S, P,
   * and D (the cache's moderator-group directory, moderation-scripts.ts) when groups are in use.
   * ARGV: now, ttlMs, keep, channel, the directory version the node checked (the topic feeds no
   * group by that version), the page the node holds (0 when none), then head and tail per item.
   * Returns {first seq, page, ts} or {'stale'} (the node's copy of the directory is out of date;
   * nothing was published). */
  tidingsTopicPublishBatch: {
    keys: undefined,
    lua: `local now = tonumber(ARGV[1])
${topicPrelude(1, 'ARGV[6]')}
if #KEYS == 4 and (redis.call('HGET', KEYS[4], '\\0v') or '') ~= ARGV[5] then return {'stale'} end
local ttl, keep = tonumber(ARGV[2]), tonumber(ARGV[3])
local page, seq, created = topic_position(now)
if created then topic_create(page, ttl) end
local first = seq + 1
local messages, parts = {}, {}
for i = 7, #ARGV, 2 do
  seq = seq + 1
  local message = topic_message(seq, page, item_frame(ARGV[i], ARGV[i + 1], seq, page, now))
  messages[#messages + 1] = message
  parts[#parts + 1] = #message .. ' ' .. message
end
topic_record(seq, messages, keep, ttl)
if #messages == 1 then redis.call('PUBLISH', ARGV[4], messages[1]) else redis.call('PUBLISH', ARGV[4], '*' .. table.concat(parts)) end
return {first, page, now}`,
  },

  /** One publish that also feeds the moderator groups the topic is an input of (none: a plain
   * publish), checked and fed in the same step (moderation-scripts.ts FED_PUBLISH; KEYS and ARGV there). The number
   * of keys varies: it is the first argument. */
  tidingsTopicPublishFed: {
    keys: undefined,
    lua: `local now = tonumber(ARGV[1])
${topicPrelude(1, 'ARGV[#ARGV - 2]')}
${GROUP_PRELUDE}
${idempotent(FED_PUBLISH, "type(reply[1]) == 'number'")}`,
  },

  /** KEYS: T, S, P. ARGV: now, ttlMs, keep, the (page, seq) the node holds (0, 0 when none) and
   * the frame of the item it holds at that seq ('' when none). The topic's {page, seq, its newest
   * keep messages...}, creating it when Redis has none, so a subscriber learns its page before the
   * first publish. A topic Redis holds at the page the node saw but at a smaller seq, or with
   * another item at the node's seq (Redis came back from an older snapshot, or a lagging replica
   * took over, and publishes since took those seqs again) goes on under a new page: its seqs would
   * otherwise name items already delivered. So does one at a smaller page than the node's (Redis
   * lost it with the lastPage key, and a publish from a node holding no window of it took a page
   * from a clock behind it): pages only grow. A topic this step creates gets a page above the
   * node's too (topicPrelude). */
  tidingsTopicLoad: {
    keys: 3,
    lua: `local now = tonumber(ARGV[1])
${topicPrelude(1, 'ARGV[4]')}
local ttl = tonumber(ARGV[2])
local known_seq = tonumber(ARGV[5] or '0')
local known_frame = ARGV[6] or ''
local page, seq, created = topic_position(now)
-- Redis went back (behind the node's seq, or another item at the node's position: publishes made
-- after it came back took the same seqs again), or lost the topic with P and a publish from a node
-- holding no window of it made it again under a smaller page (from a clock behind P): the topic
-- goes on under a new, larger page.
local went_back = not created and (page < held_page or (page == held_page and seq < known_seq))
if not went_back and not created and page == held_page and known_seq > 0 and known_frame ~= '' then
  local there = redis.call('LINDEX', S, known_seq - seq - 1)
  went_back = there ~= false and there ~= topic_message(known_seq, page, known_frame)
end
if went_back then page, seq, created = new_page(now), 0, true end
if created then topic_create(page, ttl) end
redis.call('PEXPIRE', T, ttl)
redis.call('PEXPIRE', S, ttl)
local reply = {page, seq}
for _, m in ipairs(redis.call('LRANGE', S, -tonumber(ARGV[3]), -1)) do reply[#reply + 1] = m end
return reply`,
  },

  /** pubAppend as one step: the list append (store/redis/scripts.ts push, limits checked first: a
   * refused append publishes nothing) and the publish, the element carrying the item's origin.
   * KEYS (their number is the first argument): K, M (the list), T, S, P, and D (the cache's
   * moderator-group directory) when groups are in use. ARGV: now, listTtlMs, refresh, truncate-to,
   * maxListLength, maxItemBytes, key bytes, element tag ('S' | 'B'), value payload, has tokenId
   * (1/0), tokenId, topicTtlMs, keep, channel, head, tail, the page the node holds (0 when none),
   * the version of the node's copy of D by which the topic feeds no group, idempotency key, its
   * window ms. Returns {'ok', length, seq, page, ts} (+ 'dup' for a repeated idempotency key),
   * {'stale'} (the copy is out of date: nothing was done) or a refusal. */
  tidingsPubAppend: {
    keys: undefined,
    lua: `${LIST_PRELUDE}
${topicPrelude(3, 'ARGV[17]')}
${idempotent(`if #KEYS == 6 and (redis.call('HGET', KEYS[6], '\\0v') or '') ~= ARGV[18] then return {'stale'} end
${PUB_APPEND_BODY}return {'ok', pushed[2], seq, page, now}`, "reply[1] == 'ok'")}`,
  },

  /** A moderator's accept: tidingsPubAppend guarded by "this node still holds the delivery" and
   * settling it in the same step, so an item is published at most once even when its node was
   * taken for gone meanwhile. KEYS: K, M, T, S, P, B. ARGV: tidingsPubAppend's first 17, then
   * item id, node, claim tag.
   * {'not_held'} or tidingsPubAppend's reply. */
  tidingsModerationAccept: {
    keys: 6,
    lua: `${LIST_PRELUDE}
${topicPrelude(3, 'ARGV[17]')}
${GROUP_PRELUDE}
${ACCEPT_GUARD}
${PUB_APPEND_BODY}${ACCEPT_SETTLE}
return {'ok', pushed[2], seq, page, now}`,
  },

  /** A moderator's take-down as one step: checks the target was published, removes its element
   * from the history list (list name = topic name), and stamps the `retract` frame with the topic's
   * next seq; a topic Redis no longer holds starts a new page with it. The node sends the frame as
   * a msgpack map without seq, page and ts (`head`: its map header already counts them); the
   * script appends them. KEYS: K, M (the list), T, S, P. ARGV: now,
   * target page, target seq, topicTtlMs, keep, channel, head, the page the node holds (0 when
   * none). Returns {'ok', seq, page, removed},
   * {'no_target'} or {'wrongtype', kind} (the list's key holds a scalar: nothing was done). */
  tidingsRetract: {
    keys: 5,
    lua: `${LIST_PRELUDE}
${topicPrelude(3, 'ARGV[8]')}
local k = kind()
if k ~= 'none' and k ~= 'list' then return {'wrongtype', k} end
local page, seq, created = topic_position(now)
local target_page, target_seq = tonumber(ARGV[2]), tonumber(ARGV[3])
-- A topic Redis no longer holds (expired while idle) is checked against the page it would get, as
-- the memory engine does: an earlier page's item may still be in the history list.
if target_page > page or (target_page == page and target_seq > seq) then return {'no_target'} end
local removed = 0
if k == 'list' then
  local matching, bytes = {}, 0
  for _, e in ipairs(redis.call('LRANGE', K, 0, -1)) do
    local p, s = origin_of(e)
    if p == ARGV[2] and s == ARGV[3] then matching[e] = true; removed = removed + 1; bytes = bytes + #value_of(e) end
  end
  for e in pairs(matching) do redis.call('LREM', K, 0, e) end
  if removed > 0 then
    if redis.call('LLEN', K) == 0 then redis.call('DEL', K, M) else shrink(bytes) end
  end
end
seq = seq + 1
topic_publish(page, seq, created, ARGV[7] .. cmsgpack.pack('seq', seq, 'page', page, 'ts', now), ARGV[6], tonumber(ARGV[5]), tonumber(ARGV[4]))
return {'ok', seq, page, removed}`,
  },
} as const;

export type TopicScriptName = keyof typeof TOPIC_SCRIPTS;
