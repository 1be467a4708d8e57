/**
 * (c) 10,000 idle connections (100 rooms of 100): server RSS per connection
 * (after − before, divided by the connections) and the connect rate.
 * Connections come from several loopback source addresses, so that
 * back-to-back runs never run short of ephemeral ports.
 *
 * RSS is read twice: 3 s after the last connect, and once the connections
 * have idled for `BENCH_IDLE_SETTLE` seconds (default 45). The first
 * includes what the connect storm left behind: V8 grows its young
 * generation while thousands of connections are made, and gives it back
 * only at a garbage collection made while little is allocated (a server
 * whose idle connections allocate nothing, pings say, keeps it). The
 * second is what the idle connections hold once the process has settled.
 */
import type { RunContext } from '../lib/context.js';
import { rssBytes } from '../lib/proc.js';
import { SINGLE, launch } from '../lib/servers.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';

/** A whole number of at least `min` from the environment, or `fallback`; anything else stops the run with a clear error. */
function wholeFromEnv(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(text)}`);
  return value;
}

const CONNECTIONS = wholeFromEnv('BENCH_IDLE', 10_000, 1);
const ROOM_SIZE = 100;
/** Seconds the connections idle before the settled reading (past a 20 s heartbeat round and the GC it may cause). */
const SETTLE_SECONDS = wholeFromEnv('BENCH_IDLE_SETTLE', 45, 3);

export async function scenarioC(ctx: RunContext): Promise<void> {
  for (const def of SINGLE) {
    if (!ctx.wants(def.name)) continue;
    ctx.log(`(c) ${CONNECTIONS} idle connections: ${def.label}`);
    await ctx.redis.flush();
    const port = ctx.nextPort();
    let server;
    try {
      server = await launch(def, port, ctx.redis.url, ctx.plan.server);
    } catch (error) {
      ctx.record('c', def.name, { error: (error as Error).message });
      continue;
    }
    const pool = new LoadPool({
      workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load,
      sources: range(8).map((i) => `127.0.0.${i + 2}`),
    });
    try {
      await sleep(1000);
      const before = rssBytes(server.pid);
      const conns = range(CONNECTIONS).map((id) => ({ id, room: `idle${Math.floor(id / ROOM_SIZE)}`, port }));
      const connect = await pool.connect(conns, { concurrency: 50, timeoutMs: 120_000 });
      await sleep(3000);
      const after = rssBytes(server.pid);
      await sleep(Math.max(0, SETTLE_SECONDS * 1000 - 3000));
      const settled = rssBytes(server.pid);
      const result = {
        connections: connect.ready, failed: connect.failed, error: connect.error,
        connectSeconds: round(connect.ms / 1000, 2),
        connectPerSecond: Math.round(connect.ready / (connect.ms / 1000)),
        rssBeforeMB: round(before / 2 ** 20, 1), rssAfterMB: round(after / 2 ** 20, 1),
        rssPerConnectionKB: connect.ready > 0 ? round((after - before) / connect.ready / 1024, 2) : null,
        settleSeconds: SETTLE_SECONDS,
        rssSettledPerConnectionKB: connect.ready > 0 ? round((settled - before) / connect.ready / 1024, 2) : null,
      };
      ctx.log(`  ${result.connections} connected in ${result.connectSeconds} s (${result.connectPerSecond}/s), ${result.rssPerConnectionKB} KB RSS each, ${result.rssSettledPerConnectionKB} KB after ${SETTLE_SECONDS} s idle`);
      ctx.record('c', def.name, result);
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('c', def.name, { error: (error as Error).message });
    } finally {
      await pool.close();
      await server.stop();
    }
  }
}
