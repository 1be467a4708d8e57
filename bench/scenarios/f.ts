/**
 * (f) Four server processes, three engines (issue 15). (d)'s shapes — 100
 * rooms × 10 and one room of 500, members spread over the processes — with
 * four Switchyard processes (bench/servers/switchyard.ts, the chat
 * consumer) on each engine the run starts for itself:
 * - Redis, the pub/sub layer (the run's private Redis);
 * - a Redis Cluster of three masters, the pub/sub layer with sharded pub/sub;
 * - NATS (core subjects).
 * Reports loss, p50/p99, the CPU of the four processes and of the engine
 * (all its processes), and the engine's traffic per broadcast: publishes
 * into the engine (PUBLISH / SPUBLISH calls, NATS `in_msgs`) and messages
 * out of it to the processes (NATS `out_msgs`; Redis: one per subscribed
 * process), which should be one per process holding members, not one per member.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RunContext } from '../lib/context.js';
import { fileURLToPath } from 'node:url';
import { built } from '../lib/build.js';
import { adopt } from '../lib/children.js';
import { cpuNs } from '../lib/proc.js';
import { type Launched, type ServerDef, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { fanoutSteps } from './fanout.js';
import { roomsPhase } from './rooms.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROCESSES = 4;
const ROOMS = 100;
const ROOM_MEMBERS = 10;
const FANOUT_MEMBERS = 500;
const FANOUT_RATES = [50, 100, 200];

/** An engine the scenario started: its layer URL, its processes, and a traffic counter. */
interface Engine {
  name: string;
  label: string;
  layerUrl: string;
  pids: number[];
  /** Messages published into the engine and delivered out of it so far. */
  traffic(): Promise<{ in: number; out: number }>;
  stop(): Promise<void>;
}

function freePort(ctx: RunContext): number {
  return ctx.nextPort();
}

async function untilAnswers(check: () => Promise<unknown>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await sleep(200);
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function redisEngine(ctx: RunContext): Promise<Engine> {
  await ctx.redis.flush();
  return {
    name: 'redis', label: 'Redis (pub/sub layer)',
    layerUrl: `${ctx.redis.url.replace('redis:', 'redis+pubsub:')}?prefix=benchf`,
    pids: ctx.redis.pid === null ? [] : [ctx.redis.pid],
    async traffic() { return { in: (await ctx.redis.commandCounts()).publish ?? 0, out: 0 }; },
    async stop() {},
  };
}

async function clusterEngine(ctx: RunContext): Promise<Engine> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  const ports = range(3).map(() => freePort(ctx));
  const children = ports.map((port) => adopt(spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
    '--save', '', '--appendonly', 'no', '--dir', dir,
  ], { stdio: 'ignore' })));
  const clients = ports.map((port) => new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 }));
  for (const client of clients) {
    client.on('error', () => {});
    await untilAnswers(() => client.connect().catch(() => client.ping()), 'cluster node');
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { stdio: 'ignore' });
  await untilAnswers(async () => {
    for (const client of clients) if (!/cluster_state:ok/.test(await client.cluster('INFO') as string)) throw new Error('not ok yet');
  }, 'cluster state');
  const spublish = async () => {
    let calls = 0;
    for (const client of clients) calls += Number(/cmdstat_spublish:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    return calls;
  };
  return {
    name: 'cluster', label: 'Redis Cluster, 3 masters (pub/sub layer, sharded)',
    layerUrl: `redis+pubsub+cluster://127.0.0.1:${ports[0]}?${ports.slice(1).map((p) => `host=127.0.0.1:${p}&`).join('')}prefix=benchf`,
    pids: children.map((child) => child.pid!),
    async traffic() { return { in: await spublish(), out: 0 }; },
    async stop() {
      for (const client of clients) client.disconnect();
      await Promise.all(children.map(stopChild));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function natsEngine(ctx: RunContext): Promise<Engine> {
  const [port, monitor] = [freePort(ctx), freePort(ctx)];
  const child = adopt(spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor)], { stdio: 'ignore' }));
  const varz = async () => (await (await fetch(`http://127.0.0.1:${monitor}/varz`)).json()) as { in_msgs: number; out_msgs: number };
  await untilAnswers(varz, 'nats-server');
  return {
    name: 'nats', label: 'NATS (core subjects)',
    layerUrl: `nats://127.0.0.1:${port}?prefix=benchf`,
    pids: [child.pid!],
    async traffic() {
      const { in_msgs: inMsgs, out_msgs: outMsgs } = await varz();
      return { in: inMsgs, out: outMsgs };
    },
    async stop() { await stopChild(child); },
  };
}

