/**
 * (r) Reliability under flaky connections, after AnyCable's reliability
 * test: N clients in one room, each cut off about every `period` (jittered
 * ±25%) and kept offline `offline` (its connection attempts fail meanwhile,
 * so its own reconnect logic runs), while one sender sends numbered
 * messages at a fixed rate for `duration`, then a drain.
 *
 * Per server: the share of (message, client) pairs delivered (expected:
 * every message sent since the client's first connection, which is all of
 * them, as every client connects before the first), duplicates, messages
 * out of order, the latency from a reconnection to each message sent while
 * away (replay p50/p99), and reconnections that did not recover. The
 * clients run in one process of their own (bench/lib/reliability-load.ts)
 * on the load core; the server alone on the server core.
 *
 * Servers (BENCH_SERVERS picks by name):
 * - `chat-recover`: the chat demo (examples/chat/server.ts, transpiled) with
 *   group history in the in-memory layer, clients `ReconnectingWebsocket`
 *   with `recover: true` (docs/recovery.md);
 * - `chat-recover-redis`: the same on the Redis core layer (history in a
 *   Redis Stream per room; the run's private Redis); `chat-recover-pubsub`,
 *   the same on the Redis pub/sub layer, runs only when BENCH_SERVERS names it;
 * - `socketio-recovery`: Socket.IO 4 with connection state recovery
 *   (bench/servers/socketio.ts with `SIO_RECOVERY=1`), clients `socket.io-client`,
 *   WebSocket transport only;
 * - `chat-plain`: the same chat demo, clients without recovery: the loss
 *   that recovery prevents.
 *
 * Environment: BENCH_R_CLIENTS (default 1000), BENCH_R_SECONDS (sending
 * time, default 60), BENCH_R_RATE (msg/s, default 20), BENCH_R_PERIOD (s
 * between cuts of one client, default 15), BENCH_R_OFFLINE (s offline per
 * cut, default 2), BENCH_R_HISTORY (messages the chat demo keeps per room,
 * default the greater of 1000 and a minute's worth; set it below what a
 * client misses, e.g. 20, to see recovery report `recovered: false`).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { built } from '../lib/build.js';
import { adopt } from '../lib/children.js';
import type { RunContext } from '../lib/context.js';
import { flagsOf, startWindow } from '../lib/meter.js';
import { pin } from '../lib/proc.js';
import type { LoadConfig, LoadKind, LoadResult } from '../lib/reliability-load.js';
import { type ServerDef, launch } from '../lib/servers.js';
import { round } from '../lib/util.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOAD = fileURLToPath(new URL('../lib/reliability-load.ts', import.meta.url));

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const CLIENTS = env('BENCH_R_CLIENTS', 1000);
const SECONDS = env('BENCH_R_SECONDS', 60);
const RATE = env('BENCH_R_RATE', 20);
const PERIOD_MS = env('BENCH_R_PERIOD', 15) * 1000;
const OFFLINE_MS = env('BENCH_R_OFFLINE', 2) * 1000;
/** Both clients retry after 250 ms, then at most 1 s apart: back within about a second of the network. */
const MIN_DELAY = 250;
const MAX_DELAY = 1000;
/** A client cut just before the last message is back within offline + max delay; then its replay needs a moment. */
const DRAIN_MS = OFFLINE_MS + MAX_DELAY + 5000;

/**
 * The chat demo as `chat-js` of bench/lib/servers.ts runs it, with history
 * for its rooms: enough messages for the longest time away, at any rate.
 */
const HISTORY = { 'chat_*': { size: env('BENCH_R_HISTORY', Math.max(1000, Math.ceil(RATE * 60))), ttl: 300 } };
const chatDemo = (layer: 'memory' | 'redis' | 'pubsub') => (port: number, redisUrl: string, extra: string[]) => ({
  cmd: process.execPath,
  args: [...extra, built('examples/chat/server.ts')],
  env: {
    PORT: String(port), CHAT_SECRET_KEYS: 'bench-only-secret', ALLOWED_HOSTS: '127.0.0.1', CHAT_SESSION_STORE: 'memory',
    // The sender sends RATE a second from one connection: far above the demo's per-connection limit.
    CHAT_RATE: '1000000', CHAT_BURST: '1000000',
    CHANNEL_LAYER_URL: `${{ memory: 'memory://', redis: redisUrl, pubsub: redisUrl.replace('redis:', 'redis+pubsub:') }[layer]}`
      + `?groupHistory=${encodeURIComponent(JSON.stringify(HISTORY))}${layer === 'memory' ? '' : '&prefix=benchr'}`,
    // A line per connection would make the server log thousands of reconnections.
    LOG_LEVEL: 'warn',
  },
  cwd: ROOT,
});

/** `optIn`: runs only when BENCH_SERVERS names it. */
interface Variant { def: ServerDef; kind: LoadKind; optIn?: boolean }

