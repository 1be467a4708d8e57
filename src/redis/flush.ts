/**
 * Deleting every key whose name starts with a prefix, on every shard: what
 * `flush()` does on both Redis layers (all of the core layer's keys; only
 * the group histories on the pub/sub layer). Each master is walked with
 * `SCAN ... MATCH`, a page at a time, and each page is `UNLINK`ed: Redis
 * keeps serving between pages, where channels_redis's `KEYS` script holds
 * it for a walk of the whole keyspace (seconds on a big shared Redis). A
 * Redis Cluster is walked node by node (`SCAN` sees only the node it runs
 * on) and a page is unlinked one key per command (a multi-key command must
 * stay in one slot). Keys made while the walk runs may stay, as with any
 * flush that does not stop the server.
 */
import type { Redis } from 'ioredis';
import type { Shard } from './connection.js';

/** Keys asked for per `SCAN` step: big enough to be quick, small enough that a step is short. */
const PAGE = 1000;

/** Deletes every key starting with `start` (taken literally, glob characters escaped) on `shards`. */
export async function deleteKeysStartingWith(shards: readonly Shard[], cluster: boolean, start: string): Promise<void> {
  const pattern = start.replace(/[*?[\]\\]/g, '\\$&') + '*';
  // A cluster is one shard whose masters are its nodes; otherwise each shard is one Redis.
  const walked = cluster ? shards.slice(0, 1) : shards;
  await Promise.all(walked.map((shard) => shard.run(async () => {
    const masters = await shard.masters();
    await Promise.all(masters.map((node) => deleteMatching(node, pattern, cluster)));
  })));
}

/** `SCAN`s one node for `pattern` and unlinks each page it finds. */
async function deleteMatching(node: Redis, pattern: string, oneKeyPerCommand: boolean): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', PAGE);
    cursor = next;
    if (keys.length === 0) continue;
    if (!oneKeyPerCommand) await node.unlink(...keys);
    else {
      const unlinks = node.pipeline();
      for (const key of keys) unlinks.unlink(key);
      const failed = (await unlinks.exec())?.find(([error]) => error !== null);
      if (failed !== undefined) throw failed[0]; // a key that moved (resharding): flush again
    }
  } while (cursor !== '0');
}
