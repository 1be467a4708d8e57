/**
 * The servers under test and how to start one: a child process pinned to the
 * server core, ready once its port accepts TCP connections.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { built } from './build.js';
import { adopt } from './children.js';
import { pin } from './proc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerDef {
  /** Key in results. */
  name: string;
  /** Column title in BENCHMARKS.md. */
  label: string;
  dialect: 'chat' | 'sio';
  /** Uses Redis (its CPU is reported with the server's). */
  redis: boolean;
  /** Too slow to take turns with the others at their rates: (a) and (b) run it alone. */
  solo?: boolean;
  command(port: number, redisUrl: string, extraNodeArgs: string[]): { cmd: string; args: string[]; env: Record<string, string>; cwd: string };
}

/** A file of the repository, run as transpiled JavaScript (bench/.build/). */
const nodeFile = (path: string, env: (redisUrl: string) => Record<string, string> = () => ({})) =>
  (port: number, redisUrl: string, extra: string[]) => ({
    cmd: process.execPath,
    args: [...extra, ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), built(path)],
    env: { PORT: String(port), ...env(redisUrl) },
    cwd: ROOT,
  });
const node = (script: string, env?: (redisUrl: string) => Record<string, string>) => nodeFile(`bench/servers/${script}`, env);

/** The `bun` binary the @oven/bun-linux-x64 devDependency ships (its install script is not needed). */
const BUN = `${ROOT}node_modules/@oven/bun-linux-x64/bin/bun`;
const bun = (script: string) => (port: number) => ({
  cmd: BUN,
  args: [built(`bench/servers/${script}`)],
  // No telemetry or crash reports leave the machine.
  env: { PORT: String(port), DO_NOT_TRACK: '1' },
  cwd: ROOT,
});

/**
 * What the chat demo (examples/chat/server.ts, with its whole app.ts stack)
 * needs to take the bench's load: a signing secret (NODE_ENV is production),
 * the load generator's origin, sessions in memory, and the per-connection
 * rate limit raised so the bench's sender is not throttled.
 */
const CHAT_DEMO_ENV = {
  CHAT_SECRET_KEYS: 'bench-only-secret', ALLOWED_HOSTS: '127.0.0.1', CHAT_RATE: '1000000', CHAT_BURST: '1000000',
  CHAT_SESSION_STORE: 'memory', CHANNEL_LAYER_URL: 'memory://',
};
/**
 * The chat demo exactly as `npm start` runs it: the node arguments of
 * package.json's `start` script (its TypeScript loader, the library from source).
 */
const npmStart = (port: number, _redisUrl: string, extra: string[]) => {
  const script = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const args = /^(?:exec )?node (.+)$/.exec(script)?.[1]?.split(/\s+/);
  if (args === undefined) throw new Error(`package.json's start script is not "node ...": ${script}`);
  return { cmd: process.execPath, args: [...extra, ...args], env: { PORT: String(port), ...CHAT_DEMO_ENV }, cwd: ROOT };
};

const daphne = (port: number, redisUrl: string) => ({
  cmd: 'daphne',
  args: ['-b', '127.0.0.1', '-p', String(port), '-v', '0', 'asgi:application'],
  env: { BENCH_REDIS_URL: redisUrl, PYTHONPATH: `${ROOT}bench/django`, PYTHONDONTWRITEBYTECODE: '1' },
  cwd: `${ROOT}bench/django`,
});

