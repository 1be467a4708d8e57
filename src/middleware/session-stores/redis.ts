/**
 * `RedisSessionStore`: sessions in Redis, shared by every process.
 *
 * Each session is one string key `<prefix><token>` holding JSON, with a TTL
 * of the session's age, so Redis expires it by itself. A new session is
 * written with `SET NX` (a key collision picks another key), an update with
 * `SET XX` (a session deleted meanwhile is a `SessionUpdateError`, never a
 * silent resurrection).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { SessionUpdateError } from '../../errors.js';
import { newSessionKey, type SessionData, type SessionStore } from './base.js';

/** Options of a {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** A connected ioredis client to use (not closed by `close()`). */
  client?: Redis;
  /** Or a URL to connect to. Default `redis://127.0.0.1:6379/0`. */
  url?: string;
  /** Extra ioredis options with `url`. */
  redisOptions?: RedisOptions;
  /** Key prefix. Default `switchyard:session:`. */
  prefix?: string;
}

/**
 * Sessions in Redis.
 *
 * @example
 * ```ts
 * import { RedisSessionStore } from 'switchyard/middleware';
 *
 * const store = new RedisSessionStore({ url: 'redis://127.0.0.1:6379/0', prefix: 'chat:session:' });
 * ```
 */
export class RedisSessionStore implements SessionStore {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;

  constructor(options: RedisSessionStoreOptions = {}) {
    this.#prefix = options.prefix ?? 'switchyard:session:';
    if (options.client) {
      this.#redis = options.client;
      this.#owned = false;
    } else {
      this.#redis = new Redis(options.url ?? 'redis://127.0.0.1:6379/0', { lazyConnect: false, ...options.redisOptions });
      this.#owned = true;
    }
  }

  async load(token: string): Promise<SessionData | null> {
    const json = await this.#redis.get(this.#prefix + token);
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
      const ok = await this.#redis.set(this.#prefix + token, json, 'EX', ttl, 'XX');
      if (ok === null) throw new SessionUpdateError();
      return token;
    }
    for (;;) {
      const key = newSessionKey();
      if (await this.#redis.set(this.#prefix + key, json, 'EX', ttl, 'NX') !== null) return key;
    }
  }

  async destroy(token: string): Promise<void> {
    await this.#redis.del(this.#prefix + token);
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
