/**
 * A throwaway `nats-server` with JetStream owned by one test (for fault
 * tests: stop, restart), on a free port, never the shared 4222. Its store
 * directory is kept across restarts (a restart with storage) unless
 * `startAgain({ wipe: true })` deletes it first (a server that lost its disk).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { connect } from 'nats';
import { freePort } from './ports.js';
import { delay } from './time.js';

/** The Debian package's binary (`apt-get install nats-server`); NATS_SERVER overrides it. */
const BINARY = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';

/** True when a NATS server greets on the port. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('INFO ')); });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false); });
  });
}

/** A nats-server child process that can be stopped and started again on the same port. */
export class OwnedNats {
  readonly port: number;
  readonly storeDir: string;
  readonly jetstream: boolean;
  #child: ChildProcess | null = null;

  private constructor(port: number, jetstream: boolean) {
    this.port = port;
    this.jetstream = jetstream;
    this.storeDir = mkdtempSync(join(tmpdir(), 'sy-nats-'));
  }

  /** Starts one; `{ jetstream: false }` starts it without JetStream. */
  static async start({ jetstream = true }: { jetstream?: boolean } = {}): Promise<OwnedNats> {
    const server = new OwnedNats(await freePort(), jetstream);
    await server.startAgain();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The server's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts it (again) on its port; with `wipe`, its store directory is emptied first. */
  async startAgain({ wipe = false }: { wipe?: boolean } = {}): Promise<void> {
    if (wipe) rmSync(join(this.storeDir, 'jetstream'), { recursive: true, force: true });
    const child = spawn(BINARY, [...(this.jetstream ? ['-js'] : []), '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], { stdio: 'ignore' });
    this.#child = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (await greets(this.port)) return;
      await delay(50);
    }
    throw new Error(`nats-server did not start on port ${this.port} (${BINARY})`);
  }

  /** Kills the server (as a crash would) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops it and deletes its store directory. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** The NATS the suite shares (the machine's, with JetStream). */
export const TEST_NATS = '127.0.0.1:4222';

/**
 * Keeps the shared NATS clean: registers an after-all hook that fails the
 * file, naming them, when JetStream streams (history streams, lease
 * buckets) whose name contains `marker` are still there after the file's own
 * cleanup, and deletes them. Call it at the end of the module.
 */
export function guardNatsStreams(marker: string): void {
  after(async () => {
    const connection = await connect({ servers: TEST_NATS });
    try {
      const jsm = await connection.jetstreamManager();
      const left: string[] = [];
      for await (const info of jsm.streams.list()) if (info.config.name.includes(marker)) left.push(info.config.name);
      for (const name of left) await jsm.streams.delete(name);
      assert.deepEqual(left, [], `streams left on the shared NATS: ${left.join(', ')}`);
    } finally {
      await connection.close();
    }
  });
}
