/**
 * Leases on Redis for both Redis layers (see `layers/lease.ts`).
 *
 * How it works: the lease of `name` is the key `<prefix>switchyard:lease:<name>`
 * holding `"<generation> <token>"`, set with `PX ttl` only when absent (one
 * script: `EXISTS`, `INCR` of the generation counter, `SET ... PX`). Renew and
 * release compare the whole value first (Lua), so a holder whose lease
 * expired can never extend or delete its successor's. The generation counter
 * `<prefix>switchyard:lease-generation:<name>` outlives the leases (its TTL,
 * a week, is refreshed at each acquisition) so fencing tokens only grow.
 * Channel names cannot hold `:` and group keys are `<prefix>:group:...`, so
 * these keys never meet channels_redis's. Both keys of a name live on the
 * shard `crc32(name)` picks (on a Redis Cluster both are tagged `{<name>}`,
 * see `keys.ts`). A layer's `flush()` deletes them with the rest
 * of its prefix.
 */
import { randomUUID } from 'node:crypto';
import type { Lease } from '../layers/lease.js';
import { requireValidLease } from '../layers/lease.js';
import { LuaScript, type Shard } from './connection.js';
import type { KeyNames } from './keys.js';

/** How long (ms) the generation counter of a name is kept after its last acquisition. */
const GENERATION_TTL_MS = 7 * 24 * 3600 * 1000;

/** KEYS lease, generation; ARGV token, ttl ms, generation ttl ms. Returns the generation, or nil when held. */
const ACQUIRE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local generation = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], generation .. ' ' .. ARGV[1], 'PX', ARGV[2])
return generation
`);

/** KEYS lease; ARGV value, ttl ms. Returns 1 when extended, 0 when the value is not ours any more. */
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`);

/** KEYS lease; ARGV value. Deletes the lease only while it is ours. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

/**
 * The key of a lease: `<prefix>switchyard:lease:<name>`.
 *
 * @example
 * ```ts
 * import { leaseKey } from 'switchyard/redis';
 * leaseKey('asgi', 'ticker'); // 'asgiswitchyard:lease:ticker'
 * ```
 */
export function leaseKey(prefix: string, name: string): string {
  return `${prefix}switchyard:lease:${name}`;
}

/**
 * The key of a lease's generation counter: `<prefix>switchyard:lease-generation:<name>`.
 *
 * @example
 * ```ts
 * import { leaseGenerationKey } from 'switchyard/redis';
 * leaseGenerationKey('asgi', 'ticker'); // 'asgiswitchyard:lease-generation:ticker'
 * ```
 */
export function leaseGenerationKey(prefix: string, name: string): string {
  return `${prefix}switchyard:lease-generation:${name}`;
}

/**
 * Acquires the lease of `name` on one shard: the lease, or null while another
 * holder has it. Rejects with `LayerUnavailableError` when Redis is away.
 * (The layers' `lease()` methods call this with the shard of the name.)
 *
 * @example
 * ```ts
 * import { acquireRedisLease } from './lease.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger } from './log.js';
 * const shard = new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger: defaultLogger });
 * const lease = await acquireRedisLease(shard, new KeyNames('asgi', false), 'ticker', 5000);
 * ```
 */
export async function acquireRedisLease(shard: Shard, keys: KeyNames, name: string, ttlMs: number): Promise<Lease | null> {
  requireValidLease(name, ttlMs);
  const key = keys.lease(name);
  const token = randomUUID().replace(/-/g, '');
  const reply = await shard.run((redis) =>
    ACQUIRE.run(redis, [key, keys.leaseGeneration(name)], [token, Math.ceil(ttlMs), GENERATION_TTL_MS]),
  );
  if (reply === null) return null;
  const generation = Number(reply);
  const value = `${generation} ${token}`;
  return {
    name,
    token,
    generation,
    async renew(next: number): Promise<boolean> {
      requireValidLease(name, next);
      return Number(await shard.run((redis) => RENEW.run(redis, [key], [value, Math.ceil(next)]))) === 1;
    },
    async release(): Promise<void> {
      await shard.run((redis) => RELEASE.run(redis, [key], [value]));
    },
  };
}
