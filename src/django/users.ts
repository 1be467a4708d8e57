/**
 * Django's users (`auth_user` and its groups), read-only, and the session
 * auth hash that ties a session to a password.
 *
 * How it works. Django stores in the session, at login, the user's id and
 * `_auth_user_hash`: `salted_hmac("django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
 * password_hash, SECRET_KEY, sha256)` in hex. The password hash changes with
 * the password, so an old session stops matching; a `SECRET_KEY` rotation
 * keeps sessions whose hash matches one of `SECRET_KEY_FALLBACKS`.
 * {@link DjangoUsers} reads one row by primary key, and the user's group
 * names only once the session checked out.
 */
import type { AuthenticatedUser } from '../middleware/index.js';
import type { DjangoDatabase, SqlValue } from './database.js';
import { saltedHmac } from './signing.js';

/**
 * The key salt of Django's `get_session_auth_hash`.
 *
 * @example
 * ```ts
 * import { SESSION_AUTH_HASH_SALT, saltedHmac } from 'switchyard/django';
 *
 * declare const passwordHash: string;
 * saltedHmac(SESSION_AUTH_HASH_SALT, passwordHash, 'SECRET_KEY', 'sha256').toString('hex'); // = sessionAuthHash(passwordHash, 'SECRET_KEY')
 * ```
 */
export const SESSION_AUTH_HASH_SALT = 'django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash';

/**
 * Django's `user.get_session_auth_hash()` for a password hash and a secret.
 *
 * @example
 * ```ts
 * import { sessionAuthHash } from 'switchyard/django';
 *
 * sessionAuthHash('pbkdf2_sha256$260000$…', process.env.DJANGO_SECRET_KEY!); // 64 hex characters
 * ```
 */
export function sessionAuthHash(passwordHash: string, secret: string): string {
  return saltedHmac(SESSION_AUTH_HASH_SALT, passwordHash, secret, 'sha256').toString('hex');
}

/**
 * A Django user, as `scope.user` holds it once signed in (camelCase fields of
 * `auth_user`). The password hash is never exposed.
 *
 * @example
 * ```ts
 * import type { Scope } from 'switchyard';
 * import { isAuthenticated } from 'switchyard/middleware';
 * import type { DjangoUser } from 'switchyard/django';
 *
 * declare const scope: Scope; // a consumer's this.scope, after DjangoAuthMiddleware
 * const isModerator = isAuthenticated(scope.user) && (scope.user as DjangoUser).groups.includes('moderators');
 * ```
 */
export interface DjangoUser extends AuthenticatedUser, Omit<DjangoUserRecord, 'password'> {
  readonly id: number | string;
  readonly username: string;
  /** Names of the user's groups, sorted. */
  readonly groups: readonly string[];
  /** The session auth hash under the current `SECRET_KEY`. */
  readonly sessionAuthHash: string;
  readonly isAuthenticated: true;
}

/**
 * Table names, for a custom user model with `AbstractUser`'s columns.
 *
 * @example
 * ```ts
 * import type { DjangoUserTables } from 'switchyard/django';
 *
 * // AUTH_USER_MODEL = "accounts.User" (an AbstractUser)
 * const tables: DjangoUserTables = { users: 'accounts_user', userGroups: 'accounts_user_groups' };
 * ```
 */
export interface DjangoUserTables {
  /** Default `auth_user`. */
  users?: string;
  /** Default `auth_group`. */
  groups?: string;
  /** The user ⇄ group table, with `user_id` and `group_id`. Default `auth_user_groups`. */
  userGroups?: string;
}

/**
 * Options of {@link DjangoUsers}.
 *
 * @example
 * ```ts
 * import { type DjangoUsersOptions, DjangoUsers, postgresDatabase } from 'switchyard/django';
 *
 * // A UUID primary key:
 * const options: DjangoUsersOptions = {
 *   database: postgresDatabase('postgres://django@127.0.0.1/mysite'),
 *   parseId: (raw) => (/^[0-9a-f-]{36}$/.test(raw) ? raw : null),
 * };
 * const users = new DjangoUsers(options);
 * ```
 */
