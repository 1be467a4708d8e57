/**
 * One connection's session: its data, loaded lazily from a store, and what
 * Django's session offers on it (`get`/`set`, `flush` on logout, `cycleKey`
 * on login, `save`). It knows nothing of cookies or of the ASGI middleware
 * (`sessions.ts` turns cookies into sessions and saves them on the response),
 * so a store, a test or the Node middleware can use it alone.
 */
import type { SessionData, SessionStore } from './session-stores/base.js';

/**
 * One connection's session. Reads are async because the data is loaded from
 * the store on first use.
 *
 * @example
 * ```ts
 * import { WebsocketConsumer } from 'switchyard';
 * import { getSession } from 'switchyard/middleware';
 *
 * class Visits extends WebsocketConsumer {
 *   override async connect() {
 *     const session = getSession(this.scope);
 *     const visits = ((await session.get<number>('visits')) ?? 0) + 1;
 *     await session.set('visits', visits);
 *     await session.save(); // WebSocket: explicit
 *     await this.accept();
 *   }
 * }
 * ```
 */
export class Session {
  readonly #store: SessionStore;
  readonly #maxAge: number;
  #token: string | null;
  #data: SessionData | null = null;
  #loading: Promise<SessionData> | null = null;
  /** True once something was changed since the last save. */
  modified = false;
  /** True once the data was read. */
  accessed = false;

  constructor(store: SessionStore, token: string | null, maxAge: number) {
    this.#store = store;
    this.#token = token;
    this.#maxAge = maxAge;
  }

  /** The store's token for this session (`null` for a session not saved yet). */
  get sessionKey(): string | null {
    return this.#token;
  }

  /**
   * Loads the data (once); an unknown or expired token becomes a new, empty
   * session. A store that fails (unavailable) is asked again next time.
   */
  async load(): Promise<SessionData> {
    this.accessed = true;
    if (this.#data !== null) return this.#data;
    // A session with no token has nothing to load; one that has is loaded once, and the
    // promise is let go once the data is here (a session lives as long as its connection).
    if (this.#token === null) return (this.#data = {});
    this.#loading ??= (async () => {
      const data = await this.#store.load(this.#token!);
      if (data === null) this.#token = null;
      this.#data = data ?? {};
      this.#loading = null;
      return this.#data;
    })().catch((error: unknown) => {
      this.#loading = null;
      throw error;
    });
    return this.#loading;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const data = await this.load();
    return Object.hasOwn(data, key) ? (data[key] as T) : undefined;
  }

  async has(key: string): Promise<boolean> {
    return Object.hasOwn(await this.load(), key);
  }

  async keys(): Promise<string[]> {
    return Object.keys(await this.load());
  }

  async set(key: string, value: unknown): Promise<void> {
    const data = await this.load();
    data[key] = value;
    this.modified = true;
  }

  /** Removes `key` and returns its value (Django's `pop`). */
  async delete<T = unknown>(key: string): Promise<T | undefined> {
    const data = await this.load();
    if (!Object.hasOwn(data, key)) return undefined;
    const value = data[key] as T;
    delete data[key];
    this.modified = true;
    return value;
  }

  /** Removes every key (the token stays). */
  async clear(): Promise<void> {
    await this.load();
    this.#data = {};
    this.modified = true;
  }

  /** True when there is nothing to keep: no data loaded and no token, or loaded data with no keys. */
  isEmpty(): boolean {
    return this.#data === null ? this.#token === null : Object.keys(this.#data).length === 0;
  }

  /** Deletes the session from the store and starts a new empty one (logout). */
  async flush(): Promise<void> {
    await this.load();
    this.#data = {};
    this.modified = true;
    const old = this.#token;
    this.#token = null;
    if (old !== null) await this.#store.destroy(old);
  }

  /** Keeps the data under a new token (against session fixation, on login). */
  async cycleKey(): Promise<void> {
    await this.load();
    const old = this.#token;
    this.#token = null;
    this.modified = true;
    if (old !== null) await this.#store.destroy(old);
  }

  /**
   * Writes the session to the store (an empty session is deleted instead).
   * Throws `SessionUpdateError` when the session was deleted meanwhile.
   */
  async save(): Promise<void> {
    const data = await this.load();
    if (Object.keys(data).length === 0) {
      if (this.#token !== null) await this.#store.destroy(this.#token);
      this.#token = null;
    } else {
      this.#token = await this.#store.save(this.#token, data, this.#maxAge);
    }
    this.modified = false;
  }
}
