/**
 * Authentication from the session: `AuthMiddleware`, `login`, `logout`,
 * `AnonymousUser` and `AuthMiddlewareStack`, with Django's semantics.
 *
 * How it works. `login(scope, user)` writes three keys into the session:
 * the user's id (`_auth_user_id`), the backend name (`_auth_user_backend`)
 * and the user's *session auth hash* (`_auth_user_hash`, typically derived
 * from the password hash, so changing a password logs every other session
 * out). It first cycles the session key (against session fixation), or
 * flushes the session when it belonged to another user. On each connection,
 * `AuthMiddleware` reads those keys, asks the application's user loader for
 * the user, compares the hash in constant time (a mismatch flushes the
 * session) and puts the user, or an {@link AnonymousUser}, in `scope.user`.
 * Like Django, `login` and `logout` do not save: over HTTP the session
 * middleware saves on the response, over WebSocket call `session.save()`.
 * Signing in over a WebSocket has a limit Django shares: the new session
 * key cannot reach the browser's cookie (no response headers after the
 * handshake), so later HTTP requests stay anonymous; sign in over HTTP (a
 * login page, or `expressSession()` routes) and let the socket read it.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Application } from '../asgi.js';
import { middleware } from './base.js';
import { type SessionConfig, Session, SessionMiddlewareStack } from './sessions.js';

/** Session key holding the user id (Django's `SESSION_KEY`). */
export const SESSION_KEY = '_auth_user_id';
/** Session key holding the backend name (Django's `BACKEND_SESSION_KEY`). */
export const BACKEND_SESSION_KEY = '_auth_user_backend';
/** Session key holding the session auth hash (Django's `HASH_SESSION_KEY`). */
export const HASH_SESSION_KEY = '_auth_user_hash';

/** A signed-in user, as a user loader returns it. */
export interface AuthenticatedUser {
  readonly id: string | number;
  readonly username: string;
  readonly isAuthenticated: true;
  /** Changes when the credentials change (e.g. a hash of the password hash); sessions holding an old one are logged out. */
  readonly sessionAuthHash?: string;
}

/**
 * The user of a connection nobody is signed in on (Django's `AnonymousUser`).
 *
 * @example
 * ```ts
 * import { WebsocketConsumer } from 'switchyard';
 *
 * class Private extends WebsocketConsumer {
 *   override async connect() {
 *     const user = this.scope.user as { isAuthenticated: boolean } | undefined;
 *     if (!user?.isAuthenticated) return this.close();
 *     await this.accept();
 *   }
 * }
 * ```
 */
export class AnonymousUser {
  readonly id = null;
  readonly username = '';
  readonly isAuthenticated = false as const;
  readonly isAnonymous = true as const;
}

/**
 * The one anonymous user the middleware hands out: it has no state to change (frozen), so
 * connections share it rather than each keeping its own.
 */
const ANONYMOUS: AnonymousUser = Object.freeze(new AnonymousUser());

/** What `scope.user` holds after `AuthMiddleware`. */
export type ScopeUser<U extends AuthenticatedUser = AuthenticatedUser> = U | AnonymousUser;

/** Finds a user by the id stored in the session; `null` when it no longer exists. */
export type UserLoader<U extends AuthenticatedUser = AuthenticatedUser> = (id: string) => Promise<U | null>;

/** Options of {@link AuthMiddleware}. */
export interface AuthOptions<U extends AuthenticatedUser = AuthenticatedUser> {
  /** How to find a user by id. */
  loadUser: UserLoader<U>;
  /** The backend name `login()` stores; sessions naming another backend are anonymous. Default `default`. */
  backend?: string;
}

/**
 * A narrowing check for signed-in users.
 *
 * @example
 * ```ts
 * import { WebsocketConsumer } from 'switchyard';
 * import { isAuthenticated } from 'switchyard/middleware';
 *
 * class Private extends WebsocketConsumer {
 *   override async connect() {
 *     if (!isAuthenticated(this.scope.user)) return this.close(4001);
 *     await this.accept();
 *   }
 * }
 * ```
 */
export function isAuthenticated(user: unknown): user is AuthenticatedUser {
  return typeof user === 'object' && user !== null && (user as { isAuthenticated?: unknown }).isAuthenticated === true;
}

