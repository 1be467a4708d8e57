/**
 * Keeps the shared Redis (127.0.0.1:6379, DB 0) clean: a test file names the
 * key prefixes it writes under, and {@link guardRedisKeys} registers an
 * after-all hook that fails the file, naming the leftover keys, when any key
 * under those prefixes is still there after the file's own cleanup (it then
 * deletes them, so one leak does not fail later runs).
 *
 * Call `guardRedisKeys()` after the file's other `after()` hooks are
 * registered (hooks run in registration order): at the end of the module.
 */
import { after } from 'node:test';
import { Redis } from 'ioredis';

/** The Redis the suite shares. */
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379/0';

/** Escapes the glob characters of a prefix for `SCAN MATCH`. */
function globPrefix(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
}

/** Every key under `prefix` (SCAN, so the server is never blocked). */
export async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', globPrefix(prefix), 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

/** Deletes every key under `prefix`; returns how many there were. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  const keys = await keysWithPrefix(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  return keys.length;
}

/**
 * Registers an after-all hook deleting every key under `prefixes`: the
 * cleanup of a file whose code under test writes keys it has no API to
 * delete (sessions that live two weeks). Register it before {@link guardRedisKeys}.
 */
export function deleteRedisKeysAfter(...prefixes: string[]): void {
  requireNarrow(prefixes);
  after(() => withTestRedis(async (redis) => {
    for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
  }));
}

/** Runs `use` with a connection of its own to the shared Redis, closed afterwards. */
async function withTestRedis(use: (redis: Redis) => Promise<void>): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await use(redis);
  } finally {
    redis.disconnect();
  }
}

function requireNarrow(prefixes: string[]): void {
  for (const prefix of prefixes) {
    if (prefix.length < 4) throw new Error(`The Redis key prefix ${JSON.stringify(prefix)} is too broad to clean up by`);
  }
}

/**
 * After all tests of the file (and the hooks registered before this call):
 * fails naming any key left under `prefixes`, then deletes those keys.
 * An empty prefix is refused: it would guard (and delete) the whole database.
 */
export function guardRedisKeys(...prefixes: string[]): void {
  requireNarrow(prefixes);
  after(() => withTestRedis(async (redis) => {
    const left: string[] = [];
    for (const prefix of prefixes) left.push(...(await keysWithPrefix(redis, prefix)));
    for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
    if (left.length > 0) {
      const shown = left.slice(0, 20).join(', ') + (left.length > 20 ? `, ... (${left.length} in all)` : '');
      throw new Error(`The tests left ${left.length} key(s) behind in Redis DB 0: ${shown}`);
    }
  }));
}
