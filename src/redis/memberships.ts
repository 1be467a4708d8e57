/**
 * This process's group memberships on the core Redis layer, remembered so
 * they can be re-asserted when Redis loses them.
 *
 * How it works: channels_redis keeps memberships only in Redis (group sorted
 * sets), so a Redis that restarts empty leaves every existing connection deaf.
 * The layer records here each `groupAdd` of one of its own channels (with its
 * join time) and forgets it at `groupDiscard`; a discard that cannot reach
 * Redis is kept as "leaving". When a shard's connection comes back, or the
 * process lease finds its key gone (`liveness.ts`), {@link LocalMemberships.rejoin}
 * sends the shard's memberships in one script per 200 groups (`REJOIN` in
 * `scripts.ts`): `ZADD NX` with the original join score, so a re-asserted
 * membership expires when it would have (`groupExpiry`) and a newer score
 * (a later `groupAdd`, from here or from Django) is kept; the leaving ones are
 * removed. It retries with backoff until it succeeds or the layer closes.
 * Memberships older than `groupExpiry` are forgotten (at a re-assertion, and
 * by a sweep at most once a minute), so the record stays bounded by what
 * Redis would hold.
 */
import { backoffDelay, type Shard } from './connection.js';
import type { KeyNames } from './keys.js';
import type { LayerLogger } from './log.js';
import { REJOIN } from './scripts.js';
import { microsToScore } from './wire.js';

/** Groups per `REJOIN` script (one on a Redis Cluster, where each group key has its own slot). */
const GROUPS_PER_SCRIPT = 200;

/** Options of {@link LocalMemberships}. */
export interface LocalMembershipsOptions {
  shards: readonly Shard[];
  keys: KeyNames;
  /** Seconds a membership lives after its join (the layer's `groupExpiry`). */
  groupExpiry: number;
  /** The shard index of a group. */
  shardOf: (group: string) => number;
  logger: LayerLogger;
}

/**
 * The memberships of this process's channels, and their re-assertion.
 *
 * @example
 * ```ts
 * import { LocalMemberships } from './memberships.js';
 * import { KeyNames } from './keys.js';
 * import { Shard } from './connection.js';
 * import { defaultLogger as logger } from './log.js';
 *
 * const shards = [new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger })];
 * const memberships = new LocalMemberships({ shards, keys: new KeyNames('asgi', false), groupExpiry: 86400, shardOf: () => 0, logger });
 * memberships.joined('room', 'specific.abc!def', Date.now() * 1000);
 * await memberships.rejoin(0); // after Redis came back empty: the membership is there again
 * ```
 */
export class LocalMemberships {
  readonly #options: LocalMembershipsOptions;
  /** group → channel → join time (µs since the epoch). */
  readonly #joined = new Map<string, Map<string, number>>();
  /** group → channels whose discard did not reach Redis. */
  readonly #leaving = new Map<string, Set<string>>();
  /** Per shard: the re-assertion running, and whether it must run once more. */
  readonly #running: Array<Promise<void> | null>;
  readonly #again: boolean[];
  /** When (ms) the next sweep of expired memberships is due. */
  #nextSweep = 0;
  #closed = false;

  constructor(options: LocalMembershipsOptions) {
    this.#options = options;
    this.#running = options.shards.map(() => null);
    this.#again = options.shards.map(() => false);
  }

