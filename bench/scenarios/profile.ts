/**
 * (p) CPU profile of Switchyard in scenario (a): the server runs under
 * `node --cpu-prof` while the room of 500 receives 100 then 200 msg/s; the
 * profile is summarised for the sending window only (connects excluded).
 * The raw `.cpuprofile` stays in bench/results/profiles/ (not committed).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nowMicros } from '../lib/clock.js';
import type { RunContext } from '../lib/context.js';
import { summarizeProfile } from '../lib/cpuprofile.js';
import { SINGLE, launch } from '../lib/servers.js';
import { range, sleep } from '../lib/util.js';
import { LoadPool } from '../load/pool.js';
import { MEMBERS } from './a.js';
import { fanoutSteps } from './fanout.js';

const DIR = fileURLToPath(new URL('../results/profiles/', import.meta.url));
const RATES = [100, 200];

export async function scenarioProfile(ctx: RunContext): Promise<void> {
  const def = SINGLE.find((d) => d.name === (process.env.BENCH_PROFILE ?? 'switchyard'))!;
  if (!ctx.wants(def.name)) return;
  ctx.log(`(p) CPU profile of ${def.label} in (a) at ${RATES.join(', ')} msg/s`);
  mkdirSync(DIR, { recursive: true });
  for (const file of readdirSync(DIR)) if (file.endsWith('.cpuprofile')) rmSync(DIR + file);
  const port = ctx.nextPort();
  const server = await launch(def, port, ctx.redis.url, ctx.plan.server, ['--cpu-prof', `--cpu-prof-dir=${DIR}`]);
  const pool = new LoadPool({ workers: ctx.workers, dialect: def.dialect, cpus: ctx.plan.load });
  let window: [number, number] = [0, 0];
  let steps;
  try {
    const connect = await pool.connect(range(MEMBERS).map((id) => ({ id, room: 'fanout', port })));
    if (connect.ready < MEMBERS) throw new Error(`only ${connect.ready}/${MEMBERS} connected: ${connect.error}`);
    await sleep(500);
    const t0 = nowMicros();
    steps = await fanoutSteps(ctx, pool, {
      members: MEMBERS, senderId: 0, rates: RATES, stepMs: 5000, drainMs: 3000, stopOnFail: false,
      serverPids: [server.pid], redisPid: null, firstPhase: 1,
    });
    window = [t0, nowMicros()];
  } finally {
    await pool.close();
    await server.stop();
  }
  // tsx's loader thread writes a profile too: the main thread's is the biggest.
  const file = readdirSync(DIR).filter((f) => f.endsWith('.cpuprofile')).map((f) => DIR + f)
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (file === undefined) {
    ctx.record('p', def.name, { error: 'no .cpuprofile written' });
    return;
  }
  const summary = summarizeProfile(file, window);
  for (const area of summary.areas.slice(0, 8)) ctx.log(`  ${area.percent}% ${area.area}`);
  for (const fn of summary.top.slice(0, 8)) ctx.log(`  ${fn.percent}% ${fn.fn} ${fn.where}`);
  ctx.record('p', def.name, { rates: RATES, steps, profile: summary });
}
