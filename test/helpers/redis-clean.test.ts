// The guard of test/helpers/redis-clean.ts: a file that leaves a key under its prefix fails,
// naming the key, and the key is deleted; a clean file passes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL, deleteKeysWithPrefix, guardRedisKeys, keysWithPrefix } from './redis-clean.js';

const PREFIX = `sy-clean-${process.pid}-`;
const redis = new Redis(TEST_REDIS_URL);
after(async () => {
  await deleteKeysWithPrefix(redis, PREFIX);
  redis.disconnect();
});

test('a file leaving a key under its guarded prefix fails, naming the key; the key is then deleted', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/layers/fixtures/leaky.ts'], {
    // Without NODE_TEST_CONTEXT, the child reports as a test run of its own (TAP on stdout) instead of to this runner.
    encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined, LEAKY_PREFIX: `${PREFIX}leak-` },
  });
  assert.notEqual(run.status, 0, run.stdout);
  assert.match(run.stdout, new RegExp(`left 1 key\\(s\\) behind in Redis DB 0: ${PREFIX}leak-forgotten`));
});

test('keysWithPrefix matches the prefix literally (glob characters escaped); deleteKeysWithPrefix deletes only those', async () => {
  await redis.set(`${PREFIX}a*b`, '1', 'EX', 60);
  await redis.set(`${PREFIX}axb`, '1', 'EX', 60);
  assert.deepEqual(await keysWithPrefix(redis, `${PREFIX}a*`), [`${PREFIX}a*b`]);
  assert.equal(await deleteKeysWithPrefix(redis, `${PREFIX}a*`), 1);
  assert.deepEqual(await keysWithPrefix(redis, PREFIX), [`${PREFIX}axb`]);
  await redis.del(`${PREFIX}axb`);
  assert.deepEqual(await keysWithPrefix(redis, `${PREFIX}leak-`), [], 'the leaky file\'s key was deleted by its guard');
  assert.throws(() => guardRedisKeys(''), /too broad/);
});

guardRedisKeys(PREFIX);
