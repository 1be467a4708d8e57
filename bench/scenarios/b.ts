/**
 * (b) 100 rooms × 10 clients, one sender per room at 5 msg/s: p50/p99 and
 * server CPU. The Node servers are measured interleaved, as in (a): all run
 * at once, each with its 1,000 clients connected, and `ROUNDS` rounds of
 * steps go round them, each round starting with the next server; medians
 * over the rounds. One back-to-back run each drifted by ±30% between runs
 * on a shared machine. Django Channels, which saturates its core here, runs
 * alone once.
 */
import type { RunContext } from '../lib/context.js';
import { rssBytes } from '../lib/proc.js';
import { type Launched, type ServerDef, SINGLE, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { roomsPhase } from './rooms.js';

const ROOMS = 100;
const MEMBERS = 10;
const RATE = 5;
const DURATION_MS = 6_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS_B ?? 5);

type Result = Awaited<ReturnType<typeof roomsPhase>>;

/** "noisy: other processes used 0.4 cores" → "noisy". */
const flagKind = (flag: string): string => flag.replace(/:.*$/, '');

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function connectRooms(ctx: RunContext, def: ServerDef): Promise<{ server: Launched; pool: LoadPool }> {
  await ctx.redis.flush();
  const port = ctx.nextPort();
  const server = await launch(def, port, ctx.redis.url, ctx.plan.server);
  const pool = new LoadPool({ workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load });
  const conns = range(ROOMS * MEMBERS).map((id) => ({ id, room: `room${Math.floor(id / MEMBERS)}`, port }));
  const connect = await pool.connect(conns);
  if (connect.ready < conns.length) {
    await pool.close();
    await server.stop();
    throw new Error(`${def.name}: only ${connect.ready}/${conns.length} connected: ${connect.error}`);
  }
  return { server, pool };
}

function step(ctx: RunContext, server: Launched, pool: LoadPool, phase: number): Promise<Result> {
  return roomsPhase(ctx, pool, {
    rooms: ROOMS, members: MEMBERS, rate: RATE, durationMs: DURATION_MS, drainMs: 3000,
    senders: range(ROOMS).map((r) => r * MEMBERS), serverPids: [server.pid], redisPid: server.def.redis ? ctx.redis.pid : null, phase,
  });
}

/** The medians of the rounds, in the shape of one result (sent and lost summed). */
function combine(list: Result[]): Result & { rounds: number } {
  const mid = (pick: (r: Result) => number) => round(median(list.map(pick)), 3);
  return {
    ...list[0]!,
    sent: list.reduce((sum, r) => sum + r.sent, 0),
    expected: list.reduce((sum, r) => sum + r.expected, 0),
    received: list.reduce((sum, r) => sum + r.received, 0),
    lost: list.reduce((sum, r) => sum + r.lost, 0),
    p50: mid((r) => r.p50), p90: mid((r) => r.p90), p99: mid((r) => r.p99), max: Math.max(...list.map((r) => r.max)),
    serverCores: mid((r) => r.serverCores), serverCpuS: mid((r) => r.serverCpuS), cpuUsPerDelivery: mid((r) => r.cpuUsPerDelivery),
    redisCores: mid((r) => r.redisCores), loadCores: mid((r) => r.loadCores), otherCores: mid((r) => r.otherCores), stealCores: mid((r) => r.stealCores),
    // A flag ("noisy", "load generator busy") counts when most rounds have it: one noisy round does not flag the median.
    flags: [...new Set(list.flatMap((r) => r.flags.map(flagKind)))]
      .filter((kind) => list.filter((r) => r.flags.some((flag) => flagKind(flag) === kind)).length * 2 > list.length),
    rounds: list.length,
  };
}

export async function scenarioB(ctx: RunContext): Promise<void> {
  const defs = SINGLE.filter((def) => !def.solo && ctx.wants(def.name));
  if (defs.length > 0) {
    ctx.log(`(b) ${ROOMS} rooms × ${MEMBERS}, ${RATE} msg/s per room, interleaved: ${defs.map((d) => d.label).join(', ')}, ${ROUNDS} rounds`);
    const running: Array<{ server: Launched; pool: LoadPool }> = [];
    try {
      for (const def of defs) running.push(await connectRooms(ctx, def));
      await sleep(500);
      const results = new Map<string, Result[]>();
      let phase = 1;
      for (let r = 0; r < ROUNDS; r++) {
        for (let k = 0; k < running.length; k++) {
          const { server, pool } = running[(k + r) % running.length]!;
          const result = await step(ctx, server, pool, phase++);
          ctx.log(`  ${server.def.label}: lost ${result.lost}, p50 ${result.p50} ms, p99 ${result.p99} ms, server ${result.serverCores} cores, ${result.cpuUsPerDelivery} µs/delivery${result.flags.length > 0 ? ` [${result.flags.join('; ')}]` : ''}`);
          results.set(server.def.name, [...(results.get(server.def.name) ?? []), result]);
          await sleep(200);
        }
      }
      for (const { server } of running) {
        ctx.record('b', server.def.name, { ...combine(results.get(server.def.name)!), serverRssMB: round(rssBytes(server.pid) / 2 ** 20, 1) });
      }
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      for (const def of defs) ctx.record('b', def.name, { error: (error as Error).message });
    } finally {
      for (const { pool, server } of running) {
        await pool.close();
        await server.stop();
      }
    }
  }
  for (const def of SINGLE.filter((d) => d.solo && ctx.wants(d.name))) {
    ctx.log(`(b) ${ROOMS} rooms × ${MEMBERS}, ${RATE} msg/s per room: ${def.label}`);
    let running;
    try {
      running = await connectRooms(ctx, def);
      await sleep(500);
      const result = await step(ctx, running.server, running.pool, 1);
      ctx.log(`  lost ${result.lost}, p50 ${result.p50} ms, p99 ${result.p99} ms, server ${result.serverCores} cores, ${result.cpuUsPerDelivery} µs/delivery`);
      ctx.record('b', def.name, { ...result, rounds: 1, serverRssMB: round(rssBytes(running.server.pid) / 2 ** 20, 1) });
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('b', def.name, { error: (error as Error).message });
    } finally {
      if (running !== undefined) {
        await running.pool.close();
        await running.server.stop();
      }
    }
  }
}
