/**
 * Interleaved fixed-rate fan-out: every server runs at once (all pinned to
 * the server core, all but one idle at any moment) and the rounds alternate
 * between them, so that each server's steps see the same machine noise. The
 * median over rounds of CPU per delivery and of p99 is what the targets use:
 * on a shared machine, back-to-back ladders drift by ±20% between servers.
 */
import type { RunContext } from '../lib/context.js';
import { type Launched, type ServerDef, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { type Step, fanoutSteps } from './fanout.js';

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export interface InterleavedResult {
  rate: number;
  rounds: number;
  cpuUsPerDelivery: number;
  /** The share of the servers' CPU spent in the kernel (median of the rounds). */
  kernelShare: number;
  p99: number;
  p50: number;
  lost: number;
  steps: Step[];
}

export async function interleaved(ctx: RunContext, defs: ServerDef[], members: number, rates: number[], rounds: number, stepMs: number): Promise<Map<string, InterleavedResult[]>> {
  const servers: Launched[] = [];
  const pools: LoadPool[] = [];
  const results = new Map<string, InterleavedResult[]>();
  try {
    for (const def of defs) {
      await ctx.redis.flush();
      const port = ctx.nextPort();
      const server = await launch(def, port, ctx.redis.url, ctx.plan.server);
      servers.push(server);
      const pool = new LoadPool({ workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load });
      pools.push(pool);
      const connect = await pool.connect(range(members).map((id) => ({ id, room: 'fanout', port })));
      if (connect.ready < members) throw new Error(`${def.name}: only ${connect.ready}/${members} connected: ${connect.error}`);
    }
    await sleep(500);
    const steps = new Map<string, Step[]>();
    let phase = 1;
    for (let r = 0; r < rounds; r++) {
      for (const rate of rates) {
        // Each round starts with a different server, so that no server always follows the same one.
        for (let k = 0; k < servers.length; k++) {
          const i = (k + r) % servers.length;
          const server = servers[i]!;
          const [step] = await fanoutSteps(ctx, pools[i]!, {
            members, senderId: 0, rates: [rate], stepMs, drainMs: 2000, stopOnFail: false,
            serverPids: [server.pid], redisPid: server.def.redis ? ctx.redis.pid : null, firstPhase: phase++, label: server.def.name,
          });
          const key = `${server.def.name}@${rate}`;
          steps.set(key, [...(steps.get(key) ?? []), step!]);
          await sleep(200);
        }
      }
    }
    for (const server of servers) {
      results.set(server.def.name, rates.map((rate) => {
        const list = steps.get(`${server.def.name}@${rate}`) ?? [];
        return {
          rate, rounds: list.length,
          cpuUsPerDelivery: round(median(list.map((s) => s.cpuUsPerDelivery)), 3),
          kernelShare: round(median(list.map((s) => s.serverKernelShare)), 3),
          p99: round(median(list.map((s) => s.p99)), 3),
          p50: round(median(list.map((s) => s.p50)), 3),
          lost: list.reduce((sum, s) => sum + s.lost, 0),
          steps: list,
        };
      }));
    }
  } finally {
    for (const pool of pools) await pool.close();
    for (const server of servers) await server.stop();
  }
  return results;
}
