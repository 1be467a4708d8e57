/**
 * Django's session backends as read-only Switchyard session stores:
 * `db` / `cached_db` (the `django_session` table) and `signed_cookies`.
 *
 * How it works. The token a store receives is the raw `sessionid` cookie.
 * For `db` it is the session key: the row must exist and its `expire_date`
 * be in the future (Django's own test); `session_data` is then
 * `signing.loads(..., salt="django.contrib.sessions.SessionStore")`, with no
 * age limit (the row's date is the limit). `cached_db` reads the same rows:
 * Django writes the database first and the cache second, so the database is
 * never behind. For `signed_cookies` the cookie is the data, signed with the
 * salt `django.contrib.sessions.backends.signed_cookies` and no older than
 * `SESSION_COOKIE_AGE` (Django ignores a custom `set_expiry()` there too).
 * Anything wrong (unknown key, expired, tampered, signed by a foreign key,
 * not a JSON object) loads as `null`: a new, empty session. Pickled data is
 * refused the same way, with a warning saying why. `save()` throws
 * {@link DjangoReadOnlyError}; `destroy()` does nothing (Django deletes its
 * own rows), so `session.flush()` forgets the session on this connection only.
 */
import { logger } from '../log.js';
import type { SessionData, SessionStore } from '../middleware/index.js';
import type { DjangoDatabase } from './database.js';
import { BadSignature, DjangoReadOnlyError, PickledDataRefused } from './errors.js';
import { loads } from './signing.js';

/**
 * The salt of `db` and `cached_db` session data: `django.contrib.sessions.` + the store class's `__qualname__`.
 *
 * @example
 * ```ts
 * import { DB_SESSION_SALT, loads } from 'switchyard/django';
 *
 * declare const sessionData: string; // a django_session.session_data value
 * declare const SECRET_KEY: string;
 * loads(sessionData, { key: SECRET_KEY, salt: DB_SESSION_SALT });
 * ```
 */
export const DB_SESSION_SALT = 'django.contrib.sessions.SessionStore';
/**
 * The salt of `signed_cookies` sessions.
 *
 * @example
 * ```ts
 * import { SIGNED_COOKIES_SALT, loads } from 'switchyard/django';
 *
 * declare const sessionid: string; // a signed_cookies session cookie
 * declare const SECRET_KEY: string;
 * loads(sessionid, { key: SECRET_KEY, salt: SIGNED_COOKIES_SALT }, { maxAge: 1209600 });
 * ```
 */
export const SIGNED_COOKIES_SALT = 'django.contrib.sessions.backends.signed_cookies';

/**
 * The secrets and ages both stores need.
 *
 * @example
 * ```ts
 * import type { DjangoSigningSettings } from 'switchyard/django';
 *
 * const secrets: DjangoSigningSettings = { secretKey: 'new-key', secretKeyFallbacks: ['old-key'] };
 * ```
 */
export interface DjangoSigningSettings {
  /** `SECRET_KEY`. */
  secretKey: string;
  /** `SECRET_KEY_FALLBACKS` (Django ≥ 4.1): still verify, never sign. Default none. */
  secretKeyFallbacks?: readonly string[];
}

function asSessionData(value: unknown): SessionData | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as SessionData) : null;
}

function decode(token: string, settings: DjangoSigningSettings, salt: string, maxAge: number | null, where: string): SessionData | null {
  try {
    return asSessionData(loads(token, { key: settings.secretKey, fallbackKeys: settings.secretKeyFallbacks, salt }, { maxAge }));
  } catch (error) {
    if (error instanceof PickledDataRefused) {
      logger.warn({ code: error.code }, `${where}: ${error.message}`);
      return null;
    }
    if (error instanceof BadSignature) return null;
    throw error;
  }
}

/**
 * Options of {@link DjangoDbSessionStore}.
 *
 * @example
 * ```ts
 * import { type DjangoDbSessionStoreOptions, DjangoDbSessionStore, sqliteDatabase } from 'switchyard/django';
 *
 * const options: DjangoDbSessionStoreOptions = { secretKey: 'k', database: sqliteDatabase('db.sqlite3'), table: 'django_session' };
 * const store = new DjangoDbSessionStore(options);
 * ```
 */
