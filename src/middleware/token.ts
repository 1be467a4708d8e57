/**
 * Bearer-token authentication for clients without cookies (apps, scripts,
 * services): `TokenAuthMiddleware`, verifying JWTs with `jose`.
 *
 * How it works. The token is looked for, in order, in the `Authorization:
 * Bearer …` header (non-browser clients can set it), in a query parameter
 * (`?token=…`, what a browser can do; beware that URLs end up in access
 * logs), and in the `Sec-WebSocket-Protocol` offers as `bearer.<jwt>` (a
 * browser can set that header too; offer a real subprotocol next to it,
 * which the consumer accepts, since the token entries are removed from
 * `scope.subprotocols`). The token is verified with an algorithm allow-list
 * (never `none`, never an algorithm the key was not meant for), and must
 * carry `exp`; `aud` and `iss` are checked when configured. A verified
 * token's claims become `scope.user` through `userFromClaims` and are kept in
 * `scope.tokenClaims`. A token that fails any check refuses the handshake
 * (HTTP 403; HTTP requests get 401) and the reason is logged; no token at
 * all passes through (or is refused with `required: true`), so the
 * middleware stacks above the session-based `AuthMiddleware`, which keeps a
 * user already set.
 */
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { KeyObject } from 'node:crypto';
import type { Application, Scope } from '../asgi.js';
import { getHeader } from '../asgi.js';
import { logger } from '../log.js';
import type { AuthenticatedUser } from './auth.js';
import { deny, middleware } from './base.js';

/** Options of {@link TokenAuthMiddleware}. */
export interface TokenAuthOptions<U extends AuthenticatedUser = AuthenticatedUser> {
  /** The verification key: a shared secret (string or bytes) for HS*, a public `KeyObject`/`CryptoKey`, or a JWKS getter. */
  key: string | Uint8Array | KeyObject | CryptoKey | JWTVerifyGetKey;
  /** Accepted `alg` values. Default `['HS256']`. */
  algorithms?: string[];
  /** Required `aud` (one of). Default none. */
  audience?: string | string[];
  /** Required `iss` (one of). Default none. */
  issuer?: string | string[];
  /** Seconds of clock skew tolerated on `exp`/`nbf`. Default 5. */
  clockTolerance?: number;
  /** Refuse tokens without `exp`. Default `true`. */
  requireExpiry?: boolean;
  /** Query parameter holding the token; `null` to disable. Default `token`. */
  queryParam?: string | null;
  /** Prefix of a `Sec-WebSocket-Protocol` offer holding the token; `null` to disable. Default `bearer.`. */
  subprotocolPrefix?: string | null;
  /** Refuse connections without a token. Default `false`. */
  required?: boolean;
  /** Turns verified claims into a user (`null` refuses). Default: `{ id: sub, username: claims.username ?? sub }`. */
  userFromClaims?: (claims: JWTPayload) => U | null | Promise<U | null>;
}

const defaultUser = (claims: JWTPayload): AuthenticatedUser | null =>
  typeof claims.sub === 'string' && claims.sub !== ''
    ? { id: claims.sub, username: typeof claims.username === 'string' ? claims.username : claims.sub, isAuthenticated: true }
    : null;

/**
 * The bearer token of a connection (header, query parameter or subprotocol offer), or `null`.
 *
 * @example
 * ```ts
 * import type { Scope } from 'switchyard';
 * import { findToken } from 'switchyard/middleware';
 *
 * declare const scope: Scope;
 * findToken(scope, { queryParam: 'access_token' }); // the JWT of ?access_token=..., or null
 * ```
 */
export function findToken(scope: Scope, options: Pick<TokenAuthOptions, 'queryParam' | 'subprotocolPrefix'> = {}): string | null {
  if (scope.type !== 'http' && scope.type !== 'websocket') return null;
  const authorization = getHeader(scope.headers, 'authorization');
  const bearer = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1]!;
  const queryParam = options.queryParam === undefined ? 'token' : options.queryParam;
  if (queryParam !== null) {
    const value = new URLSearchParams(Buffer.from(scope.query_string).toString('latin1')).get(queryParam);
    if (value) return value;
  }
  const prefix = options.subprotocolPrefix === undefined ? 'bearer.' : options.subprotocolPrefix;
  if (prefix !== null && scope.type === 'websocket') {
    const offer = scope.subprotocols.find((p) => p.startsWith(prefix) && p.length > prefix.length);
    if (offer) return offer.slice(prefix.length);
  }
  return null;
}

/**
 * Authenticates with a bearer JWT; a bad token refuses the connection.
 *
 * @example
 * ```ts
 * import { type Route, URLRouter } from 'switchyard';
 * import { TokenAuthMiddleware } from 'switchyard/middleware';
 *
 * declare const routes: Route[];
 * const app = TokenAuthMiddleware(URLRouter(routes), {
 *   key: process.env.JWT_SECRET!, algorithms: ['HS256'], audience: 'chat',
 * });
 * // client: new WebSocket(`wss://host/ws/chat/lobby/?token=${jwt}`)
 * //     or: new WebSocket(url, ['chat.v1', `bearer.${jwt}`])
 * ```
 */
export function TokenAuthMiddleware<U extends AuthenticatedUser = AuthenticatedUser>(inner: Application, options: TokenAuthOptions<U>): Application {
  const key = typeof options.key === 'string' ? new TextEncoder().encode(options.key) : options.key;
  const algorithms = options.algorithms ?? ['HS256'];
  if (algorithms.length === 0 || algorithms.some((a) => a.toLowerCase() === 'none')) {
    throw new TypeError('TokenAuthMiddleware: algorithms must list at least one algorithm, and never "none"');
  }
  const requireExpiry = options.requireExpiry ?? true;
  const toUser = options.userFromClaims ?? (defaultUser as (claims: JWTPayload) => U | null);
  const prefix = options.subprotocolPrefix === undefined ? 'bearer.' : options.subprotocolPrefix;

  return middleware(inner, async function tokenAuthMiddleware(scope, receive, send, app) {
    if (scope.type !== 'http' && scope.type !== 'websocket') return app(scope, receive, send);
    const token = findToken(scope, options);
    if (token === null) {
      if (!options.required) return app(scope, receive, send);
      logger.warn({ path: scope.path }, 'connection refused: no bearer token');
      return deny(scope, receive, send, 401, 'Unauthorized');
    }
    let claims: JWTPayload;
    try {
      const verified = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], {
        algorithms,
        audience: options.audience,
        issuer: options.issuer,
        clockTolerance: options.clockTolerance ?? 5,
        requiredClaims: requireExpiry ? ['exp'] : [],
      });
      claims = verified.payload;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID';
      logger.warn({ path: scope.path, reason: code, message: (error as Error).message }, 'connection refused: bad bearer token');
      return deny(scope, receive, send, 401, 'Unauthorized');
    }
    const user = await toUser(claims);
    if (user === null) {
      logger.warn({ path: scope.path, sub: claims.sub ?? null }, 'connection refused: token names no user');
      return deny(scope, receive, send, 401, 'Unauthorized');
    }
    scope.user = user;
    scope.tokenClaims = claims;
    if (scope.type === 'websocket' && prefix !== null) scope.subprotocols = scope.subprotocols.filter((p) => !p.startsWith(prefix));
    await app(scope, receive, send);
  });
}
