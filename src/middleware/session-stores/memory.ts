/**
 * `MemorySessionStore`: sessions in this process's memory (the default).
 *
 * Data is kept as JSON text, so what a caller gets is always a fresh copy
 * and what cannot be serialised fails at save time, as with the other
 * stores. Expired entries are dropped when read and by a sweep on writes.
 * Sessions do not survive a restart and are not shared between processes:
 * use `RedisSessionStore` for several processes.
 */
import { SessionUpdateError } from '../../errors.js';
import { newSessionKey, type SessionData, type SessionStore } from './base.js';

interface Entry { json: string; expiresAt: number }

/**
 * Sessions in a `Map`.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { MemorySessionStore, SessionMiddlewareStack } from 'switchyard/middleware';
 *
 * declare const inner: Application;
 * const app = SessionMiddlewareStack(inner, { store: new MemorySessionStore(), secrets: [process.env.SECRET!] });
 * ```
 */
export class MemorySessionStore implements SessionStore {
  readonly #entries = new Map<string, Entry>();
  #writes = 0;

  /** Sessions currently kept (expired ones included until swept). */
  get size(): number {
    return this.#entries.size;
  }

  async load(token: string): Promise<SessionData | null> {
    const entry = this.#entries.get(token);
    if (entry === undefined) return null;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(token);
      return null;
    }
    return JSON.parse(entry.json) as SessionData;
  }

  async save(token: string | null, data: SessionData, maxAge: number): Promise<string> {
    const json = JSON.stringify(data);
    if (token !== null) {
      const entry = this.#entries.get(token);
      if (entry === undefined || entry.expiresAt <= Date.now()) throw new SessionUpdateError();
    } else {
      do token = newSessionKey(); while (this.#entries.has(token));
    }
    this.#entries.set(token, { json, expiresAt: Date.now() + maxAge * 1000 });
    if (++this.#writes % 1000 === 0) this.#sweep();
    return token;
  }

  async destroy(token: string): Promise<void> {
    this.#entries.delete(token);
  }

  async close(): Promise<void> {
    this.#entries.clear();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [token, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(token);
  }
}
