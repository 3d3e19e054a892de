/** The Lua scripts behind the Redis cache store. Each operation is one script: one round trip, and
 * atomic (Redis runs a script alone), so a limit check and the write it guards cannot be split by
 * another node's write, and a refused write changes nothing.
 *
 * Layout of one item (cache, key) under prefix P (see RedisCacheStore.keys):
 *   KEYS[1] = P..cache..\0..key      a scalar: HASH { v = encoded value, x = expiry }
 *                                    a list:   LIST of encoded elements (element.ts)
 *                                    a dictionary: HASH { encoded field name = encoded value }
 *                                      (an encoded name starts with its tag 's', so it is never
 *                                      'x': a hash without 'x' is a dictionary)
 *                                    a set: SET of the elements' bytes (text as UTF-8, no tag:
 *                                      a set holds bytes)
 *                                    a sorted set: ZSET of the elements' bytes (as a set's), each
 *                                      with its score
 *   KEYS[2] = KEYS[1]..\0m           a list's, dictionary's, set's or sorted set's HASH { b =
 *                                      payload bytes of its elements (fields: name and value;
 *                                      sorted-set elements: bytes + 8 for the score), x = expiry }
 *
 * Expiry: `x` is absolute Unix ms on the calling node's clock (ARGV[1] = now), so TTLs follow the
 * server's Clock exactly like the memory store's (tests drive them with a ManualClock). Redis's own
 * PEXPIRE, set to the same TTL, only returns the memory; an item past `x` is never served. */

/** Shared by every script: the item's kind after lazy expiry, and the element format. Exported
 * for pubAppend's script, which appends with push() and publishes in the same script. */