/**
 * Emits `userLoggedIn` and `userLoggedOut` (Django's `user_logged_in` /
 * `user_logged_out` signals) with `{ user, scope }`.
 *
 * @example
 * ```ts
 * import { logger } from 'switchyard';
 * import { authEvents } from 'switchyard/middleware';
 *
 * authEvents.on('userLoggedIn', ({ user }) => logger.info({ user: user.username }, 'login'));
 * ```
 */
export const authEvents = new EventEmitter<{
  userLoggedIn: [{ user: AuthenticatedUser; scope: AuthTarget }];
  userLoggedOut: [{ user: AuthenticatedUser; scope: AuthTarget }];
}>();

/**
 * Anything carrying a session and a user: an ASGI scope, or an Express `req`
 * under `expressSession()`. Typed `object` so that every `Scope` fits.
 */
export type AuthTarget = object;

/** How the helpers read and write a target. */
type Slots = { session?: unknown; user?: unknown };

/**
 * Constant-time string equality (both sides are hashed first, so lengths leak nothing either).
 *
 * @example
 * ```ts
 * import { constantTimeEqual } from 'switchyard/middleware';
 *
 * constantTimeEqual('3f7a...', '3f7a...'); // true, in a time that does not depend on where they differ
 * ```
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function requireSession(target: AuthTarget): Session {
  const session = (target as Slots).session;
  if (!(session instanceof Session)) {
    throw new TypeError('Cannot find session in scope. You should wrap your consumer in SessionMiddleware.');
  }
  return session;
}

/**
 * The user a session is signed in as, or an {@link AnonymousUser}
 * (Django's `get_user`). A stale session auth hash flushes the session.
 *
 * @example
 * ```ts
 * import type { Scope } from 'switchyard';
 * import { getUser, type UserLoader } from 'switchyard/middleware';
 *
 * declare const scope: Scope; // with scope.session set by SessionMiddleware
 * declare const users: { byId: UserLoader };
 * const user = await getUser(scope, { loadUser: users.byId });
 * ```
 */
export async function getUser<U extends AuthenticatedUser>(target: AuthTarget, options: AuthOptions<U>): Promise<ScopeUser<U>> {
  const session = requireSession(target);
  const id = await session.get(SESSION_KEY);
  const backend = await session.get(BACKEND_SESSION_KEY);
  let user: U | null = null;
  if (typeof id === 'string' && backend === (options.backend ?? 'default')) {
    user = await options.loadUser(id);
    if (user !== null && user.sessionAuthHash !== undefined) {
      const stored = await session.get(HASH_SESSION_KEY);
      if (typeof stored !== 'string' || stored === '' || !constantTimeEqual(stored, user.sessionAuthHash)) {
        await session.flush();
        user = null;
      }
    }
  }
  return user ?? ANONYMOUS;
}

/**
 * Signs `user` in on this session and sets `scope.user` (Django's
 * `channels.auth.login`). Without `user`, `scope.user` is used. Does not save.
 *
 * @example
 * ```ts
 * import { JsonWebsocketConsumer } from 'switchyard';
 * import { type AuthenticatedUser, getSession, login } from 'switchyard/middleware';
 *
 * declare function checkPassword(username: string, password: string): Promise<AuthenticatedUser | null>;
 *
 * class Login extends JsonWebsocketConsumer {
 *   override async receiveJson(content: { username: string; password: string }) {
 *     const user = await checkPassword(content.username, content.password);
 *     if (user === null) return this.sendJson({ type: 'login_failed' });
 *     await login(this.scope, user);
 *     await getSession(this.scope).save(); // WebSocket: explicit
 *   }
 * }
 * ```
 */
