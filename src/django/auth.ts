/**
 * Who a Django session is signed in as: Django's `get_user()` and
 * `ModelBackend.get_user()`, read-only.
 *
 * How it works, in Django's order. The session must hold `_auth_user_id`
 * and `_auth_user_backend`, and the backend must be one of
 * `AUTHENTICATION_BACKENDS`. The user row must exist and, unless the backend
 * is an `AllowAllUsers…` one, be active. The session's `_auth_user_hash` must
 * equal the user's session auth hash under `SECRET_KEY` or, as Django 5.0
 * and later do, under one of `SECRET_KEY_FALLBACKS` (Django then rewrites the
 * hash in the session; Switchyard, read-only, just accepts it). A mismatch means
 * the password changed (or the user logged out everywhere): Django flushes
 * the session; Switchyard forgets it on this connection, and the user is
 * anonymous. Only then are the user's groups read.
 */
import { AnonymousUser, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, type Session, constantTimeEqual } from '../middleware/index.js';
import type { DjangoSite } from './site.js';
import { type DjangoUser, sessionAuthHash } from './users.js';

/**
 * What `scope.user` holds under the Django middleware.
 *
 * @example
 * ```ts
 * import type { DjangoScopeUser } from 'switchyard/django';
 *
 * declare const scope: { user?: unknown };
 * const user = scope.user as DjangoScopeUser;
 * const name = user.isAuthenticated ? user.username : 'anonymous';
 * ```
 */
export type DjangoScopeUser = DjangoUser | AnonymousUser;

/** Backends whose `get_user` returns inactive users too. */
const ALLOW_INACTIVE = /\.AllowAllUsers(?:Model|RemoteUser)Backend$/;

/**
 * The Django user a session is signed in as, or an `AnonymousUser`. Throws
 * `DjangoDatabaseError` when the database cannot be read.
 *
 * @example
 * ```ts
 * import { DjangoSite, getDjangoUser } from 'switchyard/django';
 *
 * const site = DjangoSite.fromEnv();
 * declare const cookies: Record<string, string>; // scope.cookies, from CookieMiddleware
 * const user = await getDjangoUser(site.openSession(cookies.sessionid), site);
 * if (user.isAuthenticated) console.log(user.username, user.groups);
 * ```
 */
export async function getDjangoUser(session: Session, site: DjangoSite): Promise<DjangoScopeUser> {
  const id = await session.get(SESSION_KEY);
  const backend = await session.get(BACKEND_SESSION_KEY);
  if (typeof id !== 'string' || typeof backend !== 'string' || !site.authenticationBackends.includes(backend)) {
    return new AnonymousUser();
  }
  const record = await site.users.find(id);
  if (record === null || (!record.isActive && !ALLOW_INACTIVE.test(backend))) return new AnonymousUser();
  const stored = await session.get(HASH_SESSION_KEY);
  const verified = typeof stored === 'string' && stored !== '' &&
    [site.secretKey, ...site.secretKeyFallbacks].some((secret) => constantTimeEqual(stored, sessionAuthHash(record.password, secret)));
  if (!verified) {
    await session.flush(); // in memory only: the store never deletes Django's rows
    return new AnonymousUser();
  }
  return site.users.toUser(record, site.secretKey);
}
