/**
 * The chat's small user store: a JSON file of usernames and scrypt password
 * hashes (`node:crypto`), read again whenever it changes on disk, so users
 * added with `npm run chat:adduser` can sign in without a restart.
 *
 * File: `CHAT_USERS_FILE`, default `examples/chat/users.json` (gitignored).
 * Format: `{ "users": { "<name>": { "salt": b64, "hash": b64, "params": { N, r, p } } } }`.
 * Usernames follow Django's rule (letters, digits and `@.+-_`, up to 150),
 * so a registered name never holds HTML. Checking an unknown name costs the
 * same scrypt as a known one, so timing does not reveal which names exist.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthenticatedUser } from 'switchyard/middleware';

/** A signed-in chat user, as `scope.user` holds it. */
export interface ChatUser extends AuthenticatedUser {
  readonly id: string;
  readonly username: string;
}

interface StoredUser { salt: string; hash: string; params: { N: number; r: number; p: number } }
interface UsersFile { users: Record<string, StoredUser> }

/** Django's username rule. */
export const USERNAME = /^[\w.@+-]{1,150}$/;
const KEY_LENGTH = 64;
const PARAMS = { N: 16384, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, params: StoredUser['params']): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 64 * 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCallback(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** The default file: `CHAT_USERS_FILE`, else `users.json` next to this module. */
export function defaultUsersFile(): string {
  return process.env.CHAT_USERS_FILE || fileURLToPath(new URL('./users.json', import.meta.url));
}

/**
 * Users in a JSON file (re-read when its modification time changes, checked at most once a second).
 *
 * @example
 * ```ts
 * const users = new UserStore('/tmp/users.json');
 * await users.add('alice', 'correct horse');
 * await users.authenticate('alice', 'correct horse'); // ChatUser
 * ```
 */
export class UserStore {
  readonly path: string;
  #cache: UsersFile = { users: {} };
  #mtime = -1;
  #dummy: StoredUser | null = null;
  #checkedAt = 0;

  constructor(path = defaultUsersFile()) {
    this.path = path;
  }

  #read(fresh = false): UsersFile {
    // At most one stat a second (anonymous messages check names against the store), except for sign-ins.
    const now = Date.now();
    if (!fresh && now - this.#checkedAt < 1000) return this.#cache;
    this.#checkedAt = now;
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch {
      this.#cache = { users: {} };
      this.#mtime = -1;
      return this.#cache;
    }
    if (mtime !== this.#mtime) {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<UsersFile>;
      this.#cache = { users: Object.assign(Object.create(null) as Record<string, StoredUser>, parsed.users ?? {}) };
      this.#mtime = mtime;
    }
    return this.#cache;
  }

  #user(name: string, stored: StoredUser): ChatUser {
    // Changes when the password changes: sessions signed in with the old one are logged out.
    const sessionAuthHash = createHash('sha256').update(`chat-session:${stored.hash}`).digest('base64url');
    return { id: name, username: name, isAuthenticated: true, sessionAuthHash };
  }

  /** True when `name` is a registered user. */
  has(name: string): boolean {
    return Object.hasOwn(this.#read().users, name);
  }

  /** The user with this id (= username), or `null`. */
  async byId(id: string): Promise<ChatUser | null> {
    const stored = this.#read().users[id];
    return stored === undefined ? null : this.#user(id, stored);
  }

  /** The user when the password is right, else `null` (in about the same time either way). */
  async authenticate(name: string, password: string): Promise<ChatUser | null> {
    const users = this.#read(true).users;
    const stored = Object.hasOwn(users, name) ? users[name]! : null;
    this.#dummy ??= { salt: randomBytes(16).toString('base64'), hash: randomBytes(KEY_LENGTH).toString('base64'), params: PARAMS };
    const record = stored ?? this.#dummy;
    const key = await scrypt(password, Buffer.from(record.salt, 'base64'), record.params);
    const expected = Buffer.from(record.hash, 'base64');
    const ok = key.length === expected.length && timingSafeEqual(key, expected);
    return ok && stored !== null ? this.#user(name, stored) : null;
  }

  /** Creates a user, or changes an existing user's password. */
  async add(name: string, password: string): Promise<ChatUser> {
    if (!USERNAME.test(name)) throw new TypeError('Usernames are 1 to 150 letters, digits or @ . + - _');
    if (password.length < 8) throw new TypeError('Passwords need at least 8 characters');
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, PARAMS);
    this.#checkedAt = 0;
    const file = this.#read();
    const stored: StoredUser = { salt: salt.toString('base64'), hash: hash.toString('base64'), params: PARAMS };
    const next: UsersFile = { users: { ...file.users, [name]: stored } };
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.#checkedAt = 0;
    return this.#user(name, stored);
  }
}
