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

/** The members of a group after dropping expired memberships. KEYS[1] group key; ARGV cutoff score. */
export const GROUP_MEMBERS = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
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