  /** The groups on a shard that this process's channels are in. */
  groupsOn(index: number): string[] {
    return [...this.#joined.keys()].filter((group) => this.#options.shardOf(group) === index);
  }

  /** The recorded memberships: group → channel → join time (read-only, live). */
  get groups(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.#joined;
  }

  /** How many memberships are recorded. */
  get size(): number {
    let size = 0;
    for (const channels of this.#joined.values()) size += channels.size;
    return size;
  }

  /** Records a membership Redis acknowledged. */
  joined(group: string, channel: string, micros: number): void {
    this.#sweepIfDue();
    let channels = this.#joined.get(group);
    if (channels === undefined) this.#joined.set(group, (channels = new Map()));
    channels.set(channel, micros);
    this.#unleave(group, channel);
  }

  /** Forgets a membership (before its discard is sent, so no re-assertion can race it back). */
  left(group: string, channel: string): void {
    const channels = this.#joined.get(group);
    if (channels !== undefined && channels.delete(channel) && channels.size === 0) this.#joined.delete(group);
    this.#unleave(group, channel);
  }

  /** A discard that failed: removed at the next re-assertion. */
  discardFailed(group: string, channel: string): void {
    let channels = this.#leaving.get(group);
    if (channels === undefined) this.#leaving.set(group, (channels = new Set()));
    channels.add(channel);
  }

  /** Forgets everything (the layer was flushed). */
  clear(): void {
    this.#joined.clear();
    this.#leaving.clear();
  }

  /** Stops re-asserting. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Re-asserts the memberships of the groups on one shard; a call while one
   * runs makes it run once more. Resolves when done or the layer closed.
   */
  rejoin(shard: number): Promise<void> {
    const running = this.#running[shard];
    if (running !== null && running !== undefined) {
      this.#again[shard] = true;
      return running;
    }
    const run = (async () => {
      do {
        this.#again[shard] = false;
        for (let attempt = 0; !this.#closed; attempt++) {
          try {
            await this.#rejoinOnce(shard);
            break;
          } catch (error) {
            if (attempt === 0) this.#options.logger.warn({ err: error, shard }, 'Could not re-assert group memberships yet; retrying');
            await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)));
          }
        }
      } while (this.#again[shard] && !this.#closed);
    })().finally(() => {
      this.#running[shard] = null;
    });
    this.#running[shard] = run;
    return run;
  }

  async #rejoinOnce(shard: number): Promise<void> {
    const { shards, keys: names, groupExpiry, shardOf, logger } = this.#options;
    const perScript = names.cluster ? 1 : GROUPS_PER_SCRIPT;
    const cutoff = Date.now() * 1000 - groupExpiry * 1e6;
    const batches: Array<{ keys: string[]; args: Array<string | number>; leaves: Array<[string, string]> }> = [];
    let batch: (typeof batches)[number] | undefined;
    for (const group of new Set([...this.#joined.keys(), ...this.#leaving.keys()])) {
      if (shardOf(group) !== shard) continue;
      const joins = [...(this.#joined.get(group) ?? [])].filter(([, micros]) => micros > cutoff);
      const leaves = [...(this.#leaving.get(group) ?? [])];
      // Memberships Redis would have expired by now are forgotten, not re-asserted.
      if (joins.length === 0) this.#joined.delete(group);
      else if (joins.length < (this.#joined.get(group)?.size ?? 0)) this.#joined.set(group, new Map(joins));
      if (joins.length === 0 && leaves.length === 0) continue;
      if (batch === undefined || batch.keys.length >= perScript) batches.push((batch = { keys: [], args: [Math.ceil(groupExpiry * 1000)], leaves: [] }));
      batch.keys.push(names.group(group));
      batch.args.push(joins.length);
      for (const [channel, micros] of joins) batch.args.push(microsToScore(micros), channel);
      batch.args.push(leaves.length, ...leaves);
      for (const channel of leaves) batch.leaves.push([group, channel]);
    }
    let added = 0;
    for (const { keys, args, leaves } of batches) {
      added += Number(await shards[shard]!.run((redis) => REJOIN.run(redis, keys, args)));
      for (const [group, channel] of leaves) this.#unleave(group, channel);
    }
    // Loud: until now, messages sent to those groups did not reach this process's members
    // (groups with a history are caught up by their recovery sessions; the others lost them).
    if (added > 0) logger.warn({ host: shards[shard]!.label, added }, `Re-asserted ${added} group membership(s) Redis had lost: messages sent to them meanwhile reached this process only where the group keeps a history`);
  }

  /**
   * Forgets memberships older than `groupExpiry`, at most once a minute (a
   * consumer that ended without leaving its groups costs nothing for long).
   */
  #sweepIfDue(): void {
    const now = Date.now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 60_000;
    const cutoff = now * 1000 - this.#options.groupExpiry * 1e6;
    for (const [group, channels] of this.#joined) {
      for (const [channel, micros] of channels) if (micros <= cutoff) channels.delete(channel);
      if (channels.size === 0) this.#joined.delete(group);
    }
  }

  #unleave(group: string, channel: string): void {
    const leaving = this.#leaving.get(group);
    if (leaving !== undefined && leaving.delete(channel) && leaving.size === 0) this.#leaving.delete(group);
  }
}
