/**
 * The fan-out measurement shared by (a), (d) and the profile: one room, one
 * sender, a list of rates; per step the loss, the latency at every receiver
 * and the servers' CPU per delivery.
 */
import type { RunContext } from '../lib/context.js';
import { summarize } from '../lib/hist.js';
import { flagsOf, startWindow } from '../lib/meter.js';
import { round, sleep } from '../lib/util.js';
import type { LoadPool } from '../load/pool.js';

export interface Step {
  rate: number; sent: number; expected: number; received: number; lost: number;
  p50: number; p90: number; p99: number; max: number;
  cpuUsPerDelivery: number; serverKernelShare: number; serverCores: number; redisCores: number; loadCores: number;
  otherCores: number; stealCores: number; pass: boolean; flags: string[];
  /** Earlier attempts at this rate that failed while the machine was noisy. */
  noisyRetries?: number;
}

/** Attempts per rate when a step fails while other processes were busy. */
const NOISY_ATTEMPTS = 3;

export interface FanoutOptions {
  members: number;
  senderId: number;
  rates: number[];
  stepMs: number;
  drainMs: number;
  /** Stop at the first step that loses messages or has p99 ≥ 100 ms. */
  stopOnFail: boolean;
  serverPids: number[];
  redisPid: number | null;
  firstPhase: number;
  /** Names the server in each step's log line (the interleaved runs alternate servers). */
  label?: string;
}

export async function fanoutSteps(ctx: RunContext, pool: LoadPool, options: FanoutOptions): Promise<Step[]> {
  const steps: Step[] = [];
  let phase = options.firstPhase;
  for (const rate of options.rates) {
    let step: Step | null = null;
    // Retries only serve the search for the highest sustained rate (a).
    const attempts = options.stopOnFail ? NOISY_ATTEMPTS : 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      step = await measureStep(ctx, pool, options, rate, phase++);
      step.noisyRetries = attempt - 1;
      // A failure on a busy machine says little about the server, unless the
      // server had its core to itself and used all of it: then try again.
      const saturated = step.serverCores >= 0.9; // every server process shares the one server core
      if (step.pass || (step.otherCores <= 0.25 && step.stealCores <= 0.25) || saturated) break;
      ctx.log(`  (noisy failure: retrying ${rate} msg/s)`);
      await sleep(1000);
    }
    steps.push(step!);
    if (!step!.pass && options.stopOnFail) break;
    await sleep(300);
  }
  return steps;
}

async function measureStep(ctx: RunContext, pool: LoadPool, options: FanoutOptions, rate: number, phase: number): Promise<Step> {
  const window = startWindow({ server: options.serverPids, redis: options.redisPid, load: pool.pids });
  const sent = (await pool.phase(phase, options.stepMs, [{ id: options.senderId, rate }])).get(options.senderId) ?? 0;
  const expected = sent * options.members;
  const got = await pool.drain(phase, expected, options.drainMs);
  const w = window.stop();
  const latency = summarize(got.histogram);
  const lost = expected - got.received;
  const pass = lost <= 0 && latency.p99 < 100;
  const step: Step = {
    rate, sent, expected, received: got.received, lost,
    p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max,
    cpuUsPerDelivery: round((w.serverCpuS * 1e6) / Math.max(1, got.received), 3),
    serverKernelShare: round(w.serverKernelShare, 3),
    serverCores: round(w.serverCpuS / w.seconds, 3),
    redisCores: round(w.redisCpuS / w.seconds, 3),
    loadCores: round(w.loadCpuS / w.seconds, 3),
    otherCores: round(w.otherCores, 2),
    stealCores: round(w.stealCores, 2),
    pass,
    flags: flagsOf(w, ctx.loadCores),
  };
  ctx.log(`  ${options.label ? `${options.label}, ` : ''}${rate} msg/s: sent ${sent}, lost ${lost}, p50 ${latency.p50} ms, p99 ${latency.p99} ms, `
    + `${step.cpuUsPerDelivery} µs CPU/delivery (${Math.round(step.serverKernelShare * 100)}% in the kernel), server ${step.serverCores} cores${step.flags.length ? ` [${step.flags.join('; ')}]` : ''}`);
  return step;
}

/** The highest rate of an unbroken run of passing steps. */
export function sustained(steps: Step[]): number | null {
  let best: number | null = null;
  for (const step of steps) {
    if (!step.pass) break;
    best = step.rate;
  }
  return best;
}
