/**
 * Leases on NATS JetStream KV (see `layers/lease.ts`), for `runOnce`.
 *
 * How it works: one bucket per layer prefix (`SY_LEASES_<prefix>`, history
 * 1); the lease of `name` is the key `name`, holding `"<token> <ttlMs>"`
 * while held and `"released"` once given up. Every write is
 * compare-and-set on the key's revision (`create` when the key never
 * existed, `update(revision)` after), so of two processes taking a free
 * lease one wins, and a holder whose lease was taken can neither renew nor
 * release its successor's. A lease is free once released, or once
 * `ttlMs` has passed since its last write (the server's time of that
 * write, compared with this process's clock: keep the machines' clocks in
 * sync, as for any lease). The fencing `generation` is the revision of the
 * acquiring write: the bucket's revisions only grow, so each acquisition's
 * is larger than every earlier one's (until `flush()` deletes the bucket).
 *
 * The nats server on Debian 12 (2.9) has no per-key TTL, hence the expiry
 * judged from the write time rather than left to the server.
 */
import { randomUUID } from 'node:crypto';
import { type KV, NatsError, StorageType } from 'nats';
import type { Lease } from '../layers/lease.js';
import { requireValidLease } from '../layers/lease.js';
import { type NatsLink, unavailable } from './connection.js';
import { leaseBucketName } from './subjects.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RELEASED = encoder.encode('released');
const WRONG_LAST_SEQUENCE = 10071;
const BUCKET_NOT_FOUND = 10059;

/** A compare-and-set that lost: another writer came first. */
function lostRace(error: unknown): boolean {
  return error instanceof NatsError && error.api_error?.err_code === WRONG_LAST_SEQUENCE;
}

/** The leases of one NATS layer. */
export class NatsLeases {
  readonly #link: NatsLink;
  readonly #bucket: string;
  readonly #requestTimeout: number;
  #kv: Promise<KV> | null = null;

  constructor(link: NatsLink, prefix: string, requestTimeout: number) {
    this.#link = link;
    this.#bucket = leaseBucketName(prefix);
    this.#requestTimeout = requestTimeout;
  }

  /** The lease of `name`, or null while another holder has it. Rejects with `LayerUnavailableError` while NATS is away. */
  async lease(name: string, ttlMs: number): Promise<Lease | null> {
    requireValidLease(name, ttlMs);
    const kv = await this.#open();
    const token = randomUUID().replace(/-/g, '');
    let generation: number;
    try {
      const entry = await this.#link.guard(kv.get(name), 'a lease');
      const value = encoder.encode(`${token} ${Math.ceil(ttlMs)}`);
      if (entry === null || entry.operation !== 'PUT') generation = await this.#link.guard(kv.create(name, value), 'a lease');
      else if (held(entry.value, entry.created)) return null;
      else generation = await this.#link.guard(kv.update(name, value, entry.revision), 'a lease');
    } catch (error) {
      if (lostRace(error)) return null;
      throw this.#failed(error, `could not lease ${name}`);
    }
    let revision = generation;
    let expiresAt = Date.now() + ttlMs;
    return {
      name,
      token,
      generation,
      renew: async (next: number): Promise<boolean> => {
        requireValidLease(name, next);
        if (Date.now() >= expiresAt) return false;
        const startedAt = Date.now();
        try {
          revision = await this.#link.guard((await this.#open()).update(name, encoder.encode(`${token} ${Math.ceil(next)}`), revision), 'a lease renewal');
          expiresAt = startedAt + next;
          return true;
        } catch (error) {
          if (lostRace(error)) return false;
          throw this.#failed(error, `could not renew the lease ${name}`);
        }
      },
      release: async (): Promise<void> => {
        try {
          revision = await this.#link.guard((await this.#open()).update(name, RELEASED, revision), 'a lease release');
          expiresAt = 0;
        } catch (error) {
          if (!lostRace(error)) throw this.#failed(error, `could not release the lease ${name}`);
        }
      },
    };
  }

  /** Deletes the bucket: every lease ends (generations start again). */
  async destroy(): Promise<void> {
    this.#kv = null;
    const jsm = await this.#link.jetstreamManager();
    try {
      await jsm.streams.delete(`KV_${this.#bucket}`);
    } catch (error) {
      if (!(error instanceof NatsError && error.api_error?.err_code === BUCKET_NOT_FOUND)) throw this.#failed(error, `could not delete ${this.#bucket}`);
    }
  }

  #failed(error: unknown, what: string): Error {
    // The bucket may have been deleted by another process's flush(): open it again next time.
    this.#kv = null;
    return unavailable(`NATS KV at ${this.#link.label} ${what}`, error);
  }

  #open(): Promise<KV> {
    this.#kv ??= (async () => {
      const js = await this.#link.jetstream();
      await this.#link.jetstreamManager(); // fails clearly when JetStream is off
      return this.#link.makeShared(() => js.views.kv(this.#bucket, { history: 1, storage: StorageType.File, timeout: this.#requestTimeout }), `open ${this.#bucket}`);
    })().catch((error: unknown) => {
      this.#kv = null;
      throw unavailable(`NATS KV at ${this.#link.label} could not open ${this.#bucket}`, error);
    });
    return this.#kv;
  }
}

/** True while a lease value written at `writtenAt` is held. */
function held(value: Uint8Array, writtenAt: Date): boolean {
  const [token, ttl] = decoder.decode(value).split(' ');
  if (token === 'released' || ttl === undefined) return false;
  return writtenAt.getTime() + Number(ttl) > Date.now();
}
