// Lua scripts of RedisHistory. Internal: not re-exported from index.ts.
//
// Every script runs atomically in Redis, so the epoch check, the eviction and the operation see one state, and two
// hub nodes sharing the keys never interleave inside one operation.
//
// KEYS: 1 epoch (string), 2 meta (hash: floor, last, bytes), 3 stream, 4 ids (hash: update id -> stream id).
// ARGV: 1 a fresh epoch to use if the store must start anew, 2 now in ms ('' = the Redis server clock),
//       3 maxEntries, 4 maxAgeMs ('' = none), 5 maxBytes ('' = none), 6 eviction budget; then the script's own.
import { createHash } from 'node:crypto'

/** A script with its SHA1, for EVALSHA. */
export interface LuaScript {
  readonly source: string
  readonly sha: string
}

/** How many arguments every script takes before its own (see the header of this file). */
const COMMON_ARGUMENTS = 6

const PRELUDE = `
local K_EPOCH, K_META, K_STREAM, K_IDS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ENTRY_OVERHEAD = 64

-- Compares two non-negative decimal integers written without leading zeros, of any length.
local function cmp_num(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

-- Compares two stream ids 'ms-seq' as numbers, beyond 64 bits if need be.
local function cmp_id(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  local c = cmp_num(am, bm)
  if c ~= 0 then return c end
  return cmp_num(as, bs)
end

local function now_ms()
  if ARGV[2] ~= '' then return ARGV[2] end
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end

local function entry_bytes(fields)
  local n = ENTRY_OVERHEAD
  for i = 1, #fields do n = n + #fields[i] end
  return n
end

-- Returns the epoch. A store seen for the first time, or one that lost any of its keys (FLUSHDB, a restart without
-- persistence, eviction under maxmemory, a manual DEL), starts a new epoch: positions of the old one then read as a
-- gap instead of being matched against unrelated entries. The stream is created at once (empty, its last id 0-1) so
-- that 'epoch without stream' always means lost data.
local function open()
  local epoch = redis.call('GET', K_EPOCH)
  if epoch and redis.call('EXISTS', K_META) == 1 and redis.call('EXISTS', K_STREAM) == 1 then return epoch end
  redis.call('DEL', K_EPOCH, K_META, K_STREAM, K_IDS)
  redis.call('XADD', K_STREAM, 'MAXLEN', '0', '0-1', 'x', '')
  redis.call('HSET', K_META, 'floor', '0-0', 'last', '0-0', 'bytes', '0')
  redis.call('SET', K_EPOCH, ARGV[1], 'NX')
  return ARGV[1]
end

-- Deletes the oldest entries beyond the count, size and age bounds, at most ARGV[6] of them, keeping the id index and
-- the floor (the highest id ever deleted) exact. Returns the floor and whether entries beyond the bounds remain.
local function evict(now)
  local max_entries = tonumber(ARGV[3])
  local max_bytes = nil
  if ARGV[5] ~= '' then max_bytes = tonumber(ARGV[5]) end
  local cutoff = nil
  if ARGV[4] ~= '' then cutoff = tonumber(now) - tonumber(ARGV[4]) end
  local budget = tonumber(ARGV[6])
  local len = redis.call('XLEN', K_STREAM)
  local bytes = tonumber(redis.call('HGET', K_META, 'bytes')) or 0
  local floor = redis.call('HGET', K_META, 'floor')
  local removed = 0
  local more = false
  while len > 0 do
    local over = len > max_entries or (max_bytes ~= nil and bytes > max_bytes)
    if not over and cutoff == nil then break end
    local first = redis.call('XRANGE', K_STREAM, '-', '+', 'COUNT', 1)[1]
    if not over and tonumber(string.match(first[1], '^(%d+)')) >= cutoff then break end
    if removed == budget then
      more = true
      break
    end
    redis.call('XDEL', K_STREAM, first[1])
    local fields = first[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'id' and redis.call('HGET', K_IDS, fields[i + 1]) == first[1] then
        redis.call('HDEL', K_IDS, fields[i + 1])
      end
    end
    bytes = math.max(0, bytes - entry_bytes(fields))
    floor = first[1]
    len = len - 1
    removed = removed + 1
  end
  if removed > 0 then redis.call('HSET', K_META, 'floor', floor, 'bytes', string.format('%.0f', bytes)) end
  return floor, more
end
`

