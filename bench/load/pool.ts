/**
 * The coordinator's side of the load generator: a few worker processes
 * pinned to the load cores, connections spread over them round-robin, and
 * request/reply over IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Histogram, decode, newHistogram } from '../lib/hist.js';
import { adopt } from '../lib/children.js';
import { pin } from '../lib/proc.js';
import type { CollectReply, ConnSpec, ConnectReply, PhaseReply } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

export interface PoolOptions { workers: number; dialect: 'chat' | 'sio'; cpus: string | null; sources?: string[] }

export class LoadPool {
  readonly children: ChildProcess[] = [];
  /** Which worker holds each connection id. */
  readonly #owner = new Map<number, number>();
  #req = 0;
  readonly #waiting = new Map<number, (reply: unknown) => void>();

  constructor(options: PoolOptions) {
    for (let i = 0; i < options.workers; i++) {
      const child = adopt(fork(WORKER, [], {
        execArgv: ['--import', 'tsx', '--max-old-space-size=2048'],
        env: { ...process.env, BENCH_DIALECT: options.dialect, BENCH_SOURCES: (options.sources ?? []).join(',') },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }));
      child.on('message', (reply: { req: number }) => {
        const resolve = this.#waiting.get(reply.req);
        this.#waiting.delete(reply.req);
        resolve?.(reply);
      });
      pin(child.pid!, options.cpus);
      this.children.push(child);
    }
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid!).filter(Boolean);
  }

  #ask<T>(worker: number, command: Record<string, unknown>): Promise<T> {
    const req = ++this.#req;
    return new Promise<T>((resolve) => {
      this.#waiting.set(req, resolve as (reply: unknown) => void);
      this.children[worker]!.send({ ...command, req });
    });
  }

  /** Opens the connections (spread round-robin), resolving once all are ready or failed. */
  async connect(conns: ConnSpec[], options: { concurrency?: number; timeoutMs?: number } = {}): Promise<ConnectReply> {
    const share: ConnSpec[][] = this.children.map(() => []);
    conns.forEach((conn, i) => {
      const worker = i % this.children.length;
      share[worker]!.push(conn);
      this.#owner.set(conn.id, worker);
    });
    const t0 = performance.now();
    const replies = await Promise.all(share.map((specs, w) => this.#ask<ConnectReply>(w, {
      cmd: 'connect', conns: specs, concurrency: options.concurrency ?? 64, timeoutMs: options.timeoutMs ?? 60_000,
    })));
    return {
      ready: replies.reduce((s, r) => s + r.ready, 0),
      failed: replies.reduce((s, r) => s + r.failed, 0),
      ms: performance.now() - t0,
      error: replies.find((r) => r.error !== null)?.error ?? null,
    };
  }

  /** Runs one sending phase; resolves with the number of messages each sender sent. */
  async phase(phase: number, durationMs: number, senders: Array<{ id: number; rate: number; offsetMs?: number }>, pad = 32): Promise<Map<number, number>> {
    const byWorker: Array<Array<{ id: number; rate: number; offsetMs: number }>> = this.children.map(() => []);
    for (const s of senders) byWorker[this.#owner.get(s.id)!]!.push({ offsetMs: 0, ...s });
    const replies = await Promise.all(byWorker.map((list, w) => this.#ask<PhaseReply>(w, { cmd: 'phase', phase, durationMs, pad, senders: list })));
    const sent = new Map<number, number>();
    for (const reply of replies) for (const [id, n] of Object.entries(reply.sent)) sent.set(Number(id), n);
    return sent;
  }

  /** Deliveries received so far for a phase, with their merged latency histogram. */
  async collect(phase: number, withHistogram = true): Promise<{ received: number; histogram: Histogram; dropped: number }> {
    const replies = await Promise.all(this.children.map((_, w) => this.#ask<CollectReply>(w, { cmd: 'collect', phase, histogram: withHistogram })));
    const histogram = newHistogram();
    if (withHistogram) for (const reply of replies) histogram.add(decode(reply.histogram));
    return { received: replies.reduce((s, r) => s + r.received, 0), histogram, dropped: replies.reduce((s, r) => s + r.dropped, 0) };
  }

  /** Waits until `expected` deliveries arrived or `timeoutMs` passed. */
  async drain(phase: number, expected: number, timeoutMs: number): Promise<{ received: number; histogram: Histogram; dropped: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const counts = await this.collect(phase, false);
      if (counts.received >= expected || performance.now() >= deadline) return this.collect(phase, true);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((child, w) => Promise.race([
      this.#ask(w, { cmd: 'close' }),
      new Promise((r) => setTimeout(r, 5000)),
    ])));
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
  }
}
