/**
 * The liveness lease of a Switchyard process on the core Redis layer, so that
 * a process killed with SIGKILL does not stay in its groups for a day.
 *
 * How it works:
 * - Once a process adds one of its own channels to a group, it holds a lease
 *   on the shard of that group: the key `<prefix>switchyard:process:<client
 *   prefix>` (a string, `"<host> <pid>"`, `PX processTtl`), renewed every
 *   `processTtl / 3`, and its client prefix in the registry
 *   `<prefix>switchyard:processes` (a sorted set, scored by the time of the
 *   last renewal in ms, trimmed after `groupExpiry`, with the same TTL). One
 *   script per shard and renewal, one round trip.
 * - The registry is what makes judging safe: only a channel whose client
 *   prefix is in it can be judged, so a Django process (which registers
 *   nothing) never loses a member. A registered process whose lease key is
 *   gone is dead: the next `groupSend` to a group holding its members removes
 *   them and deletes its process key (`GROUP_MEMBERS` in `scripts.ts`),
 *   in the script that reads the members anyway: no extra round trip.
 * - The lease is also this process's probe of Redis losing its data: a
 *   renewal that finds its own key missing (Redis restarted or was flushed,
 *   the key was evicted, or this process stalled past its TTL and was judged
 *   dead) calls `onLost`, and the layer re-asserts its memberships
 *   (`memberships.ts`).
 * - `close()` deletes the lease key; the registry entry goes too unless
 *   memberships are left, which the next `groupSend` then removes.
 */
import { hostname } from 'node:os';
import { LuaScript, type Shard } from './connection.js';
import type { KeyNames } from './keys.js';
import type { LayerLogger } from './log.js';

/** KEYS lease, registry; ARGV value, ttl ms, client prefix, now ms, registry cutoff ms, registry ttl ms. 1 when the lease was held, 0 when it had to be created. */
const RENEW = new LuaScript(`
local held = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'XX')
if not held then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if held then return 1 end
return 0
`);

/** KEYS lease, registry; ARGV client prefix, "1" to leave the registry too. */
const RELEASE = new LuaScript(`
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
return 1
`);

/**
 * The liveness key of a process: `<prefix>switchyard:process:<client prefix>`.
 *
 * @example
 * ```ts
 * import { processLivenessKey } from 'switchyard/redis';
 * processLivenessKey('asgi', '0123456789abcdef0123456789abcdef'); // 'asgiswitchyard:process:0123456789abcdef0123456789abcdef'
 * ```
 */
export function processLivenessKey(prefix: string, clientPrefix: string): string {
  return `${prefix}switchyard:process:${clientPrefix}`;
}

/**
 * The registry of Switchyard processes: `<prefix>switchyard:processes`.
 *
 * @example
 * ```ts
 * import { processRegistryKey } from 'switchyard/redis';
 * processRegistryKey('asgi'); // 'asgiswitchyard:processes'
 * ```
 */
export function processRegistryKey(prefix: string): string {
  return `${prefix}switchyard:processes`;
}

/** Options of {@link ProcessLiveness}. */
export interface ProcessLivenessOptions {
  shards: readonly Shard[];
  /** The layer's key names (on a cluster, this process's lease and registry entry share its slot). */
  keys: KeyNames;
  clientPrefix: string;
  /** Ms a lease lives without renewal. */
  ttlMs: number;
  /** Ms a registry entry is kept after its last renewal (the group expiry). */
  registryKeepMs: number;
  logger: LayerLogger;
  /** Called when a renewal found this process's lease gone on a shard (Redis lost it, or judged us dead). */
  onLost: (shard: number) => void;
}

/**
 * The lease of one process on the shards that hold its groups.
 *
 * @example
 * ```ts
 * import { ProcessLiveness } from './liveness.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * const liveness = new ProcessLiveness({
 *   shards, keys: new KeyNames('asgi', false), clientPrefix: '0123456789abcdef0123456789abcdef', ttlMs: 30_000,
 *   registryKeepMs: 86_400_000, logger, onLost: (shard) => console.log('re-assert on', shard),
 * });
 * await liveness.ensure(0); // registered; renewed every 10 s until close()
 * await liveness.close(false);
 * ```
 */
export class ProcessLiveness {
  readonly #options: ProcessLivenessOptions;
  readonly #value = `${hostname()} ${process.pid}`;
  readonly #key: string;
  readonly #registry: string;
  /** Per shard: undefined (not wanted), a pending first renewal, or true once held. */
  readonly #state: Array<Promise<void> | true | undefined>;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: ProcessLivenessOptions) {
    this.#options = options;
    this.#key = options.keys.liveness(options.clientPrefix);
    this.#registry = options.keys.registry(options.clientPrefix);
    this.#state = options.shards.map(() => undefined);
  }

  /** Ms between renewals: a third of the TTL, so two renewals can fail before the lease lapses. */
  get renewEvery(): number {
    return Math.max(10, Math.floor(this.#options.ttlMs / 3));
  }

  /** Holds the lease on a shard (the first call registers; later calls return at once). */
  ensure(shard: number): Promise<void> {
    const state = this.#state[shard];
    if (state === true) return Promise.resolve();
    if (state !== undefined) return state;
    const first = this.renew(shard).catch((error: unknown) => {
      this.#state[shard] = undefined; // the next ensure() tries again
      throw error;
    });
    this.#state[shard] = first;
    this.#timer ??= setInterval(() => this.#tick(), this.renewEvery).unref();
    return first;
  }

  /** Renews the lease on a wanted shard now (after a reconnect); rejects when Redis is away. */
  async renew(shard: number): Promise<void> {
    if (this.#closed) return;
    const { shards, ttlMs, clientPrefix, registryKeepMs } = this.#options;
    const now = Date.now();
    const held = await shards[shard]!.run((redis) =>
      RENEW.run(redis, [this.#key, this.#registry], [this.#value, Math.ceil(ttlMs), clientPrefix, now, now - registryKeepMs, Math.ceil(registryKeepMs)]),
    );
    const wasHeld = this.#state[shard] === true;
    this.#state[shard] = true;
    if (Number(held) === 0 && wasHeld) this.#options.onLost(shard);
  }

  /** Whether the lease is held (or being taken) on a shard. */
  wanted(shard: number): boolean {
    return this.#state[shard] !== undefined;
  }

  #tick(): void {
    for (let shard = 0; shard < this.#state.length; shard++) {
      if (this.#state[shard] !== true) continue;
      this.renew(shard).catch((error: unknown) => {
        // Redis away: the reconnect renews (onUp); a lease that lapses meanwhile is re-taken then.
        this.#options.logger.debug({ err: error, shard }, 'Could not renew the process lease');
      });
    }
  }

  /**
   * Stops renewing and deletes the lease keys (best effort: a lease that
   * cannot be deleted lapses after its TTL). With `membershipsLeft`, the
   * registry entry stays, so other processes remove what is left.
   */
  async close(membershipsLeft: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await Promise.allSettled(this.#state.map((state, shard) => state === undefined ? undefined :
      this.#options.shards[shard]!.run((redis) => RELEASE.run(redis, [this.#key, this.#registry], [this.#options.clientPrefix, membershipsLeft ? '0' : '1'])),
    ));
  }
}
