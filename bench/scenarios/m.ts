/**
 * (m) Where an idle connection's memory goes: the heap per connection
 * (after two forced GCs) of a bare `ws` server, then of Switchyard's server
 * with a bare ASGI app, + the chat consumer, + the routers. Differences
 * between rows are the cost of each part of the stack. 2,000 connections.
 */
import { fork } from 'node:child_process';
import type { RunContext } from '../lib/context.js';
import { built } from '../lib/build.js';
import { adopt } from '../lib/children.js';
import { pin } from '../lib/proc.js';
import { range, round, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';

const CONNECTIONS = 2000;
const PROBES = ['rawws', 'asgi', 'consumer', 'router'];

interface Usage { heapUsed: number; rss: number; external: number; arrayBuffers: number }

export async function scenarioM(ctx: RunContext): Promise<void> {
  const rows: Record<string, unknown>[] = [];
  for (const probe of PROBES) {
    const port = ctx.nextPort();
    const child = adopt(fork(built('bench/servers/memory-probe.ts'), [], {
      execArgv: ['--expose-gc'], env: { ...process.env, PORT: String(port), PROBE: probe, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    }));
    pin(child.pid!, ctx.plan.server);
    const ask = () => new Promise<Usage>((resolve) => { child.once('message', (m) => resolve(m as Usage)); child.send('measure'); });
    await new Promise((resolve) => child.once('message', resolve));
    const pool = new LoadPool({ workers: ctx.workers, dialect: 'chat', cpus: ctx.plan.load });
    try {
      await sleep(300);
      const before = await ask();
      const connect = await pool.connect(range(CONNECTIONS).map((id) => ({ id, room: `probe${id % 20}`, port })));
      await sleep(1000);
      const after = await ask();
      const per = (key: keyof Usage) => round((after[key] - before[key]) / Math.max(1, connect.ready) / 1024, 2);
      const row = { probe, connections: connect.ready, heapKB: per('heapUsed'), externalKB: per('external'), rssKB: per('rss') };
      ctx.log(`(m) ${probe}: ${row.heapKB} KB heap, ${row.externalKB} KB external, ${row.rssKB} KB RSS per connection`);
      rows.push(row);
    } finally {
      await pool.close();
      child.kill('SIGKILL');
    }
  }
  ctx.record('m', 'switchyard', { connections: CONNECTIONS, rows });
}
