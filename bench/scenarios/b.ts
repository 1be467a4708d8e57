/** (b) 100 rooms × 10 clients, one sender per room at 5 msg/s: p50/p99 and server CPU. */
import type { RunContext } from '../lib/context.js';
import { rssBytes } from '../lib/proc.js';
import { SINGLE, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { roomsPhase } from './rooms.js';

const ROOMS = 100;
const MEMBERS = 10;
const RATE = 5;
const DURATION_MS = 10_000;

export async function scenarioB(ctx: RunContext): Promise<void> {
  for (const def of SINGLE) {
    if (!ctx.wants(def.name)) continue;
    ctx.log(`(b) ${ROOMS} rooms × ${MEMBERS}, ${RATE} msg/s per room: ${def.label}`);
    await ctx.redis.flush();
    const port = ctx.nextPort();
    let server;
    try {
      server = await launch(def, port, ctx.redis.url, ctx.plan.server);
    } catch (error) {
      ctx.record('b', def.name, { error: (error as Error).message });
      continue;
    }
    const pool = new LoadPool({ workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load });
    try {
      const conns = range(ROOMS * MEMBERS).map((id) => ({ id, room: `room${Math.floor(id / MEMBERS)}`, port }));
      const connect = await pool.connect(conns);
      if (connect.ready < conns.length) throw new Error(`only ${connect.ready}/${conns.length} connected: ${connect.error}`);
      await sleep(500);
      const result = await roomsPhase(ctx, pool, {
        rooms: ROOMS, members: MEMBERS, rate: RATE, durationMs: DURATION_MS, drainMs: 3000,
        senders: range(ROOMS).map((r) => r * MEMBERS), serverPids: [server.pid], redisPid: def.redis ? ctx.redis.pid : null, phase: 1,
      });
      ctx.log(`  lost ${result.lost}, p50 ${result.p50} ms, p99 ${result.p99} ms, server ${result.serverCores} cores, ${result.cpuUsPerDelivery} µs/delivery`);
      ctx.record('b', def.name, { ...result, serverRssMB: round(rssBytes(server.pid) / 2 ** 20, 1) });
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('b', def.name, { error: (error as Error).message });
    } finally {
      await pool.close();
      await server.stop();
    }
  }
}