export const LIST_PRELUDE = `
local K, M = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])

local function ms(n) return string.format('%.0f', n) end

-- 'none', 'scalar', 'list', 'dictionary', 'set', 'sortedSet' or 'foreign' for the item at key (its
-- metadata at meta); an item past its expiry is deleted first.
local function kind_at(key, meta)
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then return 'none' end
  local x, k
  if t == 'hash' then
    x, k = redis.call('HGET', key, 'x'), 'scalar'
    if not x then x, k = redis.call('HGET', meta, 'x'), 'dictionary' end
  elseif t == 'list' then x, k = redis.call('HGET', meta, 'x'), 'list'
  elseif t == 'set' then x, k = redis.call('HGET', meta, 'x'), 'set'
  elseif t == 'zset' then x, k = redis.call('HGET', meta, 'x'), 'sortedSet'
  else return 'foreign' end
  if not x or tonumber(x) < now then
    redis.call('DEL', key, meta)
    return 'none'
  end
  return k
end

-- The kind of this script's item (K, M).
local function kind() return kind_at(K, M) end

-- The payload of an encoded element (element.ts): after the tag, or after tag, length, ':' and header.
local function value_of(e)
  local tag = string.sub(e, 1, 1)
  if tag == 's' or tag == 'b' then return string.sub(e, 2) end
  local digits = string.match(e, '^.(%d+):')
  return string.sub(e, 3 + #digits + tonumber(digits))
end

-- page, seq (decimal strings) of an element pubAppend stored, or nil.
local function origin_of(e)
  local tag = string.sub(e, 1, 1)
  if tag ~= 'S' and tag ~= 'B' then return nil end
  local digits = string.match(e, '^.(%d+):')
  local header = string.sub(e, 3 + #digits, 2 + #digits + tonumber(digits))
  return string.match(header, '^(%d+),(%d+),')
end

local function payload(elements)
  local n = 0
  for _, e in ipairs(elements) do n = n + #value_of(e) end
  return n
end

-- Lowers a list's payload count (never by '-0', which HINCRBY refuses as not an integer).
local function shrink(n)
  if n > 0 then redis.call('HINCRBY', M, 'b', 0 - n) end
end

-- The start of a remove from a collection of kind want (ARGV[2] = 'all' | 'some'): the reply when nothing is left to
-- do (no item; another kind; 'all', which deletes the whole collection here), else nil.
local function remove_start(want)
  local k = kind()
  if k == 'none' then return {'ok'} end
  if k ~= want then return {'wrongtype', k} end
  if ARGV[2] == 'all' then
    redis.call('DEL', K, M)
    return {'ok'}
  end
end

-- The element count and payload bytes of this script's collection when it is of kind want (k: its
-- kind now), counted by the command card; 0, 0 when there is none yet.
local function tally(k, want, card)
  if k ~= want then return 0, 0 end
  return redis.call(card, K), tonumber(redis.call('HGET', M, 'b') or '0')
end

-- The refusal of a write that would leave count elements (more than max: {cause, count}) or key
-- bytes plus payload bytes (more than max_item: {'item_size', their sum}); nil when both fit.
local function over(cause, count, max, key_bytes, bytes, max_item)
  if count > tonumber(max) then return {cause, count} end
  if tonumber(key_bytes) + bytes > tonumber(max_item) then return {'item_size', tonumber(key_bytes) + bytes} end
end

-- After removing that many payload bytes from a collection: its metadata goes with its last element.
local function forget(removed)
  if redis.call('EXISTS', K) == 0 then redis.call('DEL', M)
  else shrink(removed) end
end

local function expire(ttl)
  redis.call('HSET', M, 'x', ms(now + ttl))
  redis.call('PEXPIRE', K, ttl)
  redis.call('PEXPIRE', M, ttl)
end

-- The end of a write to a collection: its payload bytes, and its expiry when it is new or the
-- write refreshes it (ARGV[2] = ttlMs, ARGV[3] = refresh 1/0).
local function settle(new, bytes)
  redis.call('HSET', M, 'b', ms(bytes))
  if new or ARGV[3] == '1' then expire(tonumber(ARGV[2])) end
end

-- The expiry of a live item of kind k: a scalar keeps it in K, a collection in M.
local function expiry_of(k)
  if k == 'scalar' then return redis.call('HGET', K, 'x') end
  return redis.call('HGET', M, 'x')
end

local function set_expiry(k, ttl)
  if k == 'scalar' then
    redis.call('HSET', K, 'x', ms(now + ttl))
    redis.call('PEXPIRE', K, ttl)
  else
    expire(ttl)
  end
end

-- A list keeps its expiry: K may have been emptied and recreated, so copy M's back onto it.
local function keep_expiry()
  local pttl = redis.call('PTTL', M)
  if pttl > 0 then redis.call('PEXPIRE', K, pttl) end
end

-- RPUSH / LPUSH in batches (unpack of very many arguments overflows Lua's C stack).
local function push_all(cmd, elements)
  local batch = {}
  for i = 1, #elements do
    batch[#batch + 1] = elements[i]
    if #batch == 1000 then redis.call(cmd, K, unpack(batch)); batch = {} end
  end
  if #batch > 0 then redis.call(cmd, K, unpack(batch)) end
end

-- The base-10 integer a stored payload holds, as INCRBY / HINCRBY take it (no '+', no leading
-- zeros), or nil when it holds none (scalar-ops.ts parseInteger: sign, ASCII digits, 64 bits).
local function integer_text(raw)
  if #raw > 40 then return nil end
  local sign, digits = string.match(raw, '^([+-]?)([0-9]+)$')
  if not digits then return nil end
  digits = string.match(digits, '^0*(.-)$')
  if #digits > 19 then return nil end
  if digits == '' then return '0' end
  if sign == '-' then return '-' .. digits end
  return digits
end

-- current + amount (decimal strings) or nil and 'overflow' / 'not_integer'. Lua's numbers are
-- doubles, so the sum is Redis's own exact 64-bit HINCRBY, on a scratch field of M removed in the
-- same step (a scalar has no M: it goes away with its last field).
local function add_integer(current, amount)
  redis.call('HSET', M, 'i', current)
  local r = redis.pcall('HINCRBY', M, 'i', amount)
  local value = redis.call('HGET', M, 'i')
  redis.call('HDEL', M, 'i')
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'overflow') then return nil, 'overflow' end
    return nil, 'not_integer'
  end
  return value
end

-- Sets encoded field/value pairs on the dictionary of kind k ('none' or 'dictionary'; a later
-- pair of the same field wins) after checking the limits on the result; the TTL as push's.
-- Returns {'ok'} or {cause, amount} without changing anything.
local function dict_set(k, items, ttl, refresh, max_fields, max_item, key_bytes)
  local count, bytes = 0, 0
  if k == 'dictionary' then
    count = redis.call('HLEN', K)
    bytes = tonumber(redis.call('HGET', M, 'b') or '0')
  end
  local next = {}
  for i = 1, #items, 2 do
    local f, v = items[i], items[i + 1]
    local old = next[f]
    if old == nil and k == 'dictionary' then old = redis.call('HGET', K, f) end
    if old then bytes = bytes - (#f - 1) - (#old - 1) else count = count + 1 end
    bytes = bytes + (#f - 1) + (#v - 1)
    next[f] = v
  end
  if count > max_fields then return {'dictionary_fields', count} end
  if key_bytes + bytes > max_item then return {'item_size', key_bytes + bytes} end
  local batch = {}
  for f, v in pairs(next) do
    batch[#batch + 1] = f
    batch[#batch + 1] = v
    if #batch == 1000 then redis.call('HSET', K, unpack(batch)); batch = {} end
  end
  if #batch > 0 then redis.call('HSET', K, unpack(batch)) end
  redis.call('HSET', M, 'b', ms(bytes))
  if k ~= 'dictionary' or refresh then expire(ttl) end
  return {'ok'}
end

-- Python-style slice bounds of listFetch / listRetain (list-ops.ts resolveRange): [from, to).
local function slice(len, s, e)
  local function bound(i)
    if i < 0 then i = len + i end
    if i < 0 then return 0 end
    if i > len then return len end
    return i
  end
  local from, to = 0, len
  if s ~= '' then from = bound(tonumber(s)) end
  if e ~= '' then to = bound(tonumber(e)) end
  if to < from then to = from end
  return from, to
end

-- Appends (back) or prepends (front) elements, truncating the far end to trunc (0 = no cap),
-- after checking the limits on the result; list-ops.ts planPush is the same plan.
-- Returns {'ok', length} or {cause, amount} without changing anything.
local function push(back, elements, ttl, refresh, trunc, max_len, max_item, key_bytes)
  local k = kind()
  if k ~= 'none' and k ~= 'list' then return {'wrongtype', k} end
  local length = 0
  if k == 'list' then length = redis.call('LLEN', K) end
  local total = length + #elements
  local drop = 0
  if trunc > 0 and total > trunc then drop = total - trunc end
  local drop_existing = math.min(drop, length)
  local drop_new = drop - drop_existing
  local new_length = total - drop
  if new_length > max_len then return {'list_length', new_length} end
  local bytes = 0
  if k == 'list' then bytes = tonumber(redis.call('HGET', M, 'b') or '0') end
  if drop_existing > 0 then
    if back then bytes = bytes - payload(redis.call('LRANGE', K, 0, drop_existing - 1))
    else bytes = bytes - payload(redis.call('LRANGE', K, -drop_existing, -1)) end
  end
  local kept = {}
  if back then
    for i = drop_new + 1, #elements do kept[#kept + 1] = elements[i] end
  else
    -- LPUSH a b c gives c b a: push the kept ones last first so they keep their order.
    for i = #elements - drop_new, 1, -1 do kept[#kept + 1] = elements[i] end
  end
  bytes = bytes + payload(kept)
  if key_bytes + bytes > max_item then return {'item_size', key_bytes + bytes} end
  if drop_existing > 0 then
    if back then redis.call('LTRIM', K, drop_existing, -1)
    else redis.call('LTRIM', K, 0, -drop_existing - 1) end
  end
  if back then push_all('RPUSH', kept) else push_all('LPUSH', kept) end
  redis.call('HSET', M, 'b', ms(bytes))
  if k == 'list' and not refresh then keep_expiry() else expire(ttl) end
  return {'ok', new_length}
end
`;

