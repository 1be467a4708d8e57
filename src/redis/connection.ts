/**
 * Connections to one Redis host (or one Redis Cluster), and how their failures surface.
 *
 * How it works: each shard has one command connection (pipelined, never
 * blocked) and a small pool of blocking connections for `BZPOPMIN`. On a
 * Redis Cluster the shard is the whole cluster: each connection is an
 * ioredis `Cluster` (one socket per node it talks to, commands routed by
 * their key's slot, topology refreshed on `MOVED` and every second), and a
 * blocking connection is a `Cluster` of its own, so a blocked pop never
 * stalls the commands to that node. A command cut off by a node's death is
 * not resent (it may have run: a resent send could store a message twice);
 * a `CLUSTERDOWN` or `TRYAGAIN` answer (nothing ran) is retried by ioredis
 * while a replica takes over. ioredis
 * reconnects on its own with capped exponential backoff. Commands never wait
 * in ioredis's offline queue once a connection has been up: while Redis is
 * away a command fails at once with `LayerUnavailableError` (the caller's
 * typed error); only the very first connection is waited for, up to
 * `connectTimeout`. Lua scripts run through `EVALSHA` with an `EVAL` fallback.
 */
import { createHash } from 'node:crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { RepeatedErrorLog } from '../backoff.js';
import { LayerUnavailableError } from '../errors.js';
import type { LayerLogger } from './log.js';

/** Reconnect delay (ms) after the n-th failed attempt: 50 ms doubling to 2 s, with jitter. */
export function backoffDelay(attempt: number, maxMs = 2000): number {
  const base = Math.min(maxMs, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * The layers' `commandTimeout` option: 10 000 ms when unset; anything but a
 * whole number of ms from 1 to 2^31 - 1 (what a timer can wait) is refused
 * with the option's name, not turned into a timer that fires at once.
 */
function commandTimeoutOf(value: number | undefined): number {
  if (value === undefined) return 10_000;
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
    throw new TypeError(`Channel layer option 'commandTimeout' must be a whole number of ms from 1 to ${2 ** 31 - 1}, not ${String(value)}`);
  }
  return value;
}

/** A connection: to one Redis, or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** The nodes of a Redis Cluster to start from (any reachable one tells the others). */
export type ClusterNodes = readonly { host: string; port: number }[];

/** Whether an error comes from the connection (as opposed to a Redis reply error). */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof LayerUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  if (error.name === 'ReplyError') return /LOADING|READONLY|MASTERDOWN|BUSY|CLUSTERDOWN|TRYAGAIN/.test(error.message);
  return true;
}

