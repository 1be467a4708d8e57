/**
 * The Lua scripts of the core layer. Each has the effect of the command
 * sequence channels_redis runs (spec §2.5, §2.7, §2.8, §2.10), done atomically
 * in one round trip, so capacity checks are exact and expiry trimming always
 * lands on the shard that holds the key.
 */
import { LuaScript } from './connection.js';

/**
 * `send`: trim expired, refuse when full, add, refresh the TTL.
 * KEYS[1] channel key; ARGV cutoff score, capacity, score, member, TTL (ms). Returns 1, or 0 when full.
 */
export const SEND = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`);

/**
 * `group_send` delivery on one shard. KEYS: n channel keys; ARGV: n members,
 * n capacities, score, cutoff score, TTL (ms). Returns how many keys were full.
 */
export const GROUP_SEND = new LuaScript(`
local n = #KEYS
local over = 0
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[2 * n + 2])
  if redis.call('ZCARD', KEYS[i]) < tonumber(ARGV[n + i]) then
    redis.call('ZADD', KEYS[i], ARGV[2 * n + 1], ARGV[i])
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * n + 3])
  else
    over = over + 1
  end
end
return over
`);

/** `group_add`: KEYS[1] group key; ARGV score, channel, TTL (ms). */
export const GROUP_ADD = new LuaScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

/** `flush`: deletes every key matching ARGV[1], 5000 per DEL. */
export const FLUSH = new LuaScript(`
local keys = redis.call('KEYS', ARGV[1])
for i = 1, #keys, 5000 do
  redis.call('DEL', unpack(keys, i, math.min(i + 4999, #keys)))
end
return #keys
`);

/**
 * `group_send`'s member read, judging Switchyard processes (see `liveness.ts`):
 * drops expired memberships and reads the members (channels_redis's
 * `ZREMRANGEBYSCORE` + `ZRANGE`), then removes the
 * members of every process listed in the registry whose liveness key is gone,
 * and deletes those processes' keys on this shard. A channel whose process is
 * not in the registry (Django's, general channels) is never judged; with no
 * registry on this shard nothing is judged. Process keys are
 * built from ARGV (not declared): fine on one Redis or Sentinel, which is all
 * channels_redis supports.
 * KEYS[1] group key, KEYS[2] registry; ARGV cutoff score, liveness key prefix,
 * channel key prefix, own client prefix (never judged).
 * Returns `[live members, non-local names of the dead processes' keys]`.
 */
export const GROUP_MEMBERS = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members == 0 or redis.call('EXISTS', KEYS[2]) == 0 then return {members, {}} end
local verdicts = {}
local live = {}
local dead = {}
local deleted = {}
for _, member in ipairs(members) do
  local nonlocal, process = string.match(member, '^([^!]*%.([^.!]+)!)')
  local gone = false
  if process ~= nil and process ~= ARGV[4] then
    gone = verdicts[process]
    if gone == nil then
      gone = redis.call('ZSCORE', KEYS[2], process) ~= false and redis.call('EXISTS', ARGV[2] .. process) == 0
      verdicts[process] = gone
    end
  end
  if gone then
    redis.call('ZREM', KEYS[1], member)
    if not deleted[nonlocal] then
      deleted[nonlocal] = true
      redis.call('DEL', ARGV[3] .. nonlocal)
      dead[#dead + 1] = nonlocal
    end
  else
    live[#live + 1] = member
  end
end
return {live, dead}
`);

/**
 * Re-asserts this process's memberships (see `memberships.ts`): adds each
 * missing one with its original join score (`ZADD NX`: a newer score set by
 * anyone stays), refreshes the group TTL when something was added, and
 * removes the memberships whose `groupDiscard` could not reach Redis.
 * KEYS: n group keys; ARGV[1] group TTL (ms), then per key: j, j × (score,
 * channel), l, l × channel. Returns how many memberships were added back.
 */
export const REJOIN = new LuaScript(`
local at = 2
local total = 0
for i = 1, #KEYS do
  local joins = tonumber(ARGV[at])
  at = at + 1
  local added = 0
  for _ = 1, joins do
    added = added + redis.call('ZADD', KEYS[i], 'NX', ARGV[at], ARGV[at + 1])
    at = at + 2
  end
  if added > 0 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  total = total + added
  local leaves = tonumber(ARGV[at])
  at = at + 1
  for _ = 1, leaves do
    redis.call('ZREM', KEYS[i], ARGV[at])
    at = at + 1
  end
end
return total
`);

// Group history (see `history.ts`). Both scripts start a new epoch when the
// group's meta hash is missing (never written, expired, evicted, or Redis lost
// it): the stream of a lost epoch is deleted, so offsets restart at 1.
const HISTORY_EPOCH = `
local epoch = redis.call('HGET', KEYS[2], 'epoch')
local top = 0
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'top', 0)
else
  top = tonumber(redis.call('HGET', KEYS[2], 'top'))
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local clock = redis.call('TIME')
local ms = clock[1] .. string.format('%03d', math.floor(tonumber(clock[2]) / 1000))
`;

/**
 * Appends a message to a group's history. KEYS[1] stream, KEYS[2] meta hash;
 * ARGV new epoch (used only when none exists), meta TTL (ms), size, payload,
 * stream TTL (ms). The entry's id is `0-<offset>` (dense, ordered), its
 * fields `m` (payload) and `t` (Redis time, ms). Returns `[epoch, offset]`.
 */
export const HISTORY_APPEND = new LuaScript(HISTORY_EPOCH + `
local offset = redis.call('HINCRBY', KEYS[2], 'top', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '0-' .. offset, 'm', ARGV[4], 't', ms)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {epoch, offset}
`);

/**
 * Reads a group's history after a position. KEYS[1] stream, KEYS[2] meta
 * hash; ARGV new epoch (used only when none exists), meta TTL (ms), size,
 * ttl (ms), then the position's epoch and offset and the limit (none: the
 * top only). The window is the entries above `top - size` from
 * the first one younger than the ttl on (as `MemoryHistory` trims). Returns
 * `[epoch, top, recovered (1/0), [offset, payload, ...]]`: the entries after
 * the position, or the whole window when the epoch differs or the position
 * fell out of it.
 */
export const HISTORY_READ = new LuaScript(HISTORY_EPOCH + `
if ARGV[7] == nil then return {epoch, top, 1, {}} end
local cutoff = tonumber(ms) - tonumber(ARGV[4])
local oldest = top + 1
local start = '(0-' .. math.max(0, top - tonumber(ARGV[3]))
while oldest > top do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 100)
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    if tonumber(entry[2][4]) >= cutoff then
      oldest = tonumber(string.sub(entry[1], 3))
      break
    end
  end
  start = '(' .. batch[#batch][1]
end
local same = ARGV[5] == epoch
local after = same and tonumber(ARGV[6]) or 0
local recovered = same and after <= top and after >= oldest - 1
local out = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '(0-' .. math.max(0, math.min(after, top), oldest - 1), '+', 'COUNT', ARGV[7])) do
  out[#out + 1] = string.sub(entry[1], 3)
  out[#out + 1] = entry[2][2]
end
return {epoch, top, recovered and 1 or 0, out}
`);
