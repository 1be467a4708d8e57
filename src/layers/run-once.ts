/**
 * `runOnce()`: a background task that runs in exactly one process at a time
 * across all workers and machines sharing a channel layer (a ticker that
 * must publish once, not once per worker).
 *
 * How it works: every process calls `runOnce(name, task)`. Each tries to
 * take the layer's lease of `name` (see `lease.ts`); the one that gets it is
 * the leader and runs `task`, renewing the lease every `renewEvery` ms; the
 * others retry every `retryEvery` ms. A leader that dies stops renewing, so
 * its lease expires and another process takes over within
 * `ttl + retryEvery`. A leader that cannot renew (refused, Redis away past
 * the point where the next try could still come in time, or the process
 * stalled past the lease's end) aborts the task's signal with
 * `LeadershipLost` before the lease can expire on the backend, logs a
 * warning, waits for the task to return and competes again. Leaders are
 * numbered (`generation`, a fencing token that only grows): attach it to
 * what the task writes, and check `leader.isLeader` just before a side effect.
 */
import type { ChannelLayer } from './base.js';
import { InvalidChannelLayerError, LeadershipLost } from '../errors.js';
import * as shared from '../log.js';
import { type Lease, isLeasable, requireValidLease } from './lease.js';
import { getChannelLayer } from './registry.js';

/** What the task of {@link runOnce} is given while it leads. */
export interface Leader {
  /** Aborts when leadership ends: `LeadershipLost` as the reason on loss, the stop signal's reason on stop. */
  readonly signal: AbortSignal;
  /** The fencing token of this leadership: larger than every earlier leader's. */
  readonly generation: number;
  /** The lease's random token. */
  readonly token: string;
  /**
   * True while the signal has not aborted and the lease cannot have expired
   * yet by this process's clock; read just before a side effect. Reading it
   * past the lease's end ends leadership (the signal aborts, a warning is logged).
   */
  readonly isLeader: boolean;
}

/** Where {@link runOnce} logs (pino-compatible). */
export interface RunOnceLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Options of {@link runOnce}. */
export interface RunOnceOptions {
  /** The layer whose lease elects the leader. Default: `getChannelLayer()` (the `default` alias). */
  layer?: ChannelLayer;
  /** Ms a lease lives unless renewed: the bound on a dead leader's successor. Default 10000. */
  ttl?: number;
  /** Ms between renewals; under `ttl`. Default `ttl / 3`. */
  renewEvery?: number;
  /** Ms between a follower's tries to take the lease (with jitter, at most this). Default `renewEvery`. */
  retryEvery?: number;
  /** Stops competing: the task's signal aborts, the lease is released, `runOnce` resolves. */
  signal?: AbortSignal;
  /** Default Switchyard's logger. */
  logger?: RunOnceLogger;
}

const defaultLogger: RunOnceLogger = {
  info: (fields, message) => shared.logger.info({ module: 'switchyard/runOnce', ...fields }, message),
  warn: (fields, message) => shared.logger.warn({ module: 'switchyard/runOnce', ...fields }, message),
  error: (fields, message) => shared.logger.error({ module: 'switchyard/runOnce', ...fields }, message),
};

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`runOnce option '${name}' must be a positive number of milliseconds, not ${String(value)}`);
  }
  return value;
}

/**
 * Runs `task` in one process at a time among all those calling
 * `runOnce(name, ...)` on a shared layer (Redis: all processes on that Redis
 * and prefix; in-memory: this process). Resolves once `signal` aborted and
 * the lease is released. The task should run until `leader.signal` aborts;
 * one that returns or throws first gives leadership up, and a leader (maybe
 * this process again) starts it anew after `retryEvery`.
 *
 * @example
 * Start it from the lifespan startup handler, stop it at shutdown:
 * ```ts
 * import { ProtocolTypeRouter, getChannelLayer, runOnce, type Application } from 'switchyard';
 * import { setTimeout as sleep } from 'node:timers/promises';
 * declare const websockets: Application;
 *
 * const stop = new AbortController();
 * let ticker: Promise<void> | undefined;
 *
 * export const application = ProtocolTypeRouter({
 *   websocket: websockets,
 *   lifespan: async (_scope, receive, send) => {
 *     for (;;) {
 *       const event = await receive();
 *       if (event.type === 'lifespan.startup') {
 *         // Every worker calls this; one of them ticks.
 *         ticker = runOnce('ticker', async (leader) => {
 *           while (leader.isLeader) {
 *             await getChannelLayer()!.groupSend('clock', { type: 'clock.tick', at: Date.now(), generation: leader.generation });
 *             await sleep(1000, undefined, { signal: leader.signal }).catch(() => {});
 *           }
 *         }, { ttl: 5000, signal: stop.signal });
 *         await send({ type: 'lifespan.startup.complete' });
 *       } else if (event.type === 'lifespan.shutdown') {
 *         stop.abort();
 *         await ticker;
 *         await send({ type: 'lifespan.shutdown.complete' });
 *         return;
 *       }
 *     }
 *   },
 * });
 * ```
 */