export interface DjangoUsersOptions {
  database: DjangoDatabase;
  tables?: DjangoUserTables;
  /**
   * Turns `_auth_user_id` (always a string in the session) into the primary
   * key to look up, or `null` when it cannot be one (Django's `pk.to_python`).
   * Default: integers only (`AutoField` / `BigAutoField`).
   */
  parseId?: (raw: string) => SqlValue | null;
}

/**
 * A row as read, with the password hash: internal to the package.
 *
 * @example
 * ```ts
 * import type { DjangoUserRecord, DjangoUsers } from 'switchyard/django';
 *
 * declare const users: DjangoUsers;
 * const record: DjangoUserRecord | null = await users.find('42');
 * ```
 */
export interface DjangoUserRecord {
  readonly id: number | string;
  readonly password: string;
  readonly username: string;
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly isActive: boolean;
  readonly isStaff: boolean;
  readonly isSuperuser: boolean;
}

function tableName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`Invalid table name: ${name}`);
  return name;
}

const integerId = (raw: string): number | null => (/^\s*[+-]?\d{1,15}\s*$/.test(raw) ? Number.parseInt(raw, 10) : null);

/**
 * Reads Django's users.
 *
 * @example
 * ```ts
 * import { databaseFromUrl, DjangoUsers } from 'switchyard/django';
 *
 * const users = new DjangoUsers({ database: databaseFromUrl(process.env.DJANGO_DATABASE_URL!) });
 * const record = await users.find('42');
 * ```
 */
export class DjangoUsers {
  readonly #database: DjangoDatabase;
  readonly #parseId: (raw: string) => SqlValue | null;
  readonly #userSql: string;
  readonly #groupsSql: string;

  constructor(options: DjangoUsersOptions) {
    this.#database = options.database;
    this.#parseId = options.parseId ?? integerId;
    const users = tableName(options.tables?.users ?? 'auth_user');
    const groups = tableName(options.tables?.groups ?? 'auth_group');
    const userGroups = tableName(options.tables?.userGroups ?? 'auth_user_groups');
    this.#userSql = `SELECT id, password, username, email, first_name, last_name, is_active, is_staff, is_superuser FROM ${users} WHERE id = ?`;
    this.#groupsSql = `SELECT g.name AS name FROM ${groups} g JOIN ${userGroups} ug ON ug.group_id = g.id WHERE ug.user_id = ? ORDER BY g.name`;
  }

  /** The row of the user whose session id is `rawId`, or `null` (no such user, or an id that cannot be a key). */
  async find(rawId: string): Promise<DjangoUserRecord | null> {
    const id = this.#parseId(rawId);
    if (id === null) return null;
    const [row] = await this.#database.query(this.#userSql, [id]);
    if (row === undefined) return null;
    return {
      id: row.id as number | string,
      password: String(row.password ?? ''),
      username: String(row.username ?? ''),
      email: String(row.email ?? ''),
      firstName: String(row.first_name ?? ''),
      lastName: String(row.last_name ?? ''),
      isActive: Boolean(row.is_active),
      isStaff: Boolean(row.is_staff),
      isSuperuser: Boolean(row.is_superuser),
    };
  }

  /** The user's group names, sorted. */
  async groups(id: number | string): Promise<string[]> {
    const rows = await this.#database.query(this.#groupsSql, [id]);
    return rows.map((row) => String(row.name));
  }

  /** The {@link DjangoUser} of a record, with its groups. */
  async toUser(record: DjangoUserRecord, secretKey: string): Promise<DjangoUser> {
    const { password, ...fields } = record;
    return Object.freeze({
      ...fields,
      groups: Object.freeze(await this.groups(record.id)),
      sessionAuthHash: sessionAuthHash(password, secretKey),
      isAuthenticated: true as const,
    });
  }
}
