/**
 * (d) Two server processes on one Redis. Clients alternate between the two
 * processes, so every room has members on both:
 * - rooms: (b)'s shape, 100 rooms × 10 (5 per process), one sender per room
 *   (even rooms send through process A, odd through B), 5 msg/s, 10 s;
 * - fan-out: 1 room × 500 (250 per process), one sender on A at fixed rates.
 * Reports loss, p50/p99, CPU of both processes and of Redis, and the Redis
 * commands per broadcast (INFO commandstats on the private Redis).
 */
import type { RunContext } from '../lib/context.js';
import { countDelta } from '../lib/redis.js';
import { CLUSTERED, type Launched, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { fanoutSteps } from './fanout.js';
import { roomsPhase } from './rooms.js';

const ROOMS = 100;
const ROOM_MEMBERS = 10;
const FANOUT_MEMBERS = 500;
const FANOUT_RATES = [50, 100, 200];

/** Redis commands per broadcast, by command (writes of the broadcast path only). */
function perBroadcast(delta: Record<string, number>, broadcasts: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, calls] of Object.entries(delta)) out[name] = round(calls / Math.max(1, broadcasts), 2);
  return out;
}

export async function scenarioD(ctx: RunContext): Promise<void> {
  for (const def of CLUSTERED) {
    if (!ctx.wants(def.name)) continue;
    ctx.log(`(d) two processes on one Redis: ${def.label}`);
    await ctx.redis.flush();
    const ports = [ctx.nextPort(), ctx.nextPort()];
    const servers: Launched[] = [];
    let pool: LoadPool | null = null;
    try {
      for (const port of ports) servers.push(await launch(def, port, ctx.redis.url, ctx.plan.server));
      pool = new LoadPool({ workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load });
      const pids = servers.map((s) => s.pid);
      const roomConns = range(ROOMS * ROOM_MEMBERS).map((id) => ({ id, room: `room${Math.floor(id / ROOM_MEMBERS)}`, port: ports[id % 2]! }));
      const fanBase = roomConns.length;
      const fanConns = range(FANOUT_MEMBERS).map((i) => ({ id: fanBase + i, room: 'fanout', port: ports[i % 2]! }));
      const connect = await pool.connect([...roomConns, ...fanConns]);
      if (connect.failed > 0) throw new Error(`only ${connect.ready}/${roomConns.length + fanConns.length} connected: ${connect.error}`);
      await sleep(1000);

      let before = await ctx.redis.commandCounts();
      const rooms = await roomsPhase(ctx, pool, {
        rooms: ROOMS, members: ROOM_MEMBERS, rate: 5, durationMs: 10_000, drainMs: 3000,
        // room r's first member is on process r % 2: senders alternate between the processes
        senders: range(ROOMS).map((r) => r * ROOM_MEMBERS + (r % 2)), serverPids: pids, redisPid: ctx.redis.pid, phase: 1,
      });
      const roomsRedis = perBroadcast(countDelta(before, await ctx.redis.commandCounts()), rooms.sent);
      ctx.log(`  rooms: lost ${rooms.lost}, p50 ${rooms.p50} ms, p99 ${rooms.p99} ms, servers ${rooms.serverCores} cores, Redis ${rooms.redisCores}; per broadcast ${JSON.stringify(roomsRedis)}`);

      before = await ctx.redis.commandCounts();
      const fanout = await fanoutSteps(ctx, pool, {
        members: FANOUT_MEMBERS, senderId: fanBase, rates: FANOUT_RATES, stepMs: 4000, drainMs: 3000, stopOnFail: false,
        serverPids: pids, redisPid: ctx.redis.pid, firstPhase: 2,
      });
      const fanoutRedis = perBroadcast(countDelta(before, await ctx.redis.commandCounts()), fanout.reduce((s, f) => s + f.sent, 0));
      ctx.log(`  fan-out per broadcast ${JSON.stringify(fanoutRedis)}`);
      ctx.record('d', def.name, { processes: 2, rooms: { ...rooms, redisPerBroadcast: roomsRedis }, fanout: { members: FANOUT_MEMBERS, steps: fanout, redisPerBroadcast: fanoutRedis } });
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('d', def.name, { error: (error as Error).message });
    } finally {
      await pool?.close();
      for (const server of servers) await server.stop();
    }
  }
}
