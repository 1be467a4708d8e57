/**
 * `DjangoSite`: the few Django settings Switchyard needs to read a Django
 * site's sessions and users, and the database they live in.
 *
 * Each option is named after its Django setting (`SECRET_KEY` →
 * `secretKey`) and has Django's default, so copying the values out of
 * `settings.py` is all the configuration there is.
 */
import { Session, type SessionStore } from '../middleware/index.js';
import { type DjangoDatabase, databaseFromUrl } from './database.js';
import { DjangoDbSessionStore, DjangoSignedCookieSessionStore } from './session-store.js';
import { type DjangoUserTables, DjangoUsers } from './users.js';
import type { SqlValue } from './database.js';

/**
 * Django's `SESSION_ENGINE`, short (`db`) or dotted (`django.contrib.sessions.backends.db`).
 *
 * @example
 * ```ts
 * import { type DjangoSessionEngine, DjangoSite } from 'switchyard/django';
 *
 * const engine: DjangoSessionEngine = 'django.contrib.sessions.backends.signed_cookies';
 * new DjangoSite({ secretKey: 'k', sessionEngine: engine, database: 'sqlite:///srv/mysite/db.sqlite3' });
 * ```
 */
export type DjangoSessionEngine = 'db' | 'cached_db' | 'signed_cookies' | `django.contrib.sessions.backends.${'db' | 'cached_db' | 'signed_cookies'}`;

/**
 * Settings of a {@link DjangoSite}, with Django's defaults.
 *
 * @example
 * ```ts
 * import { type DjangoSiteOptions, DjangoSite } from 'switchyard/django';
 *
 * const options: DjangoSiteOptions = {
 *   secretKey: 'from settings.SECRET_KEY',
 *   sessionEngine: 'cached_db',
 *   database: 'postgres://django@127.0.0.1:5432/mysite',
 *   sessionCookieName: 'mysite_session',
 *   tables: { users: 'accounts_user', userGroups: 'accounts_user_groups' },
 * };
 * const site = new DjangoSite(options);
 * ```
 */
export interface DjangoSiteOptions {
  /** `SECRET_KEY`. Required. */
  secretKey: string;
  /** `SECRET_KEY_FALLBACKS` (Django ≥ 4.1): old keys that still verify. Default none. */
  secretKeyFallbacks?: readonly string[];
  /** `SESSION_ENGINE`. Default `db`. `cache` and `file` sessions are not readable from here. */
  sessionEngine?: DjangoSessionEngine;
  /** Django's default database: a {@link DjangoDatabase}, or a `postgres://` / `sqlite:///` URL. Required (users live there). */
  database: DjangoDatabase | string;
  /** `SESSION_COOKIE_NAME`. Default `sessionid`. */
  sessionCookieName?: string;
  /** `SESSION_COOKIE_AGE`, seconds (bounds `signed_cookies` sessions). Default 1209600. */
  sessionCookieAge?: number;
  /** `AUTHENTICATION_BACKENDS`: a session signed in through another backend is anonymous. Default `['django.contrib.auth.backends.ModelBackend']`. */
  authenticationBackends?: readonly string[];
  /** Table names, for a custom user model (`AUTH_USER_MODEL`) with `AbstractUser`'s columns, or a renamed session table. */
  tables?: DjangoUserTables & { sessions?: string };
  /** `_auth_user_id` → primary key; default integers (see {@link DjangoUsersOptions.parseId}). */
  parseUserId?: (raw: string) => SqlValue | null;
}

const ENGINES = new Set(['db', 'cached_db', 'signed_cookies']);

/**
 * A Django site, as Switchyard reads it. One per process; share it between
 * middleware stacks, and `close()` it on shutdown.
 *
 * @example
 * ```ts
 * import { type Route, URLRouter } from 'switchyard';
 *
 * declare const routes: Route[]; import { DjangoAuthMiddlewareStack, DjangoSite } from 'switchyard/django';
 *
 * const site = new DjangoSite({
 *   secretKey: process.env.DJANGO_SECRET_KEY!,
 *   secretKeyFallbacks: process.env.DJANGO_SECRET_KEY_FALLBACKS?.split(',') ?? [],
 *   sessionEngine: 'db',
 *   database: 'postgres://django@127.0.0.1:5432/mysite',
 * });
 * const app = DjangoAuthMiddlewareStack(URLRouter(routes), site);
 * ```
 */
