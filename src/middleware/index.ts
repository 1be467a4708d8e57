/**
 * Middleware: cookies, sessions (memory, Redis and signed-cookie stores),
 * authentication (session and bearer JWT), origin checks, abuse limits, and
 * session sharing with Express/Node handlers.
 *
 * A typical WebSocket stack, outermost first: limits, origin check, cookies,
 * session, user, then the router.
 *
 * @example
 * ```ts
 * import { ProtocolTypeRouter, type Route, URLRouter } from 'switchyard';
 * import { AllowedHostsOriginValidator, AuthMiddlewareStack, LimitsMiddleware, RedisSessionStore, SessionManager, type UserLoader } from 'switchyard/middleware';
 *
 * declare const routes: Route[];
 * declare const users: { byId: UserLoader };
 * const sessions = new SessionManager({ store: new RedisSessionStore(), secrets: [process.env.SECRET_KEY!] });
 * export const application = ProtocolTypeRouter({
 *   websocket: LimitsMiddleware(AllowedHostsOriginValidator(
 *     AuthMiddlewareStack(URLRouter(routes), { sessions, loadUser: (id) => users.byId(id) }),
 *   )),
 * });
 * ```
 */
export { BaseMiddleware, deny, middleware, type MiddlewareHandler } from './base.js';
export {
  CookieMiddleware, deleteCookie, formatSetCookie, httpDate, parseCookie, setCookie,
  type CookieMessage, type Cookies, type SetCookieOptions,
} from './cookies.js';
export { Signer, type SignerOptions } from './signing.js';
export { newSessionKey, type SessionData, type SessionStore } from './session-stores/base.js';
export { SessionStoreUnavailableError } from '../errors.js';
export { MemorySessionStore } from './session-stores/memory.js';
export { RedisSessionStore, type RedisSessionStoreOptions } from './session-stores/redis.js';
export { MAX_SIGNED_COOKIE_TOKEN, SignedCookieSessionStore } from './session-stores/signed-cookie.js';
export {
  Session, SessionManager, SessionMiddleware, SessionMiddlewareStack, getSession, sessionManager,
  type SessionConfig, type SessionOptions,
} from './sessions.js';
export {
  AnonymousUser, AuthMiddleware, AuthMiddlewareStack, BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY,
  authEvents, constantTimeEqual, getUser, isAuthenticated, login, logout,
  type AuthOptions, type AuthStackOptions, type AuthTarget, type AuthenticatedUser, type ScopeUser, type UserLoader,
} from './auth.js';
export { TokenAuthMiddleware, findToken, type TokenAuthOptions } from './token.js';
export {
  AllowedHostsOriginValidator, OriginValidator, isOriginAllowed, isSameDomain, parseOrigin, resolveAllowedHosts,
  type AllowedHostsOptions, type OriginOptions, type ParsedOrigin,
} from './origin.js';
export { DEFAULT_LIMITS, LimitsMiddleware, TokenBucket, withGroupLimit, type LimitsOptions } from './limits.js';
export { expressSession, type NodeMiddleware, type SessionRequestFields } from './node.js';
