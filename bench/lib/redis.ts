/**
 * A private Redis for the run: its own port, no persistence, so that its
 * CPU time and command counts belong to the benchmark alone (the shared
 * Redis on 6379 also serves the test suites). `BENCH_REDIS_URL` overrides it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { adopt } from './children.js';
import { pin } from './proc.js';

export interface RedisHandle {
  url: string;
  pid: number | null;
  /** Calls per command since start (`INFO commandstats`). */
  commandCounts(): Promise<Record<string, number>>;
  flush(): Promise<void>;
  version(): Promise<string>;
  stop(): Promise<void>;
}

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {}); // reported by connect() below
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (error) {
      client.disconnect();
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startRedis(cpus: string | null): Promise<RedisHandle> {
  let child: ChildProcess | null = null;
  let url = process.env.BENCH_REDIS_URL;
  if (url === undefined) {
    const port = Number(process.env.BENCH_REDIS_PORT ?? 6399);
    try {
      execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      // nothing was listening: the usual case
    }
    child = adopt(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--maxclients', '30000', '--loglevel', 'warning'], { stdio: 'ignore' }));
    pin(child.pid!, cpus);
    url = `redis://127.0.0.1:${port}/0`;
  }
  await waitForPing(url, 5000);
  const admin = new Redis(url);
  return {
    url,
    pid: child?.pid ?? null,
    async commandCounts() {
      const info = await admin.info('commandstats');
      const counts: Record<string, number> = {};
      for (const match of info.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) counts[match[1]!] = Number(match[2]);
      return counts;
    },
    async flush() {
      await admin.flushdb();
    },
    async version() {
      return /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    },
    async stop() {
      admin.disconnect();
      if (child !== null) {
        child.kill('SIGTERM');
        await new Promise((r) => child!.once('exit', r));
      }
    },
  };
}

/** Difference of two `commandCounts()` snapshots, non-zero entries only. */
export function countDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const d = calls - (before[name] ?? 0);
    if (d > 0 && name !== 'info') delta[name] = d;
  }
  return delta;
}
