/**
 * The delivery half of the core layer's `groupSend`, after the members were
 * read (and dead processes judged, see `liveness.ts`).
 *
 * How it works, as channels_redis (spec §2.8): members are grouped by
 * receiving key (`prefix + nonLocalName`, one per process for
 * process-specific channels); each key gets one stored copy naming all its
 * members in `__asgi_channel__`, with the capacity of its first member, on the
 * key's shard. Each shard's copies go in one `GROUP_SEND` script per 500 keys,
 * all shards at once.
 */
import { nonLocalName } from '../layers/base.js';
import type { Shard } from './connection.js';
import { GROUP_SEND } from './scripts.js';
import { channelKey } from './wire.js';

/** Keys per `GROUP_SEND` script. */
const KEYS_PER_SCRIPT = 500;

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