/**
 * Appends one update. ARGV 7: the notice channel; 8: the copy channel ('' = none); 9…: the entry's fields and values.
 * Returns `{epoch, id}`.
 *
 * The id's milliseconds are the append time (`now`, or the last id's when the clock went back), so the age bound
 * reads it from the id; Redis numbers entries within one millisecond.
 *
 * The notice: unless the entry was evicted at once (larger than the byte bound on its own), the script publishes it
 * on the notice channel as a broker message in the JSON format of `message-codec.ts`, plus `prev`, the id issued
 * before it (`0-0` first in an epoch). Published inside the script, the notices of every node leave in the order the
 * entries were appended, and a reader that holds `prev` knows it has missed nothing (`RedisStreamBroker`). The copy:
 * the same message on the copy channel, a `RedisBroker` channel, for hub nodes that receive updates through pub/sub
 * (`RedisBroker` reads the fields it knows).
 */
const APPEND = `${PRELUDE}
local function message(epoch, id, prev, fields)
  local f = {}
  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end
  local out = {'{"v":1,"id":', cjson.encode(f.id), ',"topics":', f.topics, ',"data":', cjson.encode(f.data), ',"private":', f.private == '1' and 'true' or 'false'}
  if f.type then out[#out + 1] = ',"type":' .. cjson.encode(f.type) end
  if f.retry then out[#out + 1] = ',"retry":' .. f.retry end
  out[#out + 1] = ',"epoch":' .. cjson.encode(epoch) .. ',"offset":"' .. id .. '","prev":"' .. prev .. '"}'
  return table.concat(out)
end

local epoch = open()
local now = now_ms()
local last = redis.call('HGET', K_META, 'last')
local ms = string.match(last, '^(%d+)')
if cmp_num(now, ms) > 0 then ms = now end
local fields = {}
for i = ${COMMON_ARGUMENTS + 3}, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', K_STREAM, ms .. '-*', unpack(fields))
redis.call('HSET', K_IDS, fields[2], id)
local bytes = (tonumber(redis.call('HGET', K_META, 'bytes')) or 0) + entry_bytes(fields)
redis.call('HSET', K_META, 'last', id, 'bytes', string.format('%.0f', bytes))
local floor = evict(now)
local kept = cmp_id(id, floor) > 0
local copy = ARGV[${COMMON_ARGUMENTS + 2}]
if kept or copy ~= '' then
  local payload = message(epoch, id, last, fields)
  if kept then redis.call('PUBLISH', ARGV[${COMMON_ARGUMENTS + 1}], payload) end
  if copy ~= '' then redis.call('PUBLISH', copy, payload) end
end
return {epoch, id}
`

/**
 * Reads one page. ARGV 7: 'earliest' or 'after'; 8: the position's epoch; 9: its offset as 'ms-seq', or '' when it
 * cannot be one of ours; 10: how many entries to return.
 * Returns `{'again'}` while eviction is unfinished, `{'invalid'}` for an offset of this epoch that is not ours, or
 * `{'ok', epoch, gap (0/1), start, entries}` where the entries follow `start`.
 */
const READ = `${PRELUDE}
local epoch = open()
local floor, more = evict(now_ms())
if more then return {'again'} end
local last = redis.call('HGET', K_META, 'last')
local start, gap = floor, 0
if ARGV[7] == 'after' then
  if ARGV[8] ~= epoch then
    gap = 1
  elseif ARGV[9] == '' then
    return {'invalid'}
  elseif cmp_id(ARGV[9], last) > 0 then
    start, gap = last, 1
  elseif cmp_id(ARGV[9], floor) < 0 then
    gap = 1
  else
    start = ARGV[9]
  end
end
local entries = {}
if cmp_id(start, last) < 0 then entries = redis.call('XRANGE', K_STREAM, '(' .. start, '+', 'COUNT', ARGV[10]) end
return {'ok', epoch, gap, start, entries}
`