export class DjangoSite {
  readonly secretKey: string;
  readonly secretKeyFallbacks: readonly string[];
  readonly sessionEngine: 'db' | 'cached_db' | 'signed_cookies';
  readonly sessionCookieName: string;
  readonly sessionCookieAge: number;
  readonly authenticationBackends: readonly string[];
  readonly database: DjangoDatabase;
  readonly sessionStore: SessionStore;
  readonly users: DjangoUsers;

  constructor(options: DjangoSiteOptions) {
    if (typeof options.secretKey !== 'string' || options.secretKey === '') {
      throw new TypeError('DjangoSite needs the Django site\'s SECRET_KEY (secretKey)');
    }
    const engine = (options.sessionEngine ?? 'db').replace(/^django\.contrib\.sessions\.backends\./, '');
    if (!ENGINES.has(engine)) throw new TypeError(`Unsupported SESSION_ENGINE: ${options.sessionEngine} (db, cached_db or signed_cookies)`);
    if (options.database === undefined) throw new TypeError('DjangoSite needs the Django site\'s database (users live there)');
    this.secretKey = options.secretKey;
    this.secretKeyFallbacks = Object.freeze([...(options.secretKeyFallbacks ?? [])].filter((key) => key !== ''));
    this.sessionEngine = engine as DjangoSite['sessionEngine'];
    this.sessionCookieName = options.sessionCookieName ?? 'sessionid';
    this.sessionCookieAge = options.sessionCookieAge ?? 1209600;
    this.authenticationBackends = Object.freeze([...(options.authenticationBackends ?? ['django.contrib.auth.backends.ModelBackend'])]);
    this.database = typeof options.database === 'string' ? databaseFromUrl(options.database) : options.database;
    const secrets = { secretKey: this.secretKey, secretKeyFallbacks: this.secretKeyFallbacks };
    this.sessionStore = this.sessionEngine === 'signed_cookies'
      ? new DjangoSignedCookieSessionStore({ ...secrets, cookieAge: this.sessionCookieAge })
      : new DjangoDbSessionStore({ ...secrets, database: this.database, table: options.tables?.sessions });
    this.users = new DjangoUsers({ database: this.database, tables: options.tables, parseId: options.parseUserId });
  }

  /**
   * A site from the environment: `DJANGO_SECRET_KEY`, `DJANGO_SECRET_KEY_FALLBACKS`
   * (comma-separated), `DJANGO_SESSION_ENGINE`, `DJANGO_DATABASE_URL`.
   *
   * @example
   * ```ts
   * import { DjangoSite } from 'switchyard/django';
   *
   * const site = DjangoSite.fromEnv();
   * ```
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<DjangoSiteOptions> = {}): DjangoSite {
    return new DjangoSite({
      secretKey: env.DJANGO_SECRET_KEY ?? '',
      secretKeyFallbacks: env.DJANGO_SECRET_KEY_FALLBACKS?.split(',').map((key) => key.trim()) ?? [],
      sessionEngine: (env.DJANGO_SESSION_ENGINE as DjangoSessionEngine | undefined) ?? 'db',
      database: env.DJANGO_DATABASE_URL ?? '',
      ...overrides,
    });
  }

  /**
   * The session a `sessionid` cookie value names (an empty session without
   * one). Nothing is read until the session is used.
   *
   * @example
   * ```ts
   * import { DjangoSite } from 'switchyard/django';
   *
   * const site = DjangoSite.fromEnv();
   * declare const cookies: Record<string, string>; // scope.cookies, from CookieMiddleware
   * const session = site.openSession(cookies.sessionid);
   * await session.get('_auth_user_id');
   * ```
   */
  openSession(cookieValue: string | undefined): Session {
    return new Session(this.sessionStore, cookieValue === undefined || cookieValue === '' ? null : cookieValue, this.sessionCookieAge);
  }

  /** Closes the database connections. */
  async close(): Promise<void> {
    await this.database.close();
  }
}
