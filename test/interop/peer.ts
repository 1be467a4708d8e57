/**
 * Drives `peer.py`, a real Django Channels process (Debian's channels 4.0.0 +
 * channels_redis 4.0.0 under /usr/bin/python3), over JSON lines.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export interface PeerConfig {
  backend: 'core' | 'pubsub';
  hosts: (string | Record<string, unknown>)[];
  prefix: string;
  symmetric_encryption_keys?: string[];
  expiry?: number;
}

export interface PeerEvent {
  event: string;
  channel?: string;
  message?: Record<string, unknown>;
}

const SCRIPT = fileURLToPath(new URL('./peer.py', import.meta.url));

/** Bytes as the peer's JSON carries them. */
export const bytes = (hex: string) => ({ __bytes__: hex });

/** A running Django peer. */
export class DjangoPeer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly events: PeerEvent[] = [];
  #eventWaiters: (() => void)[] = [];
  #nextId = 0;
  #stderr = '';

  private constructor(config: PeerConfig) {
    this.#child = spawn('/usr/bin/python3', [SCRIPT, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as { id?: number; result?: unknown; error?: string } & PeerEvent;
      if (reply.id !== undefined) {
        const waiter = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        if (reply.error !== undefined) waiter?.reject(new Error(`python: ${reply.error}`));
        else waiter?.resolve(reply.result);
      } else {
        this.events.push(reply);
        for (const wake of this.#eventWaiters.splice(0)) wake();
      }
    });
    this.#child.on('exit', (code) => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`python peer exited (${code}): ${this.#stderr}`));
      this.#pending.clear();
      for (const wake of this.#eventWaiters.splice(0)) wake();
    });
  }

  static async start(config: PeerConfig): Promise<DjangoPeer> {
    const peer = new DjangoPeer(config);
    await peer.waitForEvent((event) => event.event === 'ready', 15000);
    return peer;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.stdin.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  /** Waits for (and consumes) the first event matching `predicate`. */
  async waitForEvent(predicate: (event: PeerEvent) => boolean, timeoutMs = 5000): Promise<PeerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex(predicate);
      if (index !== -1) return this.events.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.#child.exitCode !== null) {
        throw new Error(`no matching event from the Django peer within ${timeoutMs} ms; got ${JSON.stringify(this.events)}; stderr: ${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#eventWaiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** The consumer event for `channel`, or null when none comes within `ms`. */
  async consumerEvent(channel: string, ms = 5000): Promise<Record<string, unknown> | null> {
    try {
      return (await this.waitForEvent((event) => event.event === 'consumer' && event.channel === channel, ms)).message ?? null;
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}