export async function runOnce(name: string, task: (leader: Leader) => unknown, options: RunOnceOptions = {}): Promise<void> {
  const ttl = positive('ttl', options.ttl ?? 10_000);
  const renewEvery = positive('renewEvery', options.renewEvery ?? ttl / 3);
  const retryEvery = positive('retryEvery', options.retryEvery ?? renewEvery);
  if (renewEvery >= ttl) throw new TypeError(`runOnce option 'renewEvery' (${renewEvery}) must be under 'ttl' (${ttl})`);
  requireValidLease(name, ttl);
  if (typeof task !== 'function') throw new TypeError('runOnce needs a task function');
  const layer = options.layer ?? getChannelLayer();
  if (layer === null || !isLeasable(layer)) {
    throw new InvalidChannelLayerError(`runOnce(${JSON.stringify(name)}) needs a channel layer that offers leases (in-memory or Redis)`);
  }
  const logger = options.logger ?? defaultLogger;
  const stop = options.signal;
  let unreachable = false;
  while (!stop?.aborted) {
    const askedAt = Date.now();
    let lease: Lease | null = null;
    try {
      lease = await layer.lease(name, ttl);
      unreachable = false;
    } catch (error) {
      // Logged once per outage, not once per try.
      if (!unreachable) logger.warn({ err: error, lease: name }, `Cannot compete for the leadership of ${JSON.stringify(name)}; retrying`);
      unreachable = true;
    }
    if (lease !== null) {
      await lead(lease, askedAt, task, { ttl, renewEvery, logger, stop });
    }
    await pause(retryEvery * (0.5 + Math.random() / 2), stop);
  }
}

interface LeadOptions { ttl: number; renewEvery: number; logger: RunOnceLogger; stop: AbortSignal | undefined }

/** Runs the task while the lease holds: renews it, aborts the task on loss or stop, then releases it. */
async function lead(lease: Lease, askedAt: number, task: (leader: Leader) => unknown, options: LeadOptions): Promise<void> {
  const { ttl, renewEvery, logger, stop } = options;
  const fields = { lease: lease.name, generation: lease.generation };
  const controller = new AbortController();
  const signal = controller.signal;
  // By this process's clock, the lease cannot end before `deadline` (measured from when it was asked for).
  let deadline = askedAt + ttl;
  let expiry: NodeJS.Timeout | undefined;
  const lose = (why: string) => {
    if (signal.aborted) return;
    logger.warn(fields, `Leadership of ${JSON.stringify(lease.name)} lost (generation ${lease.generation}): ${why}`);
    controller.abort(new LeadershipLost(lease.name, why));
  };
  const armExpiry = () => {
    clearTimeout(expiry);
    expiry = setTimeout(() => lose('the lease expired before it could be renewed (was the process stalled?)'), Math.max(0, deadline - Date.now()));
  };
  const onStop = () => controller.abort(stop?.reason);
  stop?.addEventListener('abort', onStop, { once: true });
  if (stop?.aborted) onStop();
  armExpiry();
  const leader: Leader = {
    signal,
    generation: lease.generation,
    token: lease.token,
    get isLeader() {
      if (signal.aborted) return false;
      // Checked where the task is about to act: a process that stalled past its lease learns it here, loudly.
      if (Date.now() >= deadline) lose('the lease expired before it could be renewed (was the process stalled?)');
      return !signal.aborted;
    },
  };

  const renewing = (async () => {
    while (!signal.aborted) {
      await pause(renewEvery, signal);
      if (signal.aborted) return;
      const sentAt = Date.now();
      try {
        if (await lease.renew(ttl)) {
          if (!signal.aborted) { deadline = sentAt + ttl; armExpiry(); }
        } else lose('the lease is no longer ours (it expired, and may be held by another process)');
      } catch (error) {
        // A later try could come too late: give up while the lease still holds, so no two leaders overlap.
        if (Date.now() + renewEvery >= deadline) lose(`renewal failed: ${error instanceof Error ? error.message : String(error)}`);
        else logger.warn({ ...fields, err: error }, `Could not renew the leadership of ${JSON.stringify(lease.name)}; retrying`);
      }
    }
  })();

  logger.info(fields, `Leading ${JSON.stringify(lease.name)} (generation ${lease.generation})`);
  try {
    await task(leader);
    if (!signal.aborted) logger.info(fields, `The task of ${JSON.stringify(lease.name)} returned; giving up leadership`);
  } catch (error) {
    if (!signal.aborted) logger.error({ ...fields, err: error }, `The task of ${JSON.stringify(lease.name)} failed; giving up leadership`);
  } finally {
    stop?.removeEventListener('abort', onStop);
    clearTimeout(expiry);
    if (!signal.aborted) controller.abort(new LeadershipLost(lease.name, 'the task ended'));
    await renewing;
    await lease.release().catch(() => {}); // a lost lease is not ours to delete; Redis away: it expires
  }
}
