/**
 * Read access to a Django site's database: one small interface and two
 * implementations, PostgreSQL (`pg`) and SQLite (`node-sqlite3-wasm`), each
 * driver loaded on first use with a dynamic `import()`, so a service that
 * uses neither never loads it (and need not install it).
 *
 * How it works. The session store and the user loader run a handful of
 * fixed `SELECT`s with `?` placeholders (PostgreSQL's adapter numbers them
 * `$1`, `$2`...). Every driver error, a refused connection included, becomes
 * a {@link DjangoDatabaseError} naming the database; the PostgreSQL pool
 * gives up connecting after `connectionTimeoutMillis` (2 s by default), so a
 * database that is down fails a handshake in about that time, or at once
 * when the port is closed. Nothing here ever writes.
 */
import { DjangoDatabaseError } from './errors.js';

/**
 * A value bound to a placeholder.
 *
 * @example
 * ```ts
 * import type { DjangoDatabase, SqlValue } from 'switchyard/django';
 *
 * declare const db: DjangoDatabase;
 * const params: SqlValue[] = ['4tgyohbhqbjlr6argukqhe5s01f312b9'];
 * await db.query('SELECT session_data FROM django_session WHERE session_key = ?', params);
 * ```
 */
export type SqlValue = string | number;

/**
 * What the Django integration needs from a database: read rows, close.
 * Implement it to use another driver (better-sqlite3, a pooled client
 * shared with the rest of the service...).
 *
 * @example
 * ```ts
 * import { type DjangoDatabase } from 'switchyard/django';
 *
 * // Any driver fits; this one is shaped like better-sqlite3's, opened read-only on db.sqlite3.
 * declare const file: { prepare(sql: string): { all(...params: unknown[]): unknown[] }; close(): void };
 * const db: DjangoDatabase = {
 *   vendor: 'sqlite',
 *   label: 'db.sqlite3',
 *   epochSql: (column) => `(julianday(${column}) - 2440587.5) * 86400.0`,
 *   query: async (sql, params) => file.prepare(sql).all(...params) as Record<string, unknown>[],
 *   close: async () => void file.close(),
 * };
 * ```
 */
