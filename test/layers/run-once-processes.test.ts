// runOnce across three real processes on the real Redis: exactly one ticks; SIGKILL the
// leader and another takes over within ttl + renewEvery; SIGSTOP a leader past its ttl and
// it stops ticking when it wakes (no two leaders ever tick at once: the generations in the
// tick list never go back); SIGTERM releases the lease at once.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { runCommand, type Running } from '../helpers/processes.js';
import { delay, eventually } from '../helpers/time.js';
import { TEST_REDIS_URL, guardRedisKeys } from '../helpers/redis-clean.js';

const PREFIX = `sy-runonce-proc-${process.pid}-`;
const TICKS = `${PREFIX}ticks`;
const TTL = 1000;
const RENEW = 300;
const redis = new Redis(TEST_REDIS_URL);

const workers: Running[] = [];

async function startWorker(): Promise<Running> {
  const worker = runCommand(process.execPath, ['--import', 'tsx', 'test/layers/fixtures/ticker.ts', PREFIX, TICKS, String(TTL), String(RENEW)]);
  workers.push(worker);
  await worker.waitFor((line) => line.ready !== undefined, 20_000, 'the worker to be ready');
  return worker;
}

interface Tick { pid: number; generation: number; at: number }
async function ticks(): Promise<Tick[]> {
  return (await redis.lrange(TICKS, 0, -1)).map((entry) => {
    const [pid, generation, at] = entry.split(' ').map(Number) as [number, number, number];
    return { pid, generation, at };
  });
}

/** Waits until a tick matching `match` is in the list; returns it. */
function waitForTick(match: (tick: Tick) => boolean, ms: number, what: string): Promise<Tick> {
  return eventually(async () => (await ticks()).find(match), ms, async () => `${what}; last ticks: ${JSON.stringify((await ticks()).slice(-5))}`, 20);
}

/** In Redis's order, generations never go back and each belongs to one process: never two tickers at once. */
function assertOneAtATime(all: Tick[]): void {
  const owner = new Map<number, number>();
  for (let i = 0; i < all.length; i++) {
    const tick = all[i]!;
    if (i > 0) assert.ok(tick.generation >= all[i - 1]!.generation, `tick ${i} of generation ${tick.generation} came after generation ${all[i - 1]!.generation}`);
    assert.equal(owner.get(tick.generation) ?? tick.pid, tick.pid, `generation ${tick.generation} ticked from two processes`);
    owner.set(tick.generation, tick.pid);
  }
}

after(async () => {
  for (const worker of workers) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGCONT');
      worker.child.kill('SIGKILL');
    }
  }
  await Promise.all(workers.map((worker) => worker.exited));
  await redis.del(TICKS, `${PREFIX}switchyard:lease:ticker`, `${PREFIX}switchyard:lease-generation:ticker`);
  redis.disconnect();
});

test('three processes: one ticks; SIGKILL, SIGSTOP and SIGTERM of the leader each hand over to another', async (t) => {
  await Promise.all([startWorker(), startWorker(), startWorker()]);
  const first = await waitForTick(() => true, 10_000, 'a first tick');
  await delay(1000);
  let all = await ticks();
  assert.ok(all.length >= 10, `the leader ticks every 50 ms (${all.length} ticks)`);
  assert.deepEqual([...new Set(all.map((t) => t.pid))], [first.pid], 'exactly one process ticks');

  // SIGKILL: nothing is released; the lease expires and another process takes over.
  const killed = workers.find((w) => w.child.pid === first.pid)!;
  const lastBefore = all.at(-1)!;
  const killedAt = Date.now();
  killed.child.kill('SIGKILL');
  const second = await waitForTick((t) => t.pid !== first.pid, TTL + RENEW + 3000, 'a tick from another process after the SIGKILL');
  const takeover = second.at - killedAt;
  assert.ok(takeover <= TTL + RENEW + 250, `took over ${takeover} ms after the SIGKILL (bound: ttl ${TTL} + renewEvery ${RENEW}, +250 ms of scheduling)`);
  t.diagnostic(`takeover after SIGKILL: ${takeover} ms`);
  assert.ok(second.generation > lastBefore.generation);
  await delay(500);
  all = await ticks();
  assert.deepEqual([...new Set(all.filter((t) => t.at > second.at).map((t) => t.pid))], [second.pid], 'one process ticks after the takeover');

  // SIGSTOP past the ttl: a third process takes over; the woken leader must not tick again.
  const paused = workers.find((w) => w.child.pid === second.pid)!;
  paused.child.kill('SIGSTOP');
  const third = await waitForTick((t) => t.pid !== first.pid && t.pid !== second.pid, TTL + RENEW + 3000, 'a tick from the third process after the SIGSTOP');
  await delay(200);
  paused.child.kill('SIGCONT');
  const lost = await paused.waitFor((l) => l.level === 'warn' && /Leadership of "ticker" lost/.test(String(l.msg)), 5000, 'the woken leader\'s "Leadership lost" warning');
  assert.equal(lost.generation, second.generation);
  await delay(500);
  all = await ticks();
  assert.deepEqual([...new Set(all.filter((t) => t.at > third.at).map((t) => t.pid))], [third.pid], 'the woken leader does not tick');

  // SIGTERM: the leader releases its lease, so the next one starts well before the ttl.
  const stopped = workers.find((w) => w.child.pid === third.pid)!;
  const stoppedAt = Date.now();
  stopped.child.kill('SIGTERM');
  await stopped.exited;
  assert.equal(stopped.child.exitCode, 0);
  const fourth = await waitForTick((t) => t.pid === second.pid && t.generation > third.generation, TTL + 3000, 'a tick of a new generation after the SIGTERM');
  assert.ok(fourth.at - stoppedAt < TTL, `after a release, taken over in ${fourth.at - stoppedAt} ms (under the ttl)`);

  assertOneAtATime(await ticks());
});

guardRedisKeys(PREFIX);