/** Single-process servers: scenarios (a), (b), (c). */
export const SINGLE: ServerDef[] = [
  { name: 'rawws', label: 'raw ws', dialect: 'chat', redis: false, command: node('raw-ws.ts') },
  { name: 'switchyard', label: 'Switchyard (memory layer)', dialect: 'chat', redis: false, command: node('switchyard.ts') },
  { name: 'sy-asgi', label: "Switchyard's server alone (a bare ASGI app)", dialect: 'chat', redis: false, command: node('switchyard-asgi.ts') },
  // Issue 12's seam: the seeds' ChatConsumer with a declared render, and written plainly (async handler, this.send).
  { name: 'sy-declared', label: 'Switchyard, declared render', dialect: 'chat', redis: false,
    command: node('switchyard-seam.ts', () => ({ BENCH_CONSUMER: 'declared' })) },
  { name: 'sy-plain', label: 'Switchyard, plainly written handler', dialect: 'chat', redis: false,
    command: node('switchyard-seam.ts', () => ({ BENCH_CONSUMER: 'plain' })) },
  { name: 'switchyard-app', label: 'Switchyard, full chat app stack', dialect: 'chat', redis: false,
    command: node('switchyard.ts', () => ({ BENCH_APP: 'full' })) },
  { name: 'socketio', label: 'Socket.IO 4', dialect: 'sio', redis: false, command: node('socketio.ts') },
  { name: 'django', label: 'Django Channels (daphne + channels_redis)', dialect: 'chat', redis: true, solo: true, command: daphne },
  // The fastest servers a JavaScript user can pick (issue 12).
  { name: 'uws', label: 'uWebSockets.js (native pub/sub)', dialect: 'chat', redis: false, command: node('uws.ts') },
  { name: 'bun', label: 'Bun.serve (pub/sub)', dialect: 'chat', redis: false, command: bun('bun-server.ts') },
  { name: 'tunedws', label: 'tuned ws (framed once, corked per turn)', dialect: 'chat', redis: false, command: node('tuned-ws.ts') },
  // The chat demo itself, not a bench entry point: examples/chat/server.ts as shipped.
  { name: 'chat-js', label: 'Switchyard chat demo (transpiled JavaScript)', dialect: 'chat', redis: false,
    command: nodeFile('examples/chat/server.ts', () => CHAT_DEMO_ENV) },
  { name: 'chat-npmstart', label: 'Switchyard chat demo (`npm start`)', dialect: 'chat', redis: false, command: npmStart },
];

/** Two processes on one Redis: scenario (d). */
export const CLUSTERED: ServerDef[] = [
  { name: 'rawws-redis', label: 'raw ws + Redis PUBLISH', dialect: 'chat', redis: true, command: node('raw-ws.ts', (url) => ({ BENCH_REDIS_URL: url })) },
  { name: 'switchyard-redis', label: 'Switchyard (Redis core layer)', dialect: 'chat', redis: true,
    command: node('switchyard.ts', (url) => ({ CHANNEL_LAYER_URL: `${url}?prefix=benchsy` })) },
  { name: 'switchyard-pubsub', label: 'Switchyard (Redis pub/sub layer)', dialect: 'chat', redis: true,
    command: node('switchyard.ts', (url) => ({ CHANNEL_LAYER_URL: `${url.replace('redis:', 'redis+pubsub:')}?prefix=benchsp` })) },
  { name: 'socketio-redis', label: 'Socket.IO 4 + Redis adapter', dialect: 'sio', redis: true, command: node('socketio.ts', (url) => ({ BENCH_REDIS_URL: url })) },
  { name: 'django', label: 'Django Channels (daphne + channels_redis)', dialect: 'chat', redis: true, command: daphne },
];

export interface Launched { def: ServerDef; port: number; pid: number; child: ChildProcess; stop(): Promise<void> }

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export async function launch(def: ServerDef, port: number, redisUrl: string, cpus: string | null, extraNodeArgs: string[] = []): Promise<Launched> {
  const { cmd, args, env, cwd } = def.command(port, redisUrl, extraNodeArgs);
  const child = adopt(spawn(cmd, args, { cwd, env: { ...process.env, ...env, NODE_ENV: 'production' }, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  pin(child.pid!, cpus);
  const deadline = Date.now() + 20_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${def.name} did not start on port ${port}: ${stderr.trim().slice(-800)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  pin(child.pid!, cpus); // again: threads started after the first pin
  return {
    def, port, pid: child.pid!, child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}
