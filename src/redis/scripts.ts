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
 * `group_send` delivery on one shard. KEYS: n channel keys, then the
 * delivered marker when ARGV's last is its TTL; ARGV: n members, n
 * capacities, score, cutoff score, TTL (ms), marker TTL (ms) or ''. Returns
 * how many keys were full, or -1 when the marker was already set (a retried
 * delivery that had run: see `deliverCommitted`).
 */
export const GROUP_SEND = new LuaScript(`
local n = #KEYS
if ARGV[#ARGV] ~= '' then
  n = n - 1
  if not redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', ARGV[#ARGV]) then return -1 end
end
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

// The member read of `group_send`, judging Switchyard processes (see `liveness.ts`):
// drops expired memberships and reads the members (channels_redis's
// `ZREMRANGEBYSCORE` + `ZRANGE`) into `live`, then moves to `dead` the
// non-local names of every process listed in the registry whose liveness key
// is gone, removing their members and deleting their keys on this shard. A
// channel whose process is not in the registry (Django's, general channels)
// is never judged; with no registry on this shard nothing is judged. Process
// keys are built from ARGV (not declared): fine on one Redis or Sentinel, which
// is all channels_redis supports (a cluster reads with CLUSTER_MEMBERS).
// KEYS[1] group key, KEYS[2] registry; ARGV[1] cutoff score, ARGV[2] liveness
// key prefix, ARGV[3] channel key prefix, ARGV[4] own client prefix.
const READ_MEMBERS = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
local dead = {}
if #live > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local members = live
  live = {}
  local verdicts = {}
  for _, member in ipairs(members) do
    local bang = string.find(member, '!', 1, true)
    local gone = false
    if bang then
      local nonlocal = string.sub(member, 1, bang)
      gone = verdicts[nonlocal]
      if gone == nil then
        local process = string.match(nonlocal, '%.([^.!]+)!$')
        gone = process ~= nil and process ~= ARGV[4] and redis.call('ZSCORE', KEYS[2], process) ~= false
          and redis.call('EXISTS', ARGV[2] .. process) == 0
        verdicts[nonlocal] = gone
        if gone then
          redis.call('DEL', ARGV[3] .. nonlocal)
          dead[#dead + 1] = nonlocal
        end
      end
    end
    if gone then redis.call('ZREM', KEYS[1], member) else live[#live + 1] = member end
  end
end
`;

/**
 * `group_send`'s member read (see `READ_MEMBERS` above): KEYS group key,
 * registry; ARGV cutoff score, liveness key prefix, channel key prefix, own
 * client prefix. Returns `[live members, non-local names of the dead processes' keys]`.
 */
export const GROUP_MEMBERS = new LuaScript(READ_MEMBERS + `
return {live, dead}
`);

/**
 * A whole `group_send` in one script, on one Redis: the member read of
 * {@link GROUP_MEMBERS}, then one stored copy per receiving key with the
 * list of that key's members in `__asgi_channel__`, packed here with
 * `cmsgpack` exactly as Python's msgpack packs a list of str (and as
 * `MessageCodec.encoderFor` appends it). KEYS group key, registry; ARGV[1..4]
 * as GROUP_MEMBERS, then score, expiry cutoff score, key TTL (ms), the
 * copy's head (random prefix ‖ msgpack map header counting the extra entry),
 * the message's packed entries, the channel left out ('' for none), the
 * channel capacity, the most a process key holds (a process key holds the
 * capacity times the channels the copy names, up to that: see `group-send.ts`),
 * and the delivered marker's TTL (ms) or '' (KEYS[3] is then the marker, set
 * when there are members).
 * Returns `[keys over capacity, keys, non-local names of dead processes' keys]`;
 * keys is -1 when the marker was already set (a retried delivery that had run).
 */
export const GROUP_DELIVER = new LuaScript(READ_MEMBERS + `
if #live > 0 and ARGV[13] ~= '' and not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[13]) then return {0, -1, dead} end
local order = {}
local targets = {}
for _, member in ipairs(live) do
  if member ~= ARGV[10] then
    local bang = string.find(member, '!', 1, true)
    local nonlocal = member
    if bang then nonlocal = string.sub(member, 1, bang) end
    local list = targets[nonlocal]
    if list == nil then
      list = {}
      targets[nonlocal] = list
      order[#order + 1] = nonlocal
    end
    list[#list + 1] = member
  end
end
local over = 0
local entry = cmsgpack.pack('__asgi_channel__')
for _, nonlocal in ipairs(order) do
  local key = ARGV[3] .. nonlocal
  redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[6])
  local capacity = tonumber(ARGV[11])
  if string.sub(nonlocal, -1) == '!' then capacity = math.min(tonumber(ARGV[12]), capacity * #targets[nonlocal]) end
  if redis.call('ZCARD', key) < capacity then
    redis.call('ZADD', key, ARGV[5], ARGV[8] .. ARGV[9] .. entry .. cmsgpack.pack(targets[nonlocal]))
    redis.call('PEXPIRE', key, ARGV[7])
  else
    over = over + 1
  end
end
return {over, #order, dead}
`);

/**
 * The member read on a Redis Cluster, where the registry and the process
 * keys live in other slots (dead processes are judged apart, see
 * `group-send.ts`): KEYS[1] group key; ARGV cutoff score. Returns the members.
 */
export const CLUSTER_MEMBERS = new LuaScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);

/**
 * Judges one process on a Redis Cluster (its keys share its slot): dead when
 * registered and its liveness key is gone; then its process keys are deleted.
 * KEYS[1] its registry entry, KEYS[2] its liveness key, KEYS[3..] its
 * process keys; ARGV its client prefix. Returns 1 when dead.
 */
export const CLUSTER_JUDGE = new LuaScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
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
