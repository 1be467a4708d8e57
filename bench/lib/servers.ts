/**
 * The servers under test and how to start one: a child process pinned to the
 * server core, ready once its port accepts TCP connections.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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
  command(port: number, redisUrl: string, extraNodeArgs: string[]): { cmd: string; args: string[]; env: Record<string, string>; cwd: string };
}

const node = (script: string, env: (redisUrl: string) => Record<string, string> = () => ({})) =>
  (port: number, redisUrl: string, extra: string[]) => ({
    cmd: process.execPath,
    args: [...extra, built(`bench/servers/${script}`)],
    env: { PORT: String(port), ...env(redisUrl) },
    cwd: ROOT,
  });

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
  { name: 'switchyard-app', label: 'Switchyard, full chat app stack', dialect: 'chat', redis: false,
    command: node('switchyard.ts', () => ({ BENCH_APP: 'full' })) },
  { name: 'socketio', label: 'Socket.IO 4', dialect: 'sio', redis: false, command: node('socketio.ts') },
  { name: 'django', label: 'Django Channels (daphne + channels_redis)', dialect: 'chat', redis: true, command: daphne },
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
