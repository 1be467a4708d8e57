/**
 * `switchyard/django`: a Switchyard service beside a Django site, sharing its
 * users and sessions (read-only) as it already shares its channel layer.
 *
 * The `sessionid` cookie Django set is read with Django's rules: the
 * `db` / `cached_db` backends (the `django_session` table, on PostgreSQL or
 * SQLite) or `signed_cookies` (Django's signing with `SECRET_KEY` and
 * `SECRET_KEY_FALLBACKS`, salted HMAC, compressed JSON), expiry as Django
 * computes it, JSON only (pickled sessions are refused: unpickling is code
 * execution, and Python's own). `scope.user` is the `auth_user` row
 * (id, username, flags, groups) once `_auth_user_hash` matches the password
 * hash, as Django's `get_user` checks: a logout or a password change in
 * Django signs the user out of the next connection, and, with
 * {@link joinDjangoUserGroup}, out of the live ones. Switchyard never writes
 * Django's tables. See docs/django.md.
 *
 * @example
 * ```ts
 * import { JsonWebsocketConsumer, ProtocolTypeRouter, URLRouter, path } from 'switchyard';
 * import { DjangoAuthMiddlewareStack, DjangoSite } from 'switchyard/django';
 *
 * class Chat extends JsonWebsocketConsumer {}
 * const site = new DjangoSite({ secretKey: process.env.DJANGO_SECRET_KEY!, database: process.env.DJANGO_DATABASE_URL! });
 * export const application = ProtocolTypeRouter({
 *   websocket: DjangoAuthMiddlewareStack(URLRouter([path('ws/chat/<str:room>/', Chat.asApp())]), site),
 * });
 * // in Chat: this.scope.user.username is the Django user's
 * ```
 */
export { type DjangoScopeUser, getDjangoUser } from './auth.js';
export {
  type DjangoDatabase, type PostgresOptions, type SqlValue, databaseFromUrl, postgresDatabase, sqliteDatabase,
} from './database.js';
export { BadSignature, DjangoDatabaseError, DjangoReadOnlyError, PickledDataRefused, SignatureExpired } from './errors.js';
export { DJANGO_LOGOUT, DJANGO_LOGOUT_CLOSE_CODE, type UserGroupMember, djangoUserGroup, joinDjangoUserGroup } from './live.js';
export { DjangoAuthMiddleware, DjangoAuthMiddlewareStack, DjangoSessionMiddleware } from './middleware.js';
export {
  DB_SESSION_SALT, DjangoDbSessionStore, type DjangoDbSessionStoreOptions, DjangoSignedCookieSessionStore,
  type DjangoSignedCookieSessionStoreOptions, type DjangoSigningSettings, SIGNED_COOKIES_SALT,
} from './session-store.js';
export {
  DjangoSigner, type DjangoHashAlgorithm, type DjangoPayloadDecoder, type DjangoSignerOptions, type DjangoSigningOptions,
  DjangoTimestampSigner, b62Decode, b62Encode, dumps, jsonPayload, loads, saltedHmac,
} from './signing.js';
export { type DjangoSessionEngine, DjangoSite, type DjangoSiteOptions } from './site.js';
export {
  type DjangoUser, type DjangoUserRecord, type DjangoUserTables, DjangoUsers, type DjangoUsersOptions, SESSION_AUTH_HASH_SALT, sessionAuthHash,
} from './users.js';