const ENGINES: Record<string, (ctx: RunContext) => Promise<Engine>> = { redis: redisEngine, cluster: clusterEngine, nats: natsEngine };

function switchyardOn(engine: Engine): ServerDef {
  return {
    name: `switchyard-4-${engine.name}`, label: `Switchyard × ${PROCESSES} on ${engine.label}`, dialect: 'chat', redis: true,
    command: (port, _redisUrl, extra) => ({
      cmd: process.execPath,
      args: [...extra, built('bench/servers/switchyard.ts')],
      env: { PORT: String(port), CHANNEL_LAYER_URL: engine.layerUrl },
      cwd: ROOT,
    }),
  };
}

const engineCpuNs = (engine: Engine) => engine.pids.reduce((sum, pid) => sum + cpuNs(pid), 0);

export async function scenarioF(ctx: RunContext): Promise<void> {
  for (const [name, start] of Object.entries(ENGINES)) {
    if (!ctx.wants(`switchyard-4-${name}`)) continue;
    ctx.log(`(f) ${PROCESSES} processes on ${name}`);
    let engine: Engine | null = null;
    const servers: Launched[] = [];
    let pool: LoadPool | null = null;
    try {
      engine = await start(ctx);
      const def = switchyardOn(engine);
      const ports = range(PROCESSES).map(() => ctx.nextPort());
      for (const port of ports) servers.push(await launch(def, port, engine.layerUrl, ctx.plan.server));
      pool = new LoadPool({ workers: ctx.workers, dialect: 'chat', cpus: ctx.plan.load });
      const pids = servers.map((s) => s.pid);
      const roomConns = range(ROOMS * ROOM_MEMBERS).map((id) => ({ id, room: `room${Math.floor(id / ROOM_MEMBERS)}`, port: ports[id % PROCESSES]! }));
      const fanBase = roomConns.length;
      const fanConns = range(FANOUT_MEMBERS).map((i) => ({ id: fanBase + i, room: 'fanout', port: ports[i % PROCESSES]! }));
      const connect = await pool.connect([...roomConns, ...fanConns]);
      if (connect.failed > 0) throw new Error(`only ${connect.ready}/${roomConns.length + fanConns.length} connected: ${connect.error}`);
      await sleep(1000);

      let [traffic, cpu] = [await engine.traffic(), engineCpuNs(engine)];
      let started = performance.now();
      const rooms = await roomsPhase(ctx, pool, {
        rooms: ROOMS, members: ROOM_MEMBERS, rate: 5, durationMs: 10_000, drainMs: 3000,
        senders: range(ROOMS).map((r) => r * ROOM_MEMBERS + (r % PROCESSES)), serverPids: pids, redisPid: null, phase: 1,
      });
      let after = await engine.traffic();
      const roomsEngine = {
        cores: round((engineCpuNs(engine) - cpu) / 1e6 / (performance.now() - started), 3),
        inPerBroadcast: round((after.in - traffic.in) / Math.max(1, rooms.sent), 2),
        outPerBroadcast: round((after.out - traffic.out) / Math.max(1, rooms.sent), 2),
      };
      ctx.log(`  rooms: lost ${rooms.lost}, p50 ${rooms.p50} ms, p99 ${rooms.p99} ms, servers ${rooms.serverCores} cores, engine ${JSON.stringify(roomsEngine)}`);

      [traffic, cpu, started] = [await engine.traffic(), engineCpuNs(engine), performance.now()];
      const fanout = await fanoutSteps(ctx, pool, {
        members: FANOUT_MEMBERS, senderId: fanBase, rates: FANOUT_RATES, stepMs: 4000, drainMs: 3000, stopOnFail: false,
        serverPids: pids, redisPid: null, firstPhase: 2,
      });
      after = await engine.traffic();
      const sent = fanout.reduce((sum, step) => sum + step.sent, 0);
      const fanoutEngine = {
        cores: round((engineCpuNs(engine) - cpu) / 1e6 / (performance.now() - started), 3),
        inPerBroadcast: round((after.in - traffic.in) / Math.max(1, sent), 2),
        outPerBroadcast: round((after.out - traffic.out) / Math.max(1, sent), 2),
      };
      ctx.log(`  fan-out: engine ${JSON.stringify(fanoutEngine)}`);
      ctx.record('f', def.name, { processes: PROCESSES, engine: engine.label, rooms: { ...rooms, engine: roomsEngine }, fanout: { members: FANOUT_MEMBERS, steps: fanout, engine: fanoutEngine } });
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('f', `switchyard-4-${name}`, { error: (error as Error).message });
    } finally {
      await pool?.close();
      for (const server of servers) await server.stop();
      await engine?.stop();
    }
  }
}