export async function login(target: AuthTarget, user?: AuthenticatedUser | null, backend = 'default'): Promise<void> {
  const session = requireSession(target);
  const slots = target as Slots;
  const who = user ?? slots.user;
  if (!isAuthenticated(who)) throw new TypeError('User must be passed as an argument or must be present in the scope.');
  const hash = who.sessionAuthHash ?? '';
  if (await session.has(SESSION_KEY)) {
    const stored = await session.get(HASH_SESSION_KEY);
    if ((await session.get(SESSION_KEY)) !== String(who.id) || (hash !== '' && !constantTimeEqual(typeof stored === 'string' ? stored : '', hash))) {
      // Never reuse another user's session.
      await session.flush();
    }
  } else {
    await session.cycleKey();
  }
  await session.set(SESSION_KEY, String(who.id));
  await session.set(BACKEND_SESSION_KEY, backend);
  await session.set(HASH_SESSION_KEY, hash);
  slots.user = who;
  authEvents.emit('userLoggedIn', { user: who, scope: target });
}

/**
 * Signs out: flushes the session and, if the scope has a `user`, makes it an
 * {@link AnonymousUser} (Django's `channels.auth.logout`). Does not save.
 *
 * @example
 * ```ts
 * import type { Scope } from 'switchyard';
 * import { logout } from 'switchyard/middleware';
 *
 * declare const scope: Scope; // with scope.session set by SessionMiddleware
 * await logout(scope);
 * ```
 */
export async function logout(target: AuthTarget): Promise<void> {
  const session = requireSession(target);
  const slots = target as Slots;
  if (isAuthenticated(slots.user)) authEvents.emit('userLoggedOut', { user: slots.user, scope: target });
  await session.flush();
  if ('user' in slots && slots.user !== undefined) slots.user = new AnonymousUser();
}

/**
 * Puts `scope.user` from the session (Django's `AuthMiddleware`); needs a
 * session middleware above it. A user already set by an outer middleware
 * (a token, for example) is kept.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { AuthMiddleware, CookieMiddleware, SessionMiddleware, type UserLoader } from 'switchyard/middleware';
 *
 * declare const inner: Application;
 * declare const loadUser: UserLoader;
 * const app = CookieMiddleware(SessionMiddleware(AuthMiddleware(inner, { loadUser }), { secrets: [process.env.SECRET_KEY!] }));
 * ```
 */
export function AuthMiddleware<U extends AuthenticatedUser>(inner: Application, options: AuthOptions<U>): Application {
  return middleware(inner, function authMiddleware(scope, receive, send, app) {
    const session = scope.session;
    if (!(session instanceof Session)) {
      throw new TypeError('AuthMiddleware cannot find session in scope. SessionMiddleware must be above it.');
    }
    if (isAuthenticated(scope.user)) return app(scope, receive, send);
    if (session.isEmpty()) {
      // Nothing stored (no cookie, nothing set): anonymous, as getUser() would find, without
      // waiting for it, so the connection holds no promise of this middleware. The session is
      // read as getUser() would read it (`accessed`); its empty data is made when first used.
      session.accessed = true;
      scope.user = ANONYMOUS;
      return app(scope, receive, send);
    }
    // Returned, not awaited: no suspended frame per connection.
    return getUser(scope, options).then((user) => {
      scope.user = user;
      return app(scope, receive, send);
    });
  });
}

/** Options of {@link AuthMiddlewareStack}: the user loader and the session settings. */
export interface AuthStackOptions<U extends AuthenticatedUser = AuthenticatedUser> extends AuthOptions<U> {
  /** A `SessionManager` (share it with `expressSession()`), or session options. */
  sessions?: SessionConfig;
}

/**
 * Cookies, sessions and auth (Django's `AuthMiddlewareStack`).
 *
 * @example
 * ```ts
 * import { ProtocolTypeRouter, type Route, URLRouter } from 'switchyard';
 * import { AllowedHostsOriginValidator, AuthMiddlewareStack, SessionManager, type UserLoader } from 'switchyard/middleware';
 *
 * declare const routes: Route[];
 * declare const users: { byId: UserLoader };
 * const sessions = new SessionManager({ secrets: [process.env.SECRET_KEY!] });
 * export const application = ProtocolTypeRouter({
 *   websocket: AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routes), { sessions, loadUser: users.byId })),
 * });
 * ```
 */
export function AuthMiddlewareStack<U extends AuthenticatedUser>(inner: Application, options: AuthStackOptions<U>): Application {
  return SessionMiddlewareStack(AuthMiddleware(inner, options), options.sessions ?? {});
}
