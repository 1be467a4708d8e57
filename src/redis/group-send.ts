/**
 * The core layer's `groupSend`, less the message checks and the history
 * append: reading the members (and judging dead processes, see
 * `liveness.ts`), then delivering.
 *
 * How delivery works, as channels_redis (spec §2.8): members are grouped by
 * receiving key (`prefix + nonLocalName`, one per process for
 * process-specific channels); each key gets one stored copy naming all its
 * members in `__asgi_channel__`, with the capacity of its first member, on the
 * key's shard. Each shard's copies go in one `GROUP_SEND` script per 500 keys,
 * all shards at once.
 */
import { nonLocalName } from '../layers/base.js';
import type { Shard } from './connection.js';
import { processLivenessKey, processRegistryKey } from './liveness.js';
import type { LayerLogger } from './log.js';
import { GROUP_MEMBERS, GROUP_SEND } from './scripts.js';
import { channelKey, groupKey, microsToScore } from './wire.js';

/** Keys per `GROUP_SEND` script. */
const KEYS_PER_SCRIPT = 500;

/** What {@link readMembers} needs of the layer. */
export interface MemberRead {
  shards: readonly Shard[];
  prefix: string;
  /** This process's client prefix: its own members are never judged. */
  clientPrefix: string;
  shardFor: (name: string) => number;
  logger: LayerLogger;
}

/**
 * The live members of a group (`GROUP_MEMBERS`: memberships older than
 * `cutoffMicros` dropped, dead Switchyard processes' members removed). The
 * script deletes the dead processes' keys on the group's shard; a key whose
 * home is another shard is deleted there (rare: only with several hosts,
 * once per dead process and group).
 *
 * @example
 * ```ts
 * import { readMembers } from './group-send.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * await readMembers('chat_lobby', Date.now() * 1000 - 86400e6, {
 *   shards, prefix: 'asgi', clientPrefix: '0123456789abcdef0123456789abcdef', shardFor: () => 0, logger,
 * });
 * ```
 */
export async function readMembers(group: string, cutoffMicros: number, read: MemberRead): Promise<string[]> {
  const { shards, prefix, shardFor, logger } = read;
  const groupShard = shardFor(group);
  const [members, dead] = (await shards[groupShard]!.run((redis) =>
    GROUP_MEMBERS.run(redis, [groupKey(prefix, group), processRegistryKey(prefix)], [
      microsToScore(Math.max(0, cutoffMicros)), processLivenessKey(prefix, ''), prefix, read.clientPrefix,
    ]),
  )) as [string[], string[]];
  if (dead.length > 0) {
    logger.info({ group, processes: dead }, `Removed the members of ${dead.length} dead process key(s) from group ${group}`);
    for (const nonLocal of dead) {
      const home = shardFor(nonLocal);
      if (home !== groupShard) shards[home]!.run((redis) => redis.del(channelKey(prefix, nonLocal))).catch(() => {});
    }
  }
  return members;
}

/** What {@link deliverToMembers} needs of the layer. */
export interface GroupDelivery {
  shards: readonly Shard[];
  prefix: string;
  capacityFor: (channel: string) => number;
  shardFor: (name: string) => number;
  /** The stored copy naming some members (see `MessageCodec.encoderFor`). */
  encode: (channels: readonly string[]) => Buffer;
  /** Score of the copies, expiry cutoff score and key TTL (ms), as `GROUP_SEND` takes them. */
  score: string;
  cutoff: string;
  ttlMs: number;
}

/**
 * Stores one copy per receiving key; resolves with how many keys were full
 * and how many keys there were. Rejects (with `LayerUnavailableError`) when a
 * shard failed.
 *
 * @example
 * ```ts
 * import { deliverToMembers } from './group-send.js';
 * import { MessageCodec } from './wire.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const codec = new MessageCodec();
 * const { over, keys } = await deliverToMembers(['specific.abc!1', 'specific.abc!2'], {
 *   shards: [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })], prefix: 'asgi',
 *   capacityFor: () => 100, shardFor: () => 0, encode: codec.encoderFor({ type: 'chat.message' }),
 *   score: '1795247202.975184', cutoff: '1795247142.975184', ttlMs: 60_000,
 * });
 * ```
 */
export async function deliverToMembers(members: readonly string[], delivery: GroupDelivery): Promise<{ over: number; keys: number }> {
  const { shards, prefix, capacityFor, shardFor, encode, score, cutoff, ttlMs } = delivery;
  const byKey = new Map<string, { channels: string[]; capacity: number; shard: number }>();
  for (const channel of members) {
    const key = channelKey(prefix, channel);
    const entry = byKey.get(key);
    if (entry !== undefined) entry.channels.push(channel);
    else byKey.set(key, { channels: [channel], capacity: capacityFor(channel), shard: shardFor(nonLocalName(channel)) });
  }
  const perShard = new Map<number, { keys: string[]; members: Buffer[]; capacities: number[] }>();
  for (const [key, entry] of byKey) {
    let batch = perShard.get(entry.shard);
    if (batch === undefined) perShard.set(entry.shard, (batch = { keys: [], members: [], capacities: [] }));
    batch.keys.push(key);
    batch.members.push(encode(entry.channels));
    batch.capacities.push(entry.capacity);
  }
  const results = await Promise.allSettled(
    [...perShard].flatMap(([index, batch]) => {
      const runs: Promise<unknown>[] = [];
      for (let i = 0; i < batch.keys.length; i += KEYS_PER_SCRIPT) {
        const keys = batch.keys.slice(i, i + KEYS_PER_SCRIPT);
        const args = [...batch.members.slice(i, i + KEYS_PER_SCRIPT), ...batch.capacities.slice(i, i + KEYS_PER_SCRIPT), score, cutoff, ttlMs];
        runs.push(shards[index]!.run((redis) => GROUP_SEND.run(redis, keys, args)));
      }
      return runs;
    }),
  );
  let over = 0;
  for (const result of results) {
    if (result.status === 'rejected') throw result.reason;
    over += Number(result.value);
  }
  return { over, keys: byKey.size };
}