export interface DjangoDatabase {
  /** `postgresql`, `sqlite`, or another name. */
  readonly vendor: string;
  /** How log lines name this database (never with a password). */
  readonly label: string;
  /** An SQL expression for a `DateTimeField` column as Unix seconds (Django stores UTC when `USE_TZ = True`). */
  epochSql(column: string): string;
  /** The rows of a `SELECT` with `?` placeholders. */
  query(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
  /** Closes connections. */
  close(): Promise<void>;
}

/**
 * Options of {@link postgresDatabase}: those of a `pg` pool.
 *
 * @example
 * ```ts
 * import { type PostgresOptions, postgresDatabase } from 'switchyard/django';
 *
 * const options: PostgresOptions = { host: '127.0.0.1', database: 'mysite', user: 'django', connectionTimeoutMillis: 1000 };
 * const db = postgresDatabase(options);
 * ```
 */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/name`. */
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** Pool size. Default 10. */
  max?: number;
  /** Milliseconds to wait for a connection before failing. Default 2000. */
  connectionTimeoutMillis?: number;
  /** Milliseconds a query may take. Default 5000. */
  queryTimeoutMillis?: number;
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
}

function wrap(label: string, error: unknown): DjangoDatabaseError {
  return error instanceof DjangoDatabaseError ? error : new DjangoDatabaseError(`${label}: ${describe(error)}`, { cause: error });
}

async function loadDriver<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    throw new DjangoDatabaseError(`the ${name} driver is not installed (npm install ${name}): ${describe(error)}`, { cause: error });
  }
}

interface PgPool {
  query(config: { text: string; values: SqlValue[]; query_timeout?: number }): Promise<{ rows: Record<string, unknown>[] }>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  end(): Promise<void>;
}

/**
 * Django's PostgreSQL database (`ENGINE: django.db.backends.postgresql`), through a `pg` pool.
 *
 * @example
 * ```ts
 * import { postgresDatabase } from 'switchyard/django';
 *
 * const db = postgresDatabase('postgres://django@127.0.0.1:5432/mysite');
 * ```
 */
export function postgresDatabase(options: string | PostgresOptions): DjangoDatabase {
  const config: PostgresOptions = typeof options === 'string' ? { connectionString: options } : options;
  const url = config.connectionString === undefined ? null : new URL(config.connectionString);
  const label = `PostgreSQL ${url?.hostname ?? config.host ?? 'localhost'}:${url?.port || config.port || 5432}/${url?.pathname.slice(1) || config.database || ''}`;
  const { queryTimeoutMillis = 5000, ...poolConfig } = config;
  let pool: Promise<PgPool> | null = null;
  const open = (): Promise<PgPool> =>
    (pool ??= loadDriver('pg', () => import('pg')).then((pg) => {
      const created = new pg.default.Pool({ max: 10, connectionTimeoutMillis: 2000, idleTimeoutMillis: 30000, ...poolConfig }) as unknown as PgPool;
      created.on('error', () => {}); // an idle client's error; the next query reports it
      return created;
    }));
  return {
    vendor: 'postgresql',
    label,
    epochSql: (column) => `extract(epoch from ${column})::float8`,
    async query(sql, params) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      try {
        const result = await (await open()).query({ text, values: [...params], query_timeout: queryTimeoutMillis });
        return result.rows;
      } catch (error) {
        throw wrap(label, error);
      }
    },
    async close() {
      const current = pool;
      pool = null;
      if (current !== null) await (await current).end();
    },
  };
}

interface WasmDatabase {
  all(sql: string, values: SqlValue[]): Record<string, unknown>[];
  close(): void;
}

/**
 * Django's SQLite database (`ENGINE: django.db.backends.sqlite3`), opened
 * read-only with `node-sqlite3-wasm` (WebAssembly: nothing to compile). That
 * driver takes no file locks, so a read racing one of Django's writes may see
 * it half done (the signatures still hold, so this never signs anyone in):
 * fine for development sites, which is what Django's SQLite is for; for
 * better-sqlite3, implement {@link DjangoDatabase} (its example does).
 *
 * @example
 * ```ts
 * import { sqliteDatabase } from 'switchyard/django';
 *
 * const db = sqliteDatabase('/srv/mysite/db.sqlite3');
 * ```
 */
export function sqliteDatabase(path: string): DjangoDatabase {
  const label = `SQLite ${path}`;
  let handle: Promise<WasmDatabase> | null = null;
  const open = (): Promise<WasmDatabase> =>
    (handle ??= loadDriver('node-sqlite3-wasm', () => import('node-sqlite3-wasm')).then((driver) => {
      const { Database } = driver.default;
      return new Database(path, { readOnly: true }) as unknown as WasmDatabase;
    }).catch((error: unknown) => {
      handle = null; // a missing file may appear later: retry on the next query
      throw error;
    }));
  return {
    vendor: 'sqlite',
    label,
    epochSql: (column) => `(julianday(${column}) - 2440587.5) * 86400.0`,
    async query(sql, params) {
      try {
        return (await open()).all(sql, [...params]);
      } catch (error) {
        throw wrap(label, error);
      }
    },
    async close() {
      const current = handle;
      handle = null;
      if (current !== null) (await current).close();
    },
  };
}

/**
 * A database from a URL: `postgres://…` / `postgresql://…`, or `sqlite:///absolute/path.sqlite3`.
 *
 * @example
 * ```ts
 * import { databaseFromUrl } from 'switchyard/django';
 *
 * const db = databaseFromUrl(process.env.DJANGO_DATABASE_URL!);
 * ```
 */
export function databaseFromUrl(url: string): DjangoDatabase {
  const parsed = new URL(url);
  if (parsed.protocol === 'postgres:' || parsed.protocol === 'postgresql:') return postgresDatabase(url);
  if (parsed.protocol === 'sqlite:') return sqliteDatabase(decodeURIComponent(parsed.pathname));
  throw new TypeError(`Unsupported Django database URL scheme: ${parsed.protocol} (use postgres:// or sqlite://)`);
}