/** Wraps a write script's main part for idempotent writes (core/idempotency-key.ts): ARGV's last
 * two are the write's idempotency key ('' = none) and how long to remember it, in ms. When the key
 * is already there, the stored reply is answered, with 'dup' appended, and nothing runs again;
 * otherwise the body runs, and a reply that `success` (a Lua expression on `reply`) accepts is
 * stored under the key in the same step. So a retry on any node is answered, never applied twice. */
export function idempotent(body: string, success: string): string {
  return `
local IDEM, IDEM_MS = ARGV[#ARGV - 1], ARGV[#ARGV]
if IDEM ~= '' then
  local prev = redis.call('GET', IDEM)
  if prev then
    local r = cjson.decode(prev)
    r[#r + 1] = 'dup'
    return r
  end
end
local function body()
${body}
end
local reply = body()
if IDEM ~= '' and (${success}) then redis.call('SET', IDEM, cjson.encode(reply), 'PX', IDEM_MS) end
return reply`;
}

/** One script per operation: ARGV[1] is always `now`. Replies are arrays whose first element is a
 * status: 'ok', 'miss', 'wrongtype', or a limit ('list_length' / 'item_size', with the amount). */
export const SCRIPTS = {
  /** ARGV: now, ttlMs, refresh (1/0), 'back' | 'front', truncate-to (0 = none), maxListLength,
   * maxItemBytes, key bytes, elements..., idempotency key, its window ms (idempotent()). */
  tidingsListPush: `${LIST_PRELUDE}
${idempotent(`local elements = {}
for i = 9, #ARGV - 2 do elements[#elements + 1] = ARGV[i] end
return push(ARGV[4] == 'back', elements, tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))`, "reply[1] == 'ok'")}`,

  /** ARGV: now, start ('' = none), end ('' = none). {'ok', elements...} */
  tidingsListFetch: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'list' then return {'wrongtype', k} end
