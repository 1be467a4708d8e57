// No "[ioredis] Unhandled error event" anywhere: a process holding every kind of ioredis client
// the library creates (layers, lease, presence, session stores, readiness probes) loses its
// Redis, and its output stays free of that line while it keeps serving (503 for a session read).
// Before: the RedisSessionStore's client had no error listener and printed it on every
// reconnect attempt.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { OwnedRedis } from '../helpers/redis-server.js';
import { runCommand } from '../helpers/processes.js';
import { delay } from '../helpers/time.js';

const redis = await OwnedRedis.start();
after(() => redis.stop());

test('a process whose Redis goes away prints no "Unhandled error event"', async () => {
  const child = runCommand(process.execPath, ['--import', 'tsx', 'test/middleware/fixtures/redis-clients.ts', redis.url], {
    env: { ...process.env, NODE_ENV: 'test' },
  });
  try {
    const ready = await child.waitFor((line) => line.ready !== undefined, 20_000, 'the fixture to print ready');
    assert.equal(ready.ready, true, 'every client talked to Redis and /readyz was 200');
    const port = ready.port as number;
    const set = await fetch(`http://127.0.0.1:${port}/set`);
    assert.equal(set.status, 200);
    const cookie = set.headers.get('set-cookie')!.split(';')[0]!;

    await redis.stop();
    // Several reconnect attempts of every client (ioredis emits `error` on each), a readiness
    // probe and a session read while Redis is away.
    await delay(1500);
    assert.doesNotMatch(child.output(), /Unhandled error event/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${port}/read`, { headers: { cookie } })).status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${port}/read`)).status, 200, 'a request without a session cookie never asks the store');
    await delay(1500);

    assert.equal(child.child.exitCode, null, `the process is alive:\n${child.output()}`);
    assert.doesNotMatch(child.output(), /Unhandled error event/);
  } finally {
    child.stop();
    await child.exited;
  }
});
