/**
 * A throwaway `redis-server` owned by one test (for fault tests: stop, restart),
 * on a free port, never the shared 6379; and a Sentinel watching one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { delay } from './time.js';

/** A redis-server child process that can be stopped and started again on the same port. */
export class OwnedRedis {
  readonly port: number;
  #child: ChildProcess | null = null;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<OwnedRedis> {
    const redis = new OwnedRedis(await freePort());
    await redis.startAgain();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async startAgain(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.#child = child;
    for (let i = 0; i < 100; i++) {
      const probe = new Redis({ port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await delay(50);
      }
    }
    throw new Error(`redis-server did not start on port ${this.port}`);
  }

  /** Freezes the server (SIGSTOP), as a hung host: its connections stay open and nothing answers. {@link thaw} resumes it. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Kills the server (as a crash would) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** A Redis Sentinel (redis-server --sentinel) monitoring an {@link OwnedRedis} as `masterName`. */
export class OwnedSentinel {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #configFile: string;

  private constructor(port: number, child: ChildProcess, configFile: string) {
    this.port = port;
    this.#child = child;
    this.#configFile = configFile;
  }

  /** Starts a sentinel; with `password`, clients must authenticate to it (channels_redis's `sentinel_kwargs`). */
  static async start(master: OwnedRedis, masterName: string, { password }: { password?: string } = {}): Promise<OwnedSentinel> {
    const port = await freePort();
    const configFile = join(tmpdir(), `sy-sentinel-${process.pid}-${port}.conf`);
    const auth = password === undefined ? '' : `requirepass ${password}\n`;
    writeFileSync(configFile, `port ${port}\nbind 127.0.0.1\ndir ${tmpdir()}\n${auth}sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1\n`);
    const child = spawn('redis-server', [configFile, '--sentinel'], { stdio: 'ignore' });
    const sentinel = new OwnedSentinel(port, child, configFile);
    for (let i = 0; i < 100; i++) {
      const probe = new Redis({ port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        const address = (await probe.call('SENTINEL', 'get-master-addr-by-name', masterName)) as string[] | null;
        probe.disconnect();
        if (address !== null) return sentinel;
      } catch {
        probe.disconnect();
      }
      await delay(50);
    }
    await sentinel.stop();
    throw new Error(`redis sentinel did not start on port ${port}`);
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = new Promise((resolve) => this.#child.once('exit', resolve));
      this.#child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.#configFile, { force: true });
  }
}
