// runOnce in one process: leadership among callers sharing a layer (in-memory and Redis),
// the task's signal on loss (lease taken away, renewal failing) and on stop, restarts after
// a failing task, option checks. The three-process test is run-once-processes.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { InMemoryChannelLayer, InvalidChannelLayerError, LeadershipLost, LayerUnavailableError, runOnce, type ChannelLayer, type Lease, type Leader } from 'switchyard';
import { RedisChannelLayer, leaseKey } from 'switchyard/redis';
import { delay, until } from '../helpers/time.js';
import { recordingLogger } from '../helpers/logs.js';
import { TEST_REDIS_URL, guardRedisKeys } from '../helpers/redis-clean.js';

const PREFIX = `sy-runonce-${process.pid}-`;
const redis = new Redis(TEST_REDIS_URL);
const layers: ChannelLayer[] = [];
after(async () => {
  for (const layer of layers) { await layer.flush().catch(() => {}); await layer.close(); }
  redis.disconnect();
});

/** A task that records its leaderships and runs until its signal aborts. */
function recorder() {
  const runs: Array<{ generation: number; reason?: unknown }> = [];
  let running = 0;
  let maxRunning = 0;
  const task = async (leader: Leader) => {
    const run: { generation: number; reason?: unknown } = { generation: leader.generation };
    runs.push(run);
    maxRunning = Math.max(maxRunning, ++running);
    await new Promise((resolve) => leader.signal.addEventListener('abort', resolve, { once: true }));
    run.reason = leader.signal.reason;
    running--;
  };
  return { runs, task, get maxRunning() { return maxRunning; }, get running() { return running; } };
}

for (const kind of ['memory', 'redis'] as const) {
  const makeLayer = (prefix: string): ChannelLayer => {
    const layer = kind === 'memory' ? new InMemoryChannelLayer() : new RedisChannelLayer({ hosts: [TEST_REDIS_URL], prefix });
    layers.push(layer);
    return layer;
  };

  test(`${kind}: of three callers one leads; when it stops (releasing the lease) another takes over at once`, async () => {
    const prefix = `${PREFIX}${kind}-a-`;
    const shared = makeLayer(prefix);
    const rec = recorder();
    const stops = [new AbortController(), new AbortController(), new AbortController()];
    const leaders: number[] = [];
    const done = stops.map((stop, index) => runOnce('ticker', (leader) => { leaders.push(index); return rec.task(leader); }, {
      layer: kind === 'memory' ? shared : makeLayer(prefix), ttl: 1000, renewEvery: 200, retryEvery: 100, signal: stop.signal, logger: recordingLogger(),
    }));
    await until(() => rec.runs.length === 1, 3000, 'a leader');
    await delay(700);
    assert.equal(rec.runs.length, 1, 'the lease is renewed: nobody else leads');
    const firstGeneration = rec.runs[0]!.generation;
    stops[leaders[0]!]!.abort(new Error('shutting down'));
    await until(() => rec.runs.length === 2, 1000, 'a second leader (well under the ttl, the lease was released)');
    assert.ok(rec.runs[1]!.generation > firstGeneration);
    assert.equal((rec.runs[0]!.reason as Error).message, 'shutting down', 'a stop aborts with the stop reason');
    for (const stop of stops) stop.abort();
    await Promise.all(done);
    assert.equal(rec.maxRunning, 1, 'never two at once');
    assert.equal(rec.running, 0);
    const free = await (shared as InMemoryChannelLayer).lease('ticker', 1000);
    assert.ok(free !== null, 'stopped: the lease is released');
    await free.release();
  });

  test(`${kind}: a task that throws or returns gives leadership up and is started again`, async () => {
    const logger = recordingLogger();
    const stop = new AbortController();
    const generations: number[] = [];
    const done = runOnce('flaky', async (leader) => {
      generations.push(leader.generation);
      if (generations.length === 1) throw new Error('boom');
      if (generations.length === 2) return;
      stop.abort();
    }, { layer: makeLayer(`${PREFIX}${kind}-b-`), ttl: 1000, retryEvery: 50, signal: stop.signal, logger });
    await done;
    assert.equal(generations.length, 3);
    assert.ok(generations[0]! < generations[1]! && generations[1]! < generations[2]!);
    assert.ok(logger.lines.some((l) => l.level === 'error' && /task of "flaky" failed/.test(l.message)));
  });
}