/** A Redis command failure, as the layer's typed error (reply errors pass through unchanged). */
export function toLayerError(error: unknown, host: string): unknown {
  if (error instanceof LayerUnavailableError || !isConnectionError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new LayerUnavailableError(`Redis at ${host} is unavailable: ${reason}`, { cause: error });
}

/** A Lua script run by SHA with a fallback to its source. */
export class LuaScript {
  readonly source: string;
  readonly sha: string;
  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }
  async run(client: RedisClient, keys: readonly (string | Buffer)[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return client.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

/** A `BZPOPMIN` reply: the key, the member and its score. */
export type PoppedMember = [key: Buffer, member: Buffer, score: Buffer];

/** Options of {@link Shard}. */
export interface ShardOptions {
  /** Ms to wait for the first connection before commands fail. */
  connectTimeout: number;
  /** Ms a command run by {@link Shard.run} may go unanswered before it fails (see {@link commandTimeoutOf}). */
  commandTimeout?: number;
  logger: LayerLogger;
  /** Called when the command connection goes down / comes back (after having been up). */
  onDown?: () => void;
  onUp?: () => void;
  /** The nodes of a Redis Cluster: the shard is that cluster (`options` then give only credentials and TLS). */
  cluster?: ClusterNodes;
}

/**
 * One Redis host: a command connection and blocking connections.
 *
 * @example
 * ```ts
 * import { defaultLogger } from './log.js';
 * import { Shard } from './connection.js';
 *
 * const shard = new Shard({ host: '127.0.0.1', port: 6379 }, { connectTimeout: 2000, logger: defaultLogger });
 * await shard.run((redis) => redis.ping());
 * ```
 */
export class Shard {
  readonly options: RedisOptions;
  readonly label: string;
  readonly #shardOptions: ShardOptions;
  readonly #commandTimeout: number;
  /** Connection errors by role: the first logged, then a summary a minute while Redis stays away. */
  readonly #errors = new Map<string, RepeatedErrorLog>();
  #commands: RedisClient | null = null;
  /** The wait for the command connection while it connects, shared by the commands issued meanwhile. */
  #commandsReady: Promise<void> | null = null;
  #idleBlocking: RedisClient[] = [];
  #allBlocking = new Set<RedisClient>();
  #closed = false;

  constructor(options: RedisOptions, shardOptions: ShardOptions) {
    this.options = options;
    this.label = shardOptions.cluster !== undefined
      ? `cluster:${shardOptions.cluster.map((node) => `${node.host}:${node.port}`).join(',')}`
      : options.sentinels !== undefined
        ? `sentinel:${options.name ?? 'mymaster'}/${options.db ?? 0}`
        : `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}/${options.db ?? 0}`;
    this.#shardOptions = shardOptions;
    this.#commandTimeout = commandTimeoutOf(shardOptions.commandTimeout);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this shard is a Redis Cluster. */
  get cluster(): boolean {
    return this.#shardOptions.cluster !== undefined;
  }

  /**
   * Creates a connection with the layer's reconnect policy. `hooks` fire when
   * the connection goes down after having been up, and when it is back.
   */
  createConnection(role: string, hooks: { onDown?: () => void; onUp?: () => void } = {}): RedisClient {
    const common = {
      connectionName: this.options.connectionName ?? `switchyard-${role}`,
      // A command cut off by a disconnect fails (LayerUnavailableError) and is never resent:
      // a resent send could store a message twice after its receiver popped the first copy.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: this.#shardOptions.connectTimeout,
    };
    const nodes = this.#shardOptions.cluster;
    const client: RedisClient = nodes !== undefined
      ? new Cluster(nodes.map((node) => ({ host: node.host, port: node.port })), {
        redisOptions: { ...clusterCredentials(this.options), ...common },
        enableOfflineQueue: true,
        clusterRetryStrategy: (attempt: number) => backoffDelay(attempt),
        // 0: a command on a connection that closed is not resent (it may have run).
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        slotsRefreshInterval: 1000,
        shardedSubscribers: role === 'subscriber',
      })
      : new Redis({
        ...this.options,
        ...common,
        enableOfflineQueue: true,
        retryStrategy: (attempt: number) => backoffDelay(attempt),
      });
    let wasUp = false;
    let up = false;
    let errors = this.#errors.get(role);
    if (errors === undefined) {
      errors = new RepeatedErrorLog(() => this.#shardOptions.logger, `Redis connection error (${this.label})`, 60_000, 'warn');
      this.#errors.set(role, errors);
    }
    const roleErrors = errors;
    client.on('error', (error: Error) => roleErrors.failed(error, { host: this.label, role }, 'reconnecting with backoff'));
    client.on('ready', () => {
      roleErrors.recovered({ host: this.label, role });
      if (up) return;
      up = true;
      if (wasUp && !this.#closed) hooks.onUp?.();
      wasUp = true;
    });
    client.on('close', () => {
      if (!up) return;
      up = false;
      if (!this.#closed) hooks.onDown?.();
    });
    return client;
  }

  /** The command connection, ready; throws `LayerUnavailableError` while Redis is away. */
  async commands(): Promise<RedisClient> {
    if (this.#closed) throw new LayerUnavailableError('The Redis channel layer is closed');
    const client = (this.#commands ??= this.createConnection('commands', { onDown: this.#shardOptions.onDown, onUp: this.#shardOptions.onUp }));
    // One wait shared by every command issued while connecting (one listener, not one per command).
    if (client.status !== 'ready') {
      await (this.#commandsReady ??= this.waitReady(client, this.#shardOptions.connectTimeout, true).finally(() => { this.#commandsReady = null; }));
    }
    return client;
  }

  /** Runs commands on the command connection, mapping connection failures to `LayerUnavailableError`. */
  async run<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = await this.commands();
    try {
      return await this.#answered(fn(client));
    } catch (error) {
      throw toLayerError(error, this.label);
    }
  }

  /**
   * A command waits for its answer with no time limit of its own: on a Redis
   * that froze (its connection still open), or in a cluster client's offline
   * queue while its topology is refreshed after a failover. Bounded here
   * (`commandTimeout`), so that a send, a flush or the lease release of
   * `close()` fails out loud instead of hanging, and keeping the process alive.
   */
  #answered<T>(pending: Promise<T>): Promise<T> {
    const ms = this.#commandTimeout;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LayerUnavailableError(`Redis at ${this.label} is unavailable: no answer within ${ms} ms`)), ms);
      pending.then((value) => {
        clearTimeout(timer);
        resolve(value);
      }, (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /**
   * Waits until a connection is ready. With `failFast`, a connection that was
   * up before and is now reconnecting fails at once.
   */
  waitReady(client: RedisClient, timeoutMs: number, failFast = false, signal?: AbortSignal): Promise<void> {
    if (client.status === 'ready') return Promise.resolve();
    const unavailable = (why: string) => new LayerUnavailableError(`Redis at ${this.label} is unavailable: ${why}`);
    if (this.#closed || client.status === 'end') return Promise.reject(unavailable('connection closed'));
    if (failFast && (client.status === 'reconnecting' || client.status === 'close')) {
      return Promise.reject(unavailable('reconnecting'));
    }
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onReady = () => done();
      const onEnd = () => done(unavailable('connection closed'));
      const onAbort = () => done(signal!.reason as Error);
      const timer = setTimeout(() => done(unavailable(`not connected within ${timeoutMs} ms`)), timeoutMs);
      client.on('ready', onReady);
      client.on('end', onEnd);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** A blocking connection for `BZPOPMIN` (give it back with {@link releaseBlocking}). */
  acquireBlocking(): RedisClient {
    if (this.#closed) throw new LayerUnavailableError('The Redis channel layer is closed');
    const client = this.#idleBlocking.pop() ?? this.createConnection('blocking');
    this.#allBlocking.add(client);
    return client;
  }

  /** Returns a blocking connection to the pool (a few are kept idle, the rest closed). */
  releaseBlocking(client: RedisClient): void {
    if (this.#idleBlocking.includes(client)) return;
    if (this.#closed || client.status === 'end' || this.#idleBlocking.length >= 4) {
      this.#allBlocking.delete(client);
      client.disconnect();
      return;
    }
    this.#idleBlocking.push(client);
  }

  /**
   * One `BZPOPMIN key timeout` on a pooled blocking connection: the popped
   * member, or null on timeout. When `signal` fires first it rejects at once
   * with the signal's reason, and a member the pop still returns is put back
   * with its score, so an aborted receive loses nothing.
   */
  async popMin(key: string, timeoutSeconds: number, signal?: AbortSignal): Promise<PoppedMember | null> {
    const client = this.acquireBlocking();
    try {
      if (client.status !== 'ready') await this.waitReady(client, 5000, false, signal);
    } catch (error) {
      this.releaseBlocking(client);
      throw error;
    }
    const pop = client.bzpopminBuffer(key, timeoutSeconds) as Promise<PoppedMember | null>;
    if (signal === undefined) {
      return pop.finally(() => this.releaseBlocking(client));
    }
    return new Promise<PoppedMember | null>((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason);
        pop.then(async (late) => {
          if (late !== null) {
            await this.run((redis) => redis.zadd(key, late[2].toString(), late[1])).catch((error: unknown) => {
              this.#shardOptions.logger.warn({ err: error, key }, 'Could not put back a message popped by an aborted receive');
            });
          }
        }, () => {}).finally(() => this.releaseBlocking(client));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      // Once aborted, the abort path owns the connection (and the late reply).
      pop.then(
        (value) => {
          if (signal.aborted) return;
          signal.removeEventListener('abort', onAbort);
          this.releaseBlocking(client);
          resolve(value);
        },
        (error: unknown) => {
          if (signal.aborted) return;
          signal.removeEventListener('abort', onAbort);
          this.releaseBlocking(client);
          reject(error);
        },
      );
    });
  }

  /** The master nodes of a cluster (each with its own connection), or the command connection of one Redis. */
  async masters(): Promise<Redis[]> {
    const client = await this.commands();
    return client instanceof Cluster ? client.nodes('master') : [client];
  }

  /** Closes every connection; pending commands fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#commands?.disconnect();
    for (const client of this.#allBlocking) client.disconnect();
    this.#allBlocking.clear();
    this.#idleBlocking = [];
  }
}

/** What a cluster's node connections take from the shard's options: credentials and TLS. */
function clusterCredentials(options: RedisOptions): RedisOptions {
  const out: RedisOptions = {};
  if (options.username !== undefined) out.username = options.username;
  if (options.password !== undefined) out.password = options.password;
  if (options.tls !== undefined) out.tls = options.tls;
  return out;
}