/** Finds the newest retained entry with an update id. ARGV 7: the id. Returns `{'again'}` or `{'ok', epoch, id?}`. */
const LOCATE = `${PRELUDE}
local epoch = open()
local floor, more = evict(now_ms())
if more then return {'again'} end
local id = redis.call('HGET', K_IDS, ARGV[7])
if not id then return {'ok', epoch} end
if cmp_id(id, floor) <= 0 then
  redis.call('HDEL', K_IDS, ARGV[7])
  return {'ok', epoch}
end
return {'ok', epoch, id}
`

/** Counts the retained entries. Returns `{'again'}` or `{'ok', count}`. */
const SIZE = `${PRELUDE}
open()
local floor, more = evict(now_ms())
if more then return {'again'} end
return {'ok', redis.call('XLEN', K_STREAM)}
`

/** Finds the newest retained entry. Returns `{'again'}` or `{'ok', epoch, id?}`. */
const NEWEST = `${PRELUDE}
local epoch = open()
local floor, more = evict(now_ms())
if more then return {'again'} end
if redis.call('XLEN', K_STREAM) == 0 then return {'ok', epoch} end
return {'ok', epoch, redis.call('HGET', K_META, 'last')}
`

/**
 * Tails the stream for `RedisStreamBroker`, without writing anything (no epoch creation, no eviction). ARGV 1: the
 * call's tag; 2: 'head' or 'after'; 3: the epoch the reader is in ('' = none yet: it adopts the current one); 4: the
 * last stream id it read ('ms-seq'); 5: how many entries to return. The other common arguments are not passed.
 * Returns `{'none'}` while the store does not exist, or `{'ok', epoch, missed (0/1), start, entries}`: for 'head', the
 * newest id issued as `start` and no entries; for 'after', the entries after `start`, which is the reader's id, or,
 * when entries after it were evicted or it belongs to another epoch (`missed` = 1), the oldest retained position.
 */
const TAIL = `${PRELUDE}
local epoch = redis.call('GET', K_EPOCH)
if not epoch or redis.call('EXISTS', K_META) == 0 or redis.call('EXISTS', K_STREAM) == 0 then return {'none'} end
local meta = redis.call('HMGET', K_META, 'floor', 'last')
local floor, last = meta[1], meta[2]
if ARGV[2] == 'head' then return {'ok', epoch, 0, last, {}} end
local start, missed = ARGV[4], 0
if ARGV[3] ~= '' and ARGV[3] ~= epoch then
  start, missed = floor, 1
elseif cmp_id(start, floor) < 0 then
  start, missed = floor, 1
elseif cmp_id(start, last) > 0 then
  start, missed = last, 1
end
local entries = {}
if cmp_id(start, last) < 0 then entries = redis.call('XRANGE', K_STREAM, '(' .. start, '+', 'COUNT', ARGV[5]) end
return {'ok', epoch, missed, start, entries}
`

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * A script of the history, whose reply comes tagged: `{ARGV[1], reply}`. ARGV[1] is a fresh UUID per call, so the
 * caller can tell that the reply is the one to its own command (see `RedisHistory`'s `#eval`).
 */
function tagged(source: string): LuaScript {
  return script(`local function run()\n${source}\nend\nreturn {ARGV[1], run()}\n`)
}

/** The scripts, each with its SHA1. */
export const SCRIPTS = {
  append: tagged(APPEND),
  read: tagged(READ),
  locate: tagged(LOCATE),
  size: tagged(SIZE),
  newest: tagged(NEWEST),
  tail: tagged(TAIL),
} as const
