/**
 * `RedisSessionStore`: sessions in Redis, shared by every process.
 *
 * Each session is one string key `<prefix><token>` holding JSON, with a TTL
 * of the session's age, so Redis expires it by itself. A new session is
 * written with `SET NX` (a key collision picks another key), an update with
 * `SET XX` (a session deleted meanwhile is a `SessionUpdateError`, never a
 * silent resurrection).
 *
 * Redis away. Every call fails within `timeout` ms (default 1000) with a
 * {@link SessionStoreUnavailableError}, which the session middleware answers
 * with 503: a request never hangs on a Redis that is down. A command is sent
 * only on a ready connection (never queued while Redis is away, so a call
 * that already failed cannot run later and overwrite newer data), and once
 * Redis has been away for `timeout` ms calls fail at once instead of waiting
 * each time. The client this store creates has an `error` listener (ioredis
 * otherwise prints "Unhandled error event" on every reconnect attempt); it
 * keeps the last error, which the failures name. ioredis reconnects by
 * itself.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { SessionStoreUnavailableError, SessionUpdateError } from '../../errors.js';
import { newSessionKey, type SessionData, type SessionStore } from './base.js';

/** Options of a {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /**
   * A connected ioredis client to use (not closed by `close()`). Its error
   * handling stays yours: give it an `error` listener.
   */
  client?: Redis;
  /** Or a URL to connect to. Default `redis://127.0.0.1:6379/0`. */
  url?: string;
  /** Extra ioredis options with `url`. */
  redisOptions?: RedisOptions;
  /** Key prefix. Default `switchyard:session:`. */
  prefix?: string;
  /** Ms a call may take, waiting for the connection included, before it fails with `SessionStoreUnavailableError`. Default 1000. */
  timeout?: number;
}

/**
 * Sessions in Redis.
 *
 * @example
 * ```ts
 * import { RedisSessionStore } from 'switchyard/middleware';
 *
 * const store = new RedisSessionStore({ url: 'redis://127.0.0.1:6379/0', prefix: 'chat:session:', timeout: 1000 });
 * ```
 */
export class RedisSessionStore implements SessionStore {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #label: string;
  /** When the connection was last seen going away (null while it is up or was never tried). */
  #downSince: number | null = null;
  #lastError: Error | null = null;

  constructor(options: RedisSessionStoreOptions = {}) {
    this.#prefix = options.prefix ?? 'switchyard:session:';
    this.#timeout = options.timeout ?? 1000;
    if (options.client) {
      this.#redis = options.client;
      this.#owned = false;
    } else {
      this.#redis = new Redis(options.url ?? 'redis://127.0.0.1:6379/0', {
        lazyConnect: false,
        // A command cut off by a disconnect fails at once and is never resent: its caller
        // has had its answer (503), and a late `SET XX` could overwrite newer data.
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        ...options.redisOptions,
      });
      this.#owned = true;
      // Without a listener ioredis prints "Unhandled error event" on every reconnect attempt.
      this.#redis.on('error', (error: Error) => {
        this.#lastError = error;
        this.#downSince ??= Date.now();
      });
    }
    const { host = '127.0.0.1', port = 6379, db = 0 } = this.#redis.options;
    this.#label = `${host}:${port}/${db}`;
    this.#redis.on('close', () => { this.#downSince ??= Date.now(); });
    this.#redis.on('ready', () => {
      this.#downSince = null;
      this.#lastError = null;
    });
  }

  async load(token: string): Promise<SessionData | null> {
    const json = await this.#run((redis) => redis.get(this.#prefix + token));
    if (json === null) return null;
    try {
      return JSON.parse(json) as SessionData;
    } catch {
      return null;
    }
  }

  async save(token: string | null, data: SessionData, maxAge: number): Promise<string> {
    const json = JSON.stringify(data);
    const ttl = Math.max(1, Math.ceil(maxAge));
    if (token !== null) {
      const ok = await this.#run((redis) => redis.set(this.#prefix + token, json, 'EX', ttl, 'XX'));
      if (ok === null) throw new SessionUpdateError();
      return token;
    }
    for (;;) {
      const key = newSessionKey();
      if (await this.#run((redis) => redis.set(this.#prefix + key, json, 'EX', ttl, 'NX')) !== null) return key;
    }
  }

  async destroy(token: string): Promise<void> {
    await this.#run((redis) => redis.del(this.#prefix + token));
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /** Runs a command once the connection is ready, all within `timeout`; Redis away is a {@link SessionStoreUnavailableError}. */
  async #run<T>(command: (redis: Redis) => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      await this.#ready();
      return await this.#within(command(this.#redis), this.#timeout - (Date.now() - started));
    } catch (error) {
      // A reply error (WRONGTYPE...) is Redis answering: not an outage.
      if (error instanceof SessionStoreUnavailableError || (error instanceof Error && error.name === 'ReplyError')) throw error;
      throw this.#unavailable(error instanceof Error ? error.message : String(error), error);
    }
  }

  /** Resolves once the connection is ready; fails at once when it is closed or has been away for `timeout` ms. */
  #ready(): Promise<void> {
    const redis = this.#redis;
    if (redis.status === 'ready') return Promise.resolve();
    if (redis.status === 'end') return Promise.reject(this.#unavailable('the connection is closed'));
    if (this.#downSince !== null && Date.now() - this.#downSince >= this.#timeout) {
      return Promise.reject(this.#unavailable(this.#lastError?.message ?? 'reconnecting'));
    }
    // lazyConnect: the first call connects (a refusal reaches the error listener; the wait is bounded below).
    if (redis.status === 'wait') redis.connect().catch(() => {});
    let onReady!: () => void;
    const ready = new Promise<void>((resolve) => redis.once('ready', (onReady = resolve)));
    return this.#within(ready, this.#timeout).finally(() => redis.off('ready', onReady));
  }

  /** `promise`, or a {@link SessionStoreUnavailableError} after `ms`. */
  #within<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#unavailable(this.#lastError?.message ?? `no answer within ${this.#timeout} ms`)), Math.max(0, ms));
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  #unavailable(why: string, cause?: unknown): SessionStoreUnavailableError {
    return new SessionStoreUnavailableError(`Redis session store at ${this.#label} is unavailable: ${why}`, { cause: cause ?? this.#lastError ?? undefined });
  }
}