const VARIANTS: Variant[] = [
  { kind: 'chat-recover', def: { name: 'chat-recover', label: 'Switchyard chat demo, `recover: true`', dialect: 'chat', redis: false, command: chatDemo('memory') } },
  {
    kind: 'chat-recover',
    def: { name: 'chat-recover-redis', label: 'Switchyard chat demo on Redis, `recover: true`', dialect: 'chat', redis: true, command: chatDemo('redis') },
  },
  {
    kind: 'chat-recover', optIn: true,
    def: { name: 'chat-recover-pubsub', label: 'Switchyard chat demo on Redis pub/sub, `recover: true`', dialect: 'chat', redis: true, command: chatDemo('pubsub') },
  },
  {
    kind: 'socketio',
    def: {
      name: 'socketio-recovery', label: 'Socket.IO 4, connection state recovery', dialect: 'sio', redis: false,
      command: (port) => ({ cmd: process.execPath, args: [built('bench/servers/socketio.ts')], env: { PORT: String(port), SIO_RECOVERY: '1' }, cwd: ROOT }),
    },
  },
  { kind: 'chat-plain', def: { name: 'chat-plain', label: 'Switchyard chat demo, no recovery', dialect: 'chat', redis: false, command: chatDemo('memory') } },
];

/** Starts the clients in their own process on the load core; `result` resolves with what they measured. */
function startClients(config: LoadConfig, cpus: string | null): { pid: number; result: Promise<LoadResult> } {
  const child = adopt(fork(LOAD, [], {
    execArgv: ['--conditions=switchyard-source', '--import', 'tsx', '--max-old-space-size=2048'],
    env: { ...process.env, BENCH_R_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  }));
  pin(child.pid!, cpus);
  const result = new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (reply: { result?: LoadResult; error?: string }) => (reply.result ? resolve(reply.result) : reject(new Error(reply.error))));
    child.once('exit', (code) => reject(new Error(`the clients' process exited (${code}) without a result`)));
  });
  return { pid: child.pid!, result };
}

const percent = (part: number, whole: number) => (whole === 0 ? '—' : `${round((part / whole) * 100, 3)}%`);

export async function scenarioR(ctx: RunContext): Promise<void> {
  const rows: string[] = [];
  const named = process.env.BENCH_SERVERS?.split(',') ?? [];
  for (const { def, kind, optIn } of VARIANTS) {
    if (optIn ? !named.includes(def.name) : !ctx.wants(def.name)) continue;
    if (def.redis) await ctx.redis.flush();
    ctx.log(`(r) ${CLIENTS} clients, ${RATE} msg/s for ${SECONDS} s, each cut off ~every ${PERIOD_MS / 1000} s for ${OFFLINE_MS / 1000} s: ${def.label}`);
    const port = ctx.nextPort();
    let server;
    try {
      server = await launch(def, port, ctx.redis.url, ctx.plan.server);
    } catch (error) {
      ctx.log(`  failed to start: ${(error as Error).message}`);
      ctx.record('r', def.name, { error: (error as Error).message });
      continue;
    }
    try {
      const config: LoadConfig = {
        kind, port, room: 'bench', clients: CLIENTS, rate: RATE, durationMs: SECONDS * 1000,
        periodMs: PERIOD_MS, offlineMs: OFFLINE_MS, drainMs: DRAIN_MS, minDelay: MIN_DELAY, maxDelay: MAX_DELAY,
      };
      const clients = startClients(config, ctx.plan.load);
      // The window spans the clients' whole life, connections included; Redis's CPU counts with the server's.
      const window = startWindow({ server: [server.pid], redis: def.redis ? ctx.redis.pid : null, load: [clients.pid] });
      const result = await clients.result;
      const w = window.stop();
      const serverCores = round((w.serverCpuS + w.redisCpuS) / w.seconds, 2);
      const flags = flagsOf(w, ctx.loadCores);
      const lost = result.expected - result.delivered;
      ctx.record('r', def.name, {
        rate: RATE, seconds: SECONDS, periodSeconds: PERIOD_MS / 1000, offlineSeconds: OFFLINE_MS / 1000,
        historySize: kind === 'socketio' ? null : HISTORY['chat_*'].size,
        ...result, lost, deliveredShare: result.expected ? result.delivered / result.expected : null, serverCores, flags,
      });
      const replay = result.replay.count === 0 ? '—' : `${result.replay.p50} / ${result.replay.p99}`;
      ctx.log(`  delivered ${result.delivered} of ${result.expected} (${percent(result.delivered, result.expected)}), lost ${lost}, `
        + `${result.duplicates} duplicates, ${result.outOfOrder} out of order; replay p50 / p99 ${replay} ms `
        + `(${result.replay.count} replayed, ${result.announcedReplays} announced); ${result.reconnects} reconnections: `
        + `${result.recovered} recovered, ${result.notRecovered} not, ${result.stillOffline} still away at the end; `
        + `offline p50 ${result.offline.p50} ms; server ${serverCores} cores, clients ${result.loadCores} cores (loop delay p99 ${result.loopDelayP99} ms)`
        + `${flags.length ? ` [${flags.join('; ')}]` : ''}`);
      rows.push(`| ${def.label} | ${percent(result.delivered, result.expected)} | ${lost} | ${result.duplicates} | ${result.outOfOrder} | `
        + `${replay} | ${result.notRecovered} of ${result.reconnects} |`);
    } catch (error) {
      ctx.log(`  failed: ${(error as Error).message}`);
      ctx.record('r', def.name, { error: (error as Error).message });
    } finally {
      await server.stop();
    }
  }
  if (rows.length === 0) return;
  ctx.log('');
  ctx.log('| server | delivered | lost | duplicates | out of order | replay p50 / p99 (ms) | not recovered |');
  ctx.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) ctx.log(row);
}
