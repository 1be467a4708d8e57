/**
 * Leases: an optional capability of a channel layer, so that one holder at a
 * time, across every process sharing the layer, owns a name (a leader lease).
 * `runOnce()` (see `run-once.ts`) builds on it.
 *
 * A lease is held for `ttlMs` unless renewed; a holder that dies (SIGKILL)
 * simply stops renewing and the name is free again within `ttlMs`. Each
 * acquisition of a name gets a larger `generation` than every earlier one (a
 * fencing token): a task can attach it to its writes so a store refuses
 * those of a stale leader.
 *
 * The in-memory layer leases within its one process (one holder per name,
 * with the same expiry rules); the Redis layers lease across processes with
 * `SET NX PX` and compare-token scripts (`redis/lease.ts`).
 */
import { randomUUID } from 'node:crypto';
import { InvalidNameError } from '../errors.js';
import { MAX_NAME_LENGTH } from './base.js';

/**
 * One acquisition of a named lease.
 *
 * @example
 * ```ts
 * import type { LeasableLayer } from 'switchyard';
 * declare const layer: LeasableLayer;
 * declare function buildReport(generation: number): Promise<void>;
 *
 * const lease = await layer.lease('nightly-report', 10_000);
 * if (lease !== null) {
 *   try { await buildReport(lease.generation); } finally { await lease.release(); }
 * }
 * ```
 */
export interface Lease {
  /** The leased name. */
  readonly name: string;
  /** This holder's random token (what renew and release compare). */
  readonly token: string;
  /** The fencing token: larger than the generation of every earlier holder of the name. */
  readonly generation: number;
  /**
   * Extends the lease to `ttlMs` from now. Resolves false when it was lost
   * (it expired, maybe taken by another holder); rejects (for Redis,
   * `LayerUnavailableError`) when the backend cannot be asked.
   */
  renew(ttlMs: number): Promise<boolean>;
  /** Gives the lease up; a no-op when it is already lost. */
  release(): Promise<void>;
}

/**
 * A layer that can lease names. `lease()` resolves with the lease, or null
 * while another holder has the name.
 *
 * @example
 * ```ts
 * import { getChannelLayer, isLeasable } from 'switchyard';
 * const layer = getChannelLayer()!;
 * if (isLeasable(layer)) console.log(await layer.lease('ticker', 5000));
 * ```
 */
export interface LeasableLayer {
  lease(name: string, ttlMs: number): Promise<Lease | null>;
}

/**
 * True when `layer` offers leases.
 *
 * @example
 * ```ts
 * import { isLeasable, type ChannelLayer } from 'switchyard';
 * declare const layer: ChannelLayer;
 * if (!isLeasable(layer)) throw new Error('this layer cannot elect a leader');
 * ```
 */
export function isLeasable(layer: object): layer is LeasableLayer {
  return typeof (layer as Partial<LeasableLayer>).lease === 'function';
}

const LEASE_NAME = /^[a-zA-Z\d\-_.]+$/;

/**
 * Throws `InvalidNameError` unless `name` is a valid lease name (a group
 * name's rules: ASCII letters, digits, `-`, `_`, `.`, under 100 characters),
 * and `TypeError` unless `ttlMs` is a positive number of milliseconds.
 *
 * @example
 * ```ts
 * import { requireValidLease } from 'switchyard';
 * requireValidLease('ticker', 5000);
 * ```
 */
export function requireValidLease(name: unknown, ttlMs: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length >= MAX_NAME_LENGTH || !LEASE_NAME.test(name)) {
    throw new InvalidNameError(
      `Lease name must be a string with length < ${MAX_NAME_LENGTH} containing only ASCII alphanumerics, hyphens, underscores, or periods, not ${JSON.stringify(name)}.`,
    );
  }
  if (typeof ttlMs !== 'number' || !(ttlMs >= 1) || !Number.isFinite(ttlMs)) {
    throw new TypeError(`A lease's ttlMs must be a positive number of milliseconds, not ${String(ttlMs)}`);
  }
}

interface Held { token: string; generation: number; expiresAt: number }

/**
 * The leases of one in-memory layer: one holder per name within the process,
 * expiring as Redis leases do (nothing runs in the background).
 *
 * @example
 * ```ts
 * import { LocalLeases } from 'switchyard';
 * const leases = new LocalLeases();
 * const lease = await leases.lease('ticker', 5000); // a Lease
 * await leases.lease('ticker', 5000);               // null while it is held
 * ```
 */
export class LocalLeases implements LeasableLayer {
  readonly #held = new Map<string, Held>();
  /** Kept after release, so generations only grow. */
  readonly #generations = new Map<string, number>();

  async lease(name: string, ttlMs: number): Promise<Lease | null> {
    requireValidLease(name, ttlMs);
    const current = this.#held.get(name);
    const now = Date.now();
    if (current !== undefined && current.expiresAt > now) return null;
    const held: Held = { token: randomUUID(), generation: (this.#generations.get(name) ?? 0) + 1, expiresAt: now + ttlMs };
    this.#generations.set(name, held.generation);
    this.#held.set(name, held);
    return {
      name,
      token: held.token,
      generation: held.generation,
      renew: async (next: number) => {
        requireValidLease(name, next);
        if (this.#held.get(name) !== held || held.expiresAt <= Date.now()) return false;
        held.expiresAt = Date.now() + next;
        return true;
      },
      release: async () => {
        if (this.#held.get(name) === held) this.#held.delete(name);
      },
    };
  }

  /** Ends every lease (their holders' next renew resolves false); generations keep growing. */
  clear(): void {
    this.#held.clear();
  }
}
