/**
 * Deleting every key whose name starts with a prefix, on every shard: what
 * `flush()` does on both Redis layers (all of the core layer's keys; only
 * the group histories on the pub/sub layer). One place, because a Redis
 * Cluster needs its own way: `KEYS` sees only the node it runs on, so the
 * script runs on each master (`FLUSH_NODE`, allowed to touch any slot of
 * its node) instead of once per shard (`FLUSH`).
 */
import type { Shard } from './connection.js';
import { FLUSH, FLUSH_NODE } from './scripts.js';

/** Deletes every key starting with `start` (taken literally, glob characters escaped) on `shards`. */
export async function deleteKeysStartingWith(shards: readonly Shard[], cluster: boolean, start: string): Promise<void> {
  const pattern = start.replace(/[*?[\]\\]/g, '\\$&') + '*';
  if (cluster) {
    const shard = shards[0]!;
    const masters = await shard.masters();
    await shard.run(() => Promise.all(masters.map((node) => FLUSH_NODE.run(node, [], [pattern]))));
  } else {
    await Promise.all(shards.map((shard) => shard.run((redis) => FLUSH.run(redis, [], [pattern]))));
  }
}