local from, to = slice(redis.call('LLEN', K), ARGV[2], ARGV[3])
local reply = {'ok'}
if to > from then
  for _, e in ipairs(redis.call('LRANGE', K, from, to - 1)) do reply[#reply + 1] = e end
end
return reply`,

  /** ARGV: now, start, end, ttlMs, refresh (1/0). */
  tidingsListRetain: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'ok'} end
if k ~= 'list' then return {'wrongtype', k} end
local len = redis.call('LLEN', K)
local from, to = slice(len, ARGV[2], ARGV[3])
if from == to then
  redis.call('DEL', K, M)
  return {'ok'}
end
local removed = 0
if from > 0 then removed = removed + payload(redis.call('LRANGE', K, 0, from - 1)) end
if to < len then removed = removed + payload(redis.call('LRANGE', K, to, -1)) end
redis.call('LTRIM', K, from, to - 1)
shrink(removed)
if ARGV[5] == '1' then expire(tonumber(ARGV[4])) end
return {'ok'}`,

  /** ARGV: now, value bytes. Removes every element whose payload equals them (text equals the
   * binary of its UTF-8, as in list-ops.ts valuesEqual). LREM keeps the list's TTL. */
  tidingsListRemoveValue: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'ok', 0} end
if k ~= 'list' then return {'wrongtype', k} end
local needle = ARGV[2]
local matching, removed = {}, 0
for _, e in ipairs(redis.call('LRANGE', K, 0, -1)) do
  if value_of(e) == needle then matching[e] = true; removed = removed + 1 end
