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
