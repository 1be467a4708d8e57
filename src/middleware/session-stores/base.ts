/**
 * The contract every session store implements, and the key generator they share.
 *
 * A store keeps session data under a *token*: the value the session cookie
 * carries (inside a signature added by the session layer, never by the
 * store). For server-side stores (memory, Redis) the token is a random key;
 * for the signed-cookie store it is the encoded data itself. Every store
 * passes the same conformance suite (`test/middleware/session-stores.test.ts`).
 */
import { randomBytes } from 'node:crypto';

/** What a session holds: JSON-serialisable values by key. */
export type SessionData = Record<string, unknown>;

/**
 * A place to keep sessions.
 *
 * @example
 * ```ts
 * import { MemorySessionStore, type SessionStore } from 'switchyard/middleware';
 *
 * const store: SessionStore = new MemorySessionStore();
 * const token = await store.save(null, { cart: [1, 2] }, 3600);
 * await store.load(token); // { cart: [1, 2] }
 * ```
 */
export interface SessionStore {
  /** The data kept under `token`, or `null` when unknown, expired or unreadable. */
  load(token: string): Promise<SessionData | null>;
  /**
   * Stores `data` for `maxAge` seconds and returns the token to put in the
   * cookie: a new one when `token` is `null`. Updating a token the store no
   * longer has throws `SessionUpdateError` (the session was deleted meanwhile,
   * for example by a logout elsewhere).
   */
  save(token: string | null, data: SessionData, maxAge: number): Promise<string>;
  /** Forgets `token` (a no-op when unknown). */
  destroy(token: string): Promise<void>;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}

/**
 * A new random session key: 32 characters of base64url (192 bits).
 *
 * @example
 * ```ts
 * import { newSessionKey } from 'switchyard/middleware';
 *
 * newSessionKey(); // 'q0Jx…' (32 characters)
 * ```
 */
export function newSessionKey(): string {
  return randomBytes(24).toString('base64url');
}