test('redis: a lease taken away (deleted, then held by another) aborts the task with LeadershipLost and warns', async () => {
  const prefix = `${PREFIX}lost-`;
  const layer = new RedisChannelLayer({ hosts: [TEST_REDIS_URL], prefix });
  layers.push(layer);
  const logger = recordingLogger();
  const rec = recorder();
  const stop = new AbortController();
  const done = runOnce('ticker', rec.task, { layer, ttl: 2000, renewEvery: 200, retryEvery: 5000, signal: stop.signal, logger });
  await until(() => rec.runs.length === 1, 3000, 'a leader');
  await redis.del(leaseKey(prefix, 'ticker'));
  const usurper = await layer.lease('ticker', 5000);
  assert.ok(usurper !== null);
  const lostAt = Date.now();
  await until(() => rec.running === 0, 1000, 'the task aborted within a renewal interval');
  assert.ok(Date.now() - lostAt < 600);
  assert.ok(rec.runs[0]!.reason instanceof LeadershipLost);
  assert.ok(logger.lines.some((l) => l.level === 'warn' && /Leadership of "ticker" lost/.test(l.message)));
  assert.equal(await redis.get(leaseKey(prefix, 'ticker')), `${usurper.generation} ${usurper.token}`, 'the loser leaves the new holder\'s lease alone');
  stop.abort();
  await done;
  await usurper.release();
});

test('renewal failing (backend away) aborts the task before the lease could expire', async () => {
  const logger = recordingLogger();
  let acquiredAt = 0;
  const failing: Lease = {
    name: 'ticker', token: 't', generation: 7,
    renew: async () => { throw new LayerUnavailableError('Redis at 127.0.0.1:6379/0 is unavailable: connection refused'); },
    release: async () => {},
  };
  const layer = { lease: async () => { acquiredAt = Date.now(); return failing; } } as unknown as ChannelLayer;
  const stop = new AbortController();
  let abortedAfter = -1;
  let reason: unknown;
  const done = runOnce('ticker', async (leader) => {
    await new Promise((resolve) => leader.signal.addEventListener('abort', resolve, { once: true }));
    abortedAfter = Date.now() - acquiredAt;
    reason = leader.signal.reason;
    stop.abort();
  }, { layer, ttl: 1000, renewEvery: 300, signal: stop.signal, logger });
  await done;
  assert.ok(reason instanceof LeadershipLost && /renewal failed: Redis at .* unavailable/.test(reason.message));
  // Tries at 300 and 600 ms fail with time left for another; at 900 ms the next try would come after the ttl.
  assert.ok(abortedAfter >= 850 && abortedAfter < 1000, `aborted ${abortedAfter} ms after acquiring: when no later try could come in time, before the ttl`);
  assert.ok(logger.lines.some((l) => l.level === 'warn' && /Could not renew/.test(l.message)), 'the first failure is retried, with a warning');
});

test('option and layer checks', async () => {
  const layer = new InMemoryChannelLayer();
  await assert.rejects(runOnce('x', () => {}, { layer, ttl: 1000, renewEvery: 1000 }), /renewEvery.*under 'ttl'/);
  await assert.rejects(runOnce('x', () => {}, { layer, ttl: -1 }), TypeError);
  await assert.rejects(runOnce('bad name', () => {}, { layer }), /Lease name/);
  await assert.rejects(runOnce('x', () => {}, { layer: { send() {} } as unknown as ChannelLayer }), InvalidChannelLayerError);
});

guardRedisKeys(PREFIX);
