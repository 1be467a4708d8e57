/**
 * (a) Fan-out: 1 room × 500 clients, 1 sender at rising rates. Reports the
 * highest rate with p99 < 100 ms and nothing lost, CPU µs per delivery at
 * each rate, and p99 at 200 msg/s.
 */
import type { RunContext } from '../lib/context.js';
import { rssBytes } from '../lib/proc.js';
import { SINGLE, type ServerDef, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { fanoutSteps, sustained } from './fanout.js';
import { interleaved } from './interleaved.js';

export const MEMBERS = 500;
export const RATES = [10, 25, 50, 100, 200, 400, 800, 1600, 3200];

export async function fanoutOn(ctx: RunContext, def: ServerDef, rates: number[], extraNodeArgs: string[] = [], stepMs = 4000) {
  await ctx.redis.flush();
  const port = ctx.nextPort();
  const server = await launch(def, port, ctx.redis.url, ctx.plan.server, extraNodeArgs);
  const pool = new LoadPool({ workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load });
  try {
    const connect = await pool.connect(range(MEMBERS).map((id) => ({ id, room: 'fanout', port })));
    if (connect.ready < MEMBERS) throw new Error(`only ${connect.ready}/${MEMBERS} connected: ${connect.error}`);
    await sleep(500);
    const steps = await fanoutSteps(ctx, pool, {
      members: MEMBERS, senderId: 0, rates, stepMs, drainMs: 3000, stopOnFail: true,
      serverPids: [server.pid], redisPid: def.redis ? ctx.redis.pid : null, firstPhase: 1,
    });
    return { members: MEMBERS, stepMs, serverRssMB: round(rssBytes(server.pid) / 2 ** 20, 1), steps, server };
  } finally {
    await pool.close();
    await server.stop();
  }
}

/** Rates of the interleaved comparison (`BENCH_RATES=200` for a short run). */
const INTERLEAVED_RATES = (process.env.BENCH_RATES ?? '100,200').split(',').filter(Boolean).map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** `BENCH_LADDER=0`: the interleaved comparison only, no rising-rate ladder per server. */
const LADDER = process.env.BENCH_LADDER !== '0';

export async function scenarioA(ctx: RunContext): Promise<void> {
  // Every server but the solo ones (Django cannot carry these rates at 500 members).
  const defs = SINGLE.filter((def) => !def.solo && ctx.wants(def.name));
  if (defs.length > 0) {
    ctx.log(`(a) interleaved: ${defs.map((d) => d.label).join(', ')} at ${INTERLEAVED_RATES.join(', ')} msg/s, ${ROUNDS} rounds`);
    try {
      const results = await interleaved(ctx, defs, MEMBERS, INTERLEAVED_RATES, ROUNDS, 3000);
      for (const [server, list] of results) ctx.record('a-interleaved', server, { members: MEMBERS, results: list });
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
    }
  }
  for (const def of SINGLE) {
    if (!LADDER || !ctx.wants(def.name)) continue;
    ctx.log(`(a) fan-out 1×${MEMBERS}: ${def.label}`);
    try {
      const { server: _server, ...result } = await fanoutOn(ctx, def, RATES);
      const at = (rate: number) => result.steps.find((s) => s.rate === rate) ?? null;
      ctx.record('a', def.name, {
        ...result,
        maxRate: sustained(result.steps),
        p99At200: at(200)?.pass || at(200)?.lost === 0 ? at(200)!.p99 : null,
        cpuUsPerDeliveryAt100: at(100)?.lost === 0 ? at(100)!.cpuUsPerDelivery : null,
        cpuUsPerDeliveryAt200: at(200)?.lost === 0 ? at(200)!.cpuUsPerDelivery : null,
      });
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('a', def.name, { error: (error as Error).message });
    }
  }
}