export interface DjangoDbSessionStoreOptions extends DjangoSigningSettings {
  database: DjangoDatabase;
  /** Default `django_session`. */
  table?: string;
  /** The salt of `session_data`; change it only for a custom `SessionStore` class. Default {@link DB_SESSION_SALT}. */
  salt?: string;
}

/**
 * Sessions in Django's `django_session` table (`SESSION_ENGINE` `db` or `cached_db`).
 *
 * @example
 * ```ts
 * import { DjangoDbSessionStore, postgresDatabase } from 'switchyard/django';
 *
 * declare const sessionid: string; // the cookie's value
 * const store = new DjangoDbSessionStore({ database: postgresDatabase(process.env.DJANGO_DATABASE_URL!), secretKey: process.env.DJANGO_SECRET_KEY! });
 * await store.load(sessionid); // the session's data, or null
 * ```
 */
export class DjangoDbSessionStore implements SessionStore {
  readonly #options: DjangoDbSessionStoreOptions;
  readonly #sql: string;

  constructor(options: DjangoDbSessionStoreOptions) {
    this.#options = options;
    const table = options.table ?? 'django_session';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new TypeError(`Invalid table name: ${table}`);
    this.#sql = `SELECT session_data, ${options.database.epochSql('expire_date')} AS expire_epoch FROM ${table} WHERE session_key = ?`;
  }

  /** The data of session `key`, or `null` (unknown, expired, corrupted, pickled). Throws `DjangoDatabaseError` when the database fails. */
  async load(key: string): Promise<SessionData | null> {
    // Django's keys are 32 characters of [a-z0-9]; it accepts 8 and more; the column holds 40.
    if (key.length < 8 || key.length > 40) return null;
    const [row] = await this.#options.database.query(this.#sql, [key]);
    if (row === undefined || !(Number(row.expire_epoch) > Date.now() / 1000)) return null;
    const data = row.session_data;
    if (typeof data !== 'string') return null;
    return decode(data, this.#options, this.#options.salt ?? DB_SESSION_SALT, null, `session ${key.slice(0, 4)}…`);
  }

  async save(): Promise<string> {
    throw new DjangoReadOnlyError('session.save()');
  }

  async destroy(): Promise<void> {}
}

/**
 * Options of {@link DjangoSignedCookieSessionStore}.
 *
 * @example
 * ```ts
 * import { type DjangoSignedCookieSessionStoreOptions, DjangoSignedCookieSessionStore } from 'switchyard/django';
 *
 * const options: DjangoSignedCookieSessionStoreOptions = { secretKey: 'k', cookieAge: 3600 };
 * const store = new DjangoSignedCookieSessionStore(options);
 * ```
 */
export interface DjangoSignedCookieSessionStoreOptions extends DjangoSigningSettings {
  /** `SESSION_COOKIE_AGE`, seconds. Default 1209600 (two weeks). */
  cookieAge?: number;
}

/**
 * Sessions carried in the cookie itself (`SESSION_ENGINE` `signed_cookies`).
 *
 * @example
 * ```ts
 * import { DjangoSignedCookieSessionStore } from 'switchyard/django';
 *
 * const store = new DjangoSignedCookieSessionStore({
 *   secretKey: process.env.DJANGO_SECRET_KEY!,
 *   secretKeyFallbacks: process.env.DJANGO_SECRET_KEY_FALLBACKS?.split(',') ?? [],
 *   cookieAge: 1209600,
 * });
 * ```
 */
export class DjangoSignedCookieSessionStore implements SessionStore {
  readonly #options: DjangoSignedCookieSessionStoreOptions;

  constructor(options: DjangoSignedCookieSessionStoreOptions) {
    this.#options = options;
  }

  /** The data of a `sessionid` cookie, or `null` (tampered, foreign key, older than the cookie age, pickled). */
  async load(cookie: string): Promise<SessionData | null> {
    return decode(cookie, this.#options, SIGNED_COOKIES_SALT, this.#options.cookieAge ?? 1209600, 'signed-cookie session');
  }

  async save(): Promise<string> {
    throw new DjangoReadOnlyError('session.save()');
  }

  async destroy(): Promise<void> {}
}
