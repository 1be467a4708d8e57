/**
 * The many-rooms measurement shared by (b) and (d): rooms × members, one
 * sender per room at a fixed rate (start times spread over the first
 * second), latency at every receiver, loss, server CPU.
 */
import type { RunContext } from '../lib/context.js';
import { summarize } from '../lib/hist.js';
import { flagsOf, startWindow } from '../lib/meter.js';
import { round } from '../lib/util.js';
import type { LoadPool } from '../load/pool.js';

export interface RoomsOptions {
  rooms: number; members: number; rate: number; durationMs: number; drainMs: number;
  senders: number[]; serverPids: number[]; redisPid: number | null; phase: number;
}

export async function roomsPhase(ctx: RunContext, pool: LoadPool, options: RoomsOptions) {
  const window = startWindow({ server: options.serverPids, redis: options.redisPid, load: pool.pids });
  const senders = options.senders.map((id, i) => ({ id, rate: options.rate, offsetMs: (i * 1000) / options.senders.length / options.rate }));
  const sent = await pool.phase(options.phase, options.durationMs, senders);
  const totalSent = [...sent.values()].reduce((a, b) => a + b, 0);
  const expected = totalSent * options.members;
  const got = await pool.drain(options.phase, expected, options.drainMs);
  const w = window.stop();
  const latency = summarize(got.histogram);
  return {
    rooms: options.rooms, members: options.members, rate: options.rate, seconds: options.durationMs / 1000,
    sent: totalSent, expected, received: got.received, lost: expected - got.received,
    p50: latency.p50, p90: latency.p90, p99: latency.p99, max: latency.max,
    serverCores: round(w.serverCpuS / w.seconds, 3),
    serverCpuS: round(w.serverCpuS, 3),
    cpuUsPerDelivery: round((w.serverCpuS * 1e6) / Math.max(1, got.received), 3),
    redisCores: round(w.redisCpuS / w.seconds, 3),
    loadCores: round(w.loadCpuS / w.seconds, 3),
    otherCores: round(w.otherCores, 2),
    stealCores: round(w.stealCores, 2),
    flags: flagsOf(w, ctx.loadCores),
  };
}
