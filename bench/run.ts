/**
 * `npm run bench [-- a b c d e f m p r]`: runs the scenarios (all by default),
 * appends one JSON line per result to bench/results/results.jsonl, and
 * re-renders BENCHMARKS.md from the results.
 *
 * Scenarios: a fan-out 1×500 (interleaved fixed rates, then a rising-rate
 * ladder per server), b 100 rooms × 10, c 10,000 idle connections, d two
 * processes on one Redis, e layer micro-benchmarks (with channels_redis),
 * f four processes on each engine (Redis pub/sub, Redis Cluster sharded,
 * NATS; bench/scenarios/f.ts, servers switchyard-4-<engine>),
 * m memory per idle connection by part of the stack, p CPU profile of
 * Switchyard in (a), r reliability under flaky connections (message
 * recovery: Switchyard's and Socket.IO's; its settings in
 * bench/scenarios/r.ts, about 4 minutes). About 35 minutes in all on a
 * 2-core machine with every server (an estimate: 13 before the references
 * of issue 12 joined, 25 before (c) waited 45 s per server for its settled
 * reading, BENCH_IDLE_SETTLE; r not included).
 *
 * Servers (bench/lib/servers.ts; BENCH_SERVERS picks by name): rawws,
 * switchyard, switchyard-app, socketio, django, and the references of issue
 * 12: uws (uWebSockets.js, its native pub/sub; the linux-x64 binary for
 * Node's ABI loaded by path, so its JavaScript fallback never runs), bun
 * (Bun.serve with server.publish, run by node_modules/@oven/bun-linux-x64/
 * bin/bun), tunedws (raw ws, broadcast framed once and corked per turn),
 * chat-js (the chat demo examples/chat/server.ts, transpiled) and
 * chat-npmstart (the same demo the way `npm start` runs it: scripts/run-transpiled.mjs).
 *
 * Environment: BENCH_SERVERS=rawws,switchyard (subset), BENCH_WORKERS (load
 * worker processes, default 3), BENCH_REDIS_URL (use an existing Redis
 * instead of a private one on port 6399), BENCH_NICE (autogroup/process
 * niceness, default -15), BENCH_IDLE (connections in c, default 10,000),
 * BENCH_ROUNDS (rounds of the interleaved (a), default 5), BENCH_RATES
 * (rates of the interleaved (a), default 100,200), BENCH_LADDER=0 (skip (a)'s
 * rising-rate ladder per server), BENCH_RESULTS (append results to that file
 * instead of bench/results/results.jsonl, e.g. for a trial run),
 * BENCH_NODE_ARGS (extra node flags for every Node server, e.g.
 * `--single-threaded-gc`, to try a runtime setting on all of them alike),
 * BENCH_PROFILE (the server scenario p profiles, default switchyard).
 *
 * The issue-12 comparison, short (a and c for seven servers: about 3 minutes;
 * BENCH_RESULTS keeps a trial's figures out of BENCHMARKS.md):
 *   BENCH_SERVERS=uws,bun,tunedws,rawws,switchyard,chat-js,chat-npmstart \
 *   BENCH_RATES=200 BENCH_ROUNDS=3 BENCH_LADDER=0 npm run bench -- a c
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildForBench } from './lib/build.js';
import type { RunContext } from './lib/context.js';
import { machineInfo, versions } from './lib/machine.js';
import { corePlan, pin } from './lib/proc.js';
import { startRedis } from './lib/redis.js';
import { render } from './render.js';
import { scenarioA } from './scenarios/a.js';
import { scenarioB } from './scenarios/b.js';
import { scenarioC } from './scenarios/c.js';
import { scenarioD } from './scenarios/d.js';
import { scenarioE } from './scenarios/e.js';
import { scenarioF } from './scenarios/f.js';
import { scenarioM } from './scenarios/m.js';
import { scenarioProfile } from './scenarios/profile.js';
import { scenarioR } from './scenarios/r.js';

// BENCH_RESULTS=<file>: a trial run's results go there, not into the file BENCHMARKS.md is rendered from.
const RESULTS = process.env.BENCH_RESULTS ?? fileURLToPath(new URL('./results/results.jsonl', import.meta.url));
const SCENARIOS: Record<string, (ctx: RunContext) => Promise<void>> = {
  a: scenarioA, b: scenarioB, c: scenarioC, d: scenarioD, e: scenarioE, f: scenarioF, m: scenarioM, p: scenarioProfile, r: scenarioR,
};

const asked = process.argv.slice(2).filter((arg) => arg !== '--');
const chosen = asked.length > 0 ? asked : Object.keys(SCENARIOS);
for (const name of chosen) if (!(name in SCENARIOS)) throw new Error(`unknown scenario ${name} (choose from ${Object.keys(SCENARIOS).join(' ')})`);

// The machine may be shared. With autogroup scheduling (Linux's default for
// desktops and many VMs) CPU is split between sessions first, so a process's
// own nice value does not help against other sessions' jobs: the run re-execs
// itself in a new session (setsid) and raises that session's autogroup
// priority. Both are recorded with the results (`nice`, `autogroup`).
const niceness = Number(process.env.BENCH_NICE ?? -15);
if (process.env.BENCH_SESSION === undefined && process.platform === 'linux') {
  const result = spawnSync('setsid', ['-w', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...process.env, BENCH_SESSION: '1' },
  });
  process.exit(result.status ?? 1);
}
try {
  writeFileSync('/proc/self/autogroup', String(niceness));
} catch {
  // no autogroup support, or not allowed: the process nice below still applies within the session
}
try {
  setPriority(niceness);
} catch {
  // not allowed (not root): run at the normal priority
}
const autogroup = existsSync('/proc/self/autogroup') ? readFileSync('/proc/self/autogroup', 'utf8').trim() : 'none';
const plan = corePlan();
pin(process.pid, plan.load);
await buildForBench();
const redis = await startRedis(plan.load);
const runId = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const meta = { machine: machineInfo(), versions: versions(await redis.version()), plan, nice: getPriority(), autogroup };
const onlyServers = process.env.BENCH_SERVERS?.split(',').filter(Boolean) ?? null;
let port = 18000 + Math.floor(Math.random() * 1000) * 10;
mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });

const ctx: RunContext = {
  runId,
  redis,
  plan,
  loadCores: plan.load === null ? plan.cores : plan.cores - 1,
  workers: Number(process.env.BENCH_WORKERS ?? 3),
  nextPort: () => (port += 2),
  record(scenario, server, data) {
    appendFileSync(RESULTS, `${JSON.stringify({ run: runId, time: new Date().toISOString(), scenario, server, ...meta, ...data })}\n`);
  },
  log: (message) => console.log(message),
  wants: (server) => onlyServers === null || onlyServers.includes(server),
};

console.log(`run ${runId}: scenarios ${chosen.join(' ')}; server cores ${plan.server ?? 'any'}, load cores ${plan.load ?? 'any'}`);
const t0 = performance.now();
try {
  for (const name of chosen) await SCENARIOS[name]!(ctx);
} finally {
  await redis.stop();
}
console.log(`done in ${Math.round((performance.now() - t0) / 1000)} s`);
render();
process.exit(0);