end
if removed == 0 then return {'ok', 0} end
for e in pairs(matching) do redis.call('LREM', K, 0, e) end
if redis.call('LLEN', K) == 0 then redis.call('DEL', K, M)
else shrink(removed * #needle) end
return {'ok', removed}`,

  /** ARGV: now, page, seq (decimal). Removes the element(s) pubAppend stored for that item. */
  tidingsListRemoveOrigin: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'ok', 0} end
if k ~= 'list' then return {'wrongtype', k} end
local matching, removed, bytes = {}, 0, 0
for _, e in ipairs(redis.call('LRANGE', K, 0, -1)) do
  local page, seq = origin_of(e)
  if page == ARGV[2] and seq == ARGV[3] then
    matching[e] = true; removed = removed + 1; bytes = bytes + #value_of(e)
  end
end
if removed == 0 then return {'ok', 0} end
for e in pairs(matching) do redis.call('LREM', K, 0, e) end
if redis.call('LLEN', K) == 0 then redis.call('DEL', K, M)
else shrink(bytes) end
return {'ok', removed}`,

  /** ARGV: now, 'back' | 'front'. {'ok', element, length} */
  tidingsListPop: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'list' then return {'wrongtype', k} end
local e
if ARGV[2] == 'back' then e = redis.call('RPOP', K) else e = redis.call('LPOP', K) end
local len = redis.call('LLEN', K)
if len == 0 then redis.call('DEL', K, M)
else shrink(#value_of(e)) end
return {'ok', e, len}`,

  /** ARGV: now. {'ok', length} */
  tidingsListLength: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'list' then return {'wrongtype', k} end
return {'ok', redis.call('LLEN', K)}`,

  /** ARGV: now. {'ok', encoded value} */
  tidingsGet: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'scalar' then return {'wrongtype', k} end
return {'ok', redis.call('HGET', K, 'v')}`,

  /** ARGV: now, ttlMs, encoded value, idempotency key, its window ms (setIfHash `unconditional`
   * takes one: a retry must not overwrite a later write). Replaces whatever the key held. */
  tidingsSet: `${LIST_PRELUDE}
${idempotent(`local ttl = tonumber(ARGV[2])
redis.call('DEL', K, M)
redis.call('HSET', K, 'v', ARGV[3], 'x', ms(now + ttl))
redis.call('PEXPIRE', K, ttl)
return {'ok'}`, "reply[1] == 'ok'")}`,

  /** ARGV: now, ttlMs, amount (decimal), maxItemBytes, key bytes, idempotency key, its window ms.
   * {'ok', value (decimal)}, {'not_integer'}, {'overflow'}. The rules of scalar-ops.ts: a base-10
   * integer (sign, ASCII digits) within 64 bits, stored back as decimal text with the TTL. */
  tidingsIncrement: `${LIST_PRELUDE}
${idempotent(`local k = kind()
if k ~= 'none' and k ~= 'scalar' then return {'wrongtype', k} end
local current = '0'
if k == 'scalar' then
  current = integer_text(string.sub(redis.call('HGET', K, 'v'), 2))
  if not current then return {'not_integer'} end
end
local value, problem = add_integer(current, ARGV[3])
if not value then return {problem} end
if tonumber(ARGV[5]) + #value > tonumber(ARGV[4]) then return {'item_size', tonumber(ARGV[5]) + #value} end
local ttl = tonumber(ARGV[2])
redis.call('HSET', K, 'v', 's' .. value, 'x', ms(now + ttl))
redis.call('PEXPIRE', K, ttl)
return {'ok', value}`, "reply[1] == 'ok'")}`,

  /** ARGV: now, ttlMs, condition (SetIfCondition), encoded value, payload bytes to compare ('' when
   * the condition compares none), 'hash' when they are a hash of the stored payload (scalar-ops.ts
   * valueHash: redis.sha1hex is the same function), idempotency key, its window ms. {'ok', 1 stored
   * | 0 not}. The rules of scalar-ops.ts conditionHolds: presence is any item, a comparison needs a scalar. */
  tidingsSetIf: `${LIST_PRELUDE}
${idempotent(`local k = kind()
if k == 'foreign' then return {'wrongtype', k} end
local cond = ARGV[3]
local holds
if cond == 'absent' then holds = k == 'none'
elseif cond == 'present' then holds = k ~= 'none'
else
  if k ~= 'none' and k ~= 'scalar' then return {'wrongtype', k} end
  local held = k == 'scalar' and string.sub(redis.call('HGET', K, 'v'), 2)
  if held and ARGV[6] == 'hash' then held = redis.sha1hex(held) end
  local equal = held == ARGV[5]
  if cond == 'equal' then holds = equal
  elseif cond == 'notEqual' then holds = not equal
  elseif cond == 'presentAndNotEqual' then holds = k == 'scalar' and not equal
  elseif cond == 'absentOrEqual' then holds = k == 'none' or equal
  else return redis.error_reply('unknown setIf condition') end
end
if not holds then return {'ok', 0} end
local ttl = tonumber(ARGV[2])
redis.call('DEL', K, M)
redis.call('HSET', K, 'v', ARGV[4], 'x', ms(now + ttl))
redis.call('PEXPIRE', K, ttl)
return {'ok', 1}`, "reply[1] == 'ok'")}`,

  /** ARGV: now, 'all' | 'some', then begin, count pairs. {'ok', length} or {'miss'}. Indices are
   * the list's before the call (list-ops.ts eraseRanges); the expiry stays. */
  tidingsListErase: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'list' then return {'wrongtype', k} end
if ARGV[2] == 'all' then
  redis.call('DEL', K, M)
  return {'ok', 0}
end
local len = redis.call('LLEN', K)
-- Coverage counts by difference array (list-ops.ts eraseRanges): linear however ranges overlap.
local cover = {}
local any = false
for i = 3, #ARGV - 1, 2 do
  local from = tonumber(ARGV[i])
  local to = math.min(len, from + tonumber(ARGV[i + 1]))
  if from < to then
    cover[from] = (cover[from] or 0) + 1
    cover[to] = (cover[to] or 0) - 1
    any = true
  end
end
if not any then return {'ok', len} end
local kept, removed, depth = {}, 0, 0
for j, e in ipairs(redis.call('LRANGE', K, 0, -1)) do
  depth = depth + (cover[j - 1] or 0)
  if depth > 0 then removed = removed + #value_of(e) else kept[#kept + 1] = e end
end
if #kept == 0 then
  redis.call('DEL', K, M)
  return {'ok', 0}
end
redis.call('DEL', K)
push_all('RPUSH', kept)
keep_expiry()
shrink(removed)
return {'ok', #kept}`,

  /** ARGV: now, ttlMs, 'increase' | 'decrease'. {'ok', 1 set | 0 not} or {'miss'}: the TTL is set
   * only when longer (shorter) than the remaining one, compared as itemGetTtl reports it. */
  tidingsChangeTtl: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
local remaining = tonumber(expiry_of(k)) - now
local ttl = tonumber(ARGV[2])
if (ARGV[3] == 'increase' and ttl <= remaining) or (ARGV[3] == 'decrease' and ttl >= remaining) then return {'ok', 0} end
set_expiry(k, ttl)
return {'ok', 1}`,

  /** ARGV: now, ttlMs, refresh (1/0), maxDictionaryFields, maxItemBytes, key bytes, then encoded
   * field, encoded value pairs. {'ok'} */
  tidingsDictionarySet: `${LIST_PRELUDE}
local k = kind()
if k ~= 'none' and k ~= 'dictionary' then return {'wrongtype', k} end
local items = {}
for i = 7, #ARGV do items[#items + 1] = ARGV[i] end
return dict_set(k, items, tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))`,

  /** ARGV: now, encoded fields... {'ok', encoded value or nil per field} */
  tidingsDictionaryGet: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'dictionary' then return {'wrongtype', k} end
local reply = {'ok'}
for i = 2, #ARGV do reply[#reply + 1] = redis.call('HGET', K, ARGV[i]) end
return reply`,

  /** ARGV: now. {'ok', encoded field, encoded value, ...} */
  tidingsDictionaryFetch: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'dictionary' then return {'wrongtype', k} end
local reply = {'ok'}
for _, e in ipairs(redis.call('HGETALL', K)) do reply[#reply + 1] = e end
return reply`,

  /** ARGV: now, ttlMs, refresh (1/0), encoded field, amount (decimal), maxDictionaryFields,
   * maxItemBytes, key bytes, maxElementBytes, idempotency key, its window ms. {'ok', value
   * (decimal)}, {'not_integer'}, {'overflow'}: tidingsIncrement's rules on one field;
   * {'element_size', bytes}: the field name and the sum past maxElementBytes. */
  tidingsDictionaryIncrement: `${LIST_PRELUDE}
${idempotent(`local k = kind()
if k ~= 'none' and k ~= 'dictionary' then return {'wrongtype', k} end
local current = '0'
if k == 'dictionary' then
  local held = redis.call('HGET', K, ARGV[4])
  if held then
    current = integer_text(string.sub(held, 2))
    if not current then return {'not_integer'} end
  end
end
local value, problem = add_integer(current, ARGV[5])
if not value then return {problem} end
local element = #ARGV[4] - 1 + #value
if element > tonumber(ARGV[9]) then return {'element_size', element} end
local r = dict_set(k, {ARGV[4], 's' .. value}, tonumber(ARGV[2]), ARGV[3] == '1', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
if r[1] ~= 'ok' then return r end
return {'ok', value}`, "reply[1] == 'ok'")}`,

  /** ARGV: now, 'all' | 'some', encoded fields... The expiry stays; an emptied dictionary is
   * deleted. {'ok'} */
  tidingsDictionaryRemove: `${LIST_PRELUDE}
local done = remove_start('dictionary')
if done then return done end
local removed = 0
for i = 3, #ARGV do
  local old = redis.call('HGET', K, ARGV[i])
  if old then
    removed = removed + (#ARGV[i] - 1) + (#old - 1)
    redis.call('HDEL', K, ARGV[i])
  end
end
forget(removed)
return {'ok'}`,

  /** ARGV: now. {'ok', fields} */
  tidingsDictionaryLength: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'dictionary' then return {'wrongtype', k} end
return {'ok', redis.call('HLEN', K)}`,

  /** ARGV: now, ttlMs, refresh (1/0), maxSetElements, maxItemBytes, key bytes, then the elements'
   * bytes. {'ok'}; the limits are checked on the result before anything changes. */
  tidingsSetsAdd: `${LIST_PRELUDE}
local k = kind()
if k ~= 'none' and k ~= 'set' then return {'wrongtype', k} end
local count, bytes = tally(k, 'set', 'SCARD')
local added, seen = {}, {}
for i = 7, #ARGV do
  local e = ARGV[i]
  if not seen[e] and (k ~= 'set' or redis.call('SISMEMBER', K, e) == 0) then
    seen[e] = true
    added[#added + 1] = e
    count = count + 1
    bytes = bytes + #e
  end
end
local refused = over('set_elements', count, ARGV[4], ARGV[6], bytes, ARGV[5])
if refused then return refused end
for i = 1, #added, 1000 do redis.call('SADD', K, unpack(added, i, math.min(i + 999, #added))) end
settle(k ~= 'set', bytes)
return {'ok'}`,

  /** ARGV: now, 'all' | 'some', elements' bytes... The expiry stays; an emptied set is deleted. {'ok'} */
  tidingsSetsRemove: `${LIST_PRELUDE}
local done = remove_start('set')
if done then return done end
local removed = 0
for i = 3, #ARGV do removed = removed + redis.call('SREM', K, ARGV[i]) * #ARGV[i] end
forget(removed)
return {'ok'}`,

  /** ARGV: now, then 'fetch' | 'sample' count | 'contains' elements... | 'length'. {'ok', ...} */
  tidingsSetsRead: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'set' then return {'wrongtype', k} end
local reply = {'ok'}
local found
if ARGV[2] == 'fetch' then found = redis.call('SMEMBERS', K)
elseif ARGV[2] == 'sample' then found = redis.call('SRANDMEMBER', K, ARGV[3])
elseif ARGV[2] == 'contains' then
  -- One SISMEMBER each: unpack() of every element into SMISMEMBER would pass Lua's stack limit
  -- (about 8000 values) on a large request.
  found = {}
  for i = 3, #ARGV do found[#found + 1] = redis.call('SISMEMBER', K, ARGV[i]) end
else found = {redis.call('SCARD', K)} end
for _, e in ipairs(found) do reply[#reply + 1] = e end
return reply`,

  /** ARGV: now, count. The expiry stays; an emptied set is deleted. {'ok', elements' bytes...} */
  tidingsSetsPop: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'set' then return {'wrongtype', k} end
local reply, removed = {'ok'}, 0
for _, e in ipairs(redis.call('SPOP', K, ARGV[2])) do
  reply[#reply + 1] = e
  removed = removed + #e
end
forget(removed)
return reply`,

  /** ARGV: now, ttlMs, refresh (1/0), maxSortedSetElements, maxItemBytes, key bytes, then score,
   * element bytes pairs (a later pair of the same element wins). {'ok'}; the limits are checked on
   * the result before anything changes. */
  tidingsSortedPut: `${LIST_PRELUDE}
local k = kind()
if k ~= 'none' and k ~= 'sortedSet' then return {'wrongtype', k} end
local count, bytes = tally(k, 'sortedSet', 'ZCARD')
local seen = {}
for i = 7, #ARGV, 2 do
  local e = ARGV[i + 1]
  if not seen[e] and (k ~= 'sortedSet' or not redis.call('ZSCORE', K, e)) then
    seen[e] = true
    count = count + 1
    bytes = bytes + #e + 8
  end
end
local refused = over('sorted_set_elements', count, ARGV[4], ARGV[6], bytes, ARGV[5])
if refused then return refused end
for i = 7, #ARGV, 2000 do redis.call('ZADD', K, unpack(ARGV, i, math.min(i + 1999, #ARGV))) end
settle(k ~= 'sortedSet', bytes)
return {'ok'}`,

  /** ARGV: now, ttlMs, refresh (1/0), maxSortedSetElements, maxItemBytes, key bytes, amount, element
   * bytes, idempotency key, its window ms. {'ok', new score}; a score that would not be finite is
   * {'not_finite', it}. */
  tidingsSortedIncrement: `${LIST_PRELUDE}
${idempotent(`local k = kind()
if k ~= 'none' and k ~= 'sortedSet' then return {'wrongtype', k} end
local e = ARGV[8]
local count, bytes = tally(k, 'sortedSet', 'ZCARD')
local old = k == 'sortedSet' and redis.call('ZSCORE', K, e)
local score = tonumber(old or '0') + tonumber(ARGV[7])
if score ~= score or score == math.huge or score == -math.huge then return {'not_finite', tostring(score)} end
if not old then
  bytes = bytes + #e + 8
  local refused = over('sorted_set_elements', count + 1, ARGV[4], ARGV[6], bytes, ARGV[5])
  if refused then return refused end
end
local result = redis.call('ZINCRBY', K, ARGV[7], e)
settle(k ~= 'sortedSet', bytes)
return {'ok', result}`, "reply[1] == 'ok'")}`,

  /** ARGV: now, 'all' | 'some', elements' bytes... The expiry stays; an emptied sorted set is
   * deleted. {'ok'} */
  tidingsSortedRemove: `${LIST_PRELUDE}
local done = remove_start('sortedSet')
if done then return done end
local removed = 0
for i = 3, #ARGV do removed = removed + redis.call('ZREM', K, ARGV[i]) * (#ARGV[i] + 8) end
forget(removed)
return {'ok'}`,

  /** ARGV: now, then 'rank' start end ('' = unbounded) order | 'score' min max order offset count
   * (ZRANGE BYSCORE bounds, count -1 = all) | 'scores' elements... | 'getrank' element order |
   * 'length' | 'count' min max; order 'ascending' | 'descending'. {'ok', ...}: fetches answer
   * element, score pairs; absent scores and ranks are nil. */
  tidingsSortedRead: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k ~= 'sortedSet' then return {'wrongtype', k} end
local op = ARGV[2]
local found
if op == 'rank' then
  local n = redis.call('ZCARD', K)
  local function at(i, default)
    if i == '' then return default end
    i = tonumber(i)
    if i < 0 then i = n + i end
    return math.min(n, math.max(0, i))
  end
  local from, to = at(ARGV[3], 0), at(ARGV[4], n)
  if to <= from then return {'ok'} end
  if ARGV[5] == 'descending' then found = redis.call('ZRANGE', K, from, to - 1, 'REV', 'WITHSCORES')
  else found = redis.call('ZRANGE', K, from, to - 1, 'WITHSCORES') end
elseif op == 'score' then
  if ARGV[5] == 'descending' then
    found = redis.call('ZRANGE', K, ARGV[4], ARGV[3], 'BYSCORE', 'REV', 'LIMIT', ARGV[6], ARGV[7], 'WITHSCORES')
  else
    found = redis.call('ZRANGE', K, ARGV[3], ARGV[4], 'BYSCORE', 'LIMIT', ARGV[6], ARGV[7], 'WITHSCORES')
  end
elseif op == 'scores' then
  found = {}
  for i = 3, #ARGV do found[i - 2] = redis.call('ZSCORE', K, ARGV[i]) end
elseif op == 'getrank' then
  if ARGV[4] == 'descending' then found = {redis.call('ZREVRANK', K, ARGV[3])}
  else found = {redis.call('ZRANK', K, ARGV[3])} end
elseif op == 'count' then found = {redis.call('ZCOUNT', K, ARGV[3], ARGV[4])}
else found = {redis.call('ZCARD', K)} end
local reply = {'ok'}
for i = 1, #found do reply[i + 1] = found[i] end
return reply`,

  /** ARGV: now, ttlMs, maxSortedSetElements, maxItemBytes, key bytes, 'SUM' | 'MIN' | 'MAX', then
   * source key, its metadata key, weight, name quadruples. Replaces the sorted set with the union
   * (checked against the limits first; an empty one deletes it). {'ok', elements}; a source of
   * another kind: {'source_wrongtype', its kind, its name}. */
  tidingsSortedUnion: `${LIST_PRELUDE}
local k = kind()
if k ~= 'none' and k ~= 'sortedSet' then return {'wrongtype', k} end
-- Combined here rather than by ZUNION, whose every key and weight would be unpack()ed into one
-- call (Lua's stack holds about 8000); the arithmetic is ZUNION's: weighted, NaN counts 0.
local scores, order, sum = {}, {}, ARGV[6] == 'SUM'
for i = 7, #ARGV, 4 do
  local sk = kind_at(ARGV[i], ARGV[i + 1])
  if sk ~= 'none' and sk ~= 'sortedSet' then return {'source_wrongtype', sk, ARGV[i + 3]} end
  if sk == 'sortedSet' then
    local weight = tonumber(ARGV[i + 2])
    local found = redis.call('ZRANGE', ARGV[i], 0, -1, 'WITHSCORES')
    for j = 1, #found, 2 do
      local e, s = found[j], tonumber(found[j + 1]) * weight
      if s ~= s then s = 0 end
      local held = scores[e]
      if held == nil then
        order[#order + 1] = e
        scores[e] = s
      elseif sum then
        held = held + s
        if held ~= held then held = 0 end
        scores[e] = held
      elseif (ARGV[6] == 'MIN' and s < held) or (ARGV[6] == 'MAX' and s > held) then
        scores[e] = s
      end
    end
  end
end
local count, bytes = #order, 0
for _, e in ipairs(order) do
  bytes = bytes + #e + 8
  if scores[e] == math.huge or scores[e] == -math.huge then return {'not_finite', tostring(scores[e])} end
end
local refused = over('sorted_set_elements', count, ARGV[3], ARGV[5], bytes, ARGV[4])
if refused then return refused end
redis.call('DEL', K, M)
if count == 0 then return {'ok', 0} end
local batch = {}
for _, e in ipairs(order) do
  batch[#batch + 1] = string.format('%.17g', scores[e])
  batch[#batch + 1] = e
  if #batch == 2000 then redis.call('ZADD', K, unpack(batch)); batch = {} end
end
if #batch > 0 then redis.call('ZADD', K, unpack(batch)) end
redis.call('HSET', M, 'b', ms(bytes))
expire(tonumber(ARGV[2]))
return {'ok', count}`,

  /** ARGV: now. {'ok', 'scalar' | 'list' | 'dictionary' | 'set' | 'sortedSet'} */
  tidingsItemGetType: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
if k == 'foreign' then return {'wrongtype', k} end
return {'ok', k}`,

  /** ARGV: now. {'ok', remaining ms} */
  tidingsItemGetTtl: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
return {'ok', ms(tonumber(expiry_of(k)) - now)}`,

  /** ARGV: now, ttlMs. */
  tidingsUpdateTtl: `${LIST_PRELUDE}
local k = kind()
if k == 'none' then return {'miss'} end
set_expiry(k, tonumber(ARGV[2]))
return {'ok'}`,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
