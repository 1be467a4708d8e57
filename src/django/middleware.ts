/**
 * The Django middleware: `DjangoSessionMiddleware` (Django's session in
 * `scope.session`), `DjangoAuthMiddleware` (Django's user in `scope.user`)
 * and `DjangoAuthMiddlewareStack` (cookies, session, user).
 *
 * How it works. The session middleware opens the session named by the
 * `sessionid` cookie as an ordinary Switchyard `Session` (so `getSession()`
 * works), backed by a read-only store. The auth middleware loads the user
 * before the inner application runs: a tampered, expired or foreign-key
 * cookie, or pickled session data, gives an `AnonymousUser`, never an error.
 * A database that cannot be reached is the one failure that refuses the
 * connection: the handshake is answered 503 where the server supports
 * denial responses (403 elsewhere), the HTTP request 503, and one line is
 * logged at `error` with the code `SY_DJANGO_DATABASE`.
 */
import type { Application, Receive, Scope, Send } from '../asgi.js';
import { utf8 } from '../asgi.js';
import { logger } from '../log.js';
import { CookieMiddleware, Session, deny, isAuthenticated, middleware } from '../middleware/index.js';
import { getDjangoUser } from './auth.js';
import { DjangoDatabaseError } from './errors.js';
import type { DjangoSite } from './site.js';

/**
 * Puts the Django session of the `sessionid` cookie in `scope.session`
 * (read-only). Needs `CookieMiddleware` above it.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { CookieMiddleware } from 'switchyard/middleware';
 * import { DjangoSessionMiddleware, DjangoSite } from 'switchyard/django';
 *
 * declare const inner: Application;
 * const site = DjangoSite.fromEnv();
 * const app = CookieMiddleware(DjangoSessionMiddleware(inner, site));
 * // in a consumer: await getSession(this.scope).get('cart')
 * ```
 */
export function DjangoSessionMiddleware(inner: Application, site: DjangoSite): Application {
  return middleware(inner, function djangoSessionMiddleware(scope, receive, send, app) {
    const cookies = scope.cookies as Record<string, string> | undefined;
    if (cookies === undefined) {
      throw new TypeError('No cookies in scope - DjangoSessionMiddleware needs to run inside of CookieMiddleware.');
    }
    scope.session = site.openSession(Object.hasOwn(cookies, site.sessionCookieName) ? cookies[site.sessionCookieName] : undefined);
    return app(scope, receive, send);
  });
}

async function unavailable(scope: Scope, receive: Receive, send: Send): Promise<void> {
  const text = utf8('Service Unavailable\n');
  if (scope.type === 'websocket' && scope.extensions?.['websocket.http.response'] !== undefined) {
    const event = await receive();
    if (event.type === 'websocket.disconnect') return;
    await send({ type: 'websocket.http.response.start', status: 503, headers: [[utf8('content-type'), utf8('text/plain; charset=utf-8')]] });
    await send({ type: 'websocket.http.response.body', body: text });
    return;
  }
  await deny(scope, receive, send, 503, 'Service Unavailable');
}

/**
 * Puts the Django user of `scope.session` in `scope.user` (a `DjangoUser`
 * or an `AnonymousUser`). Needs `DjangoSessionMiddleware` above it. A user
 * already set by an outer middleware (a token) is kept.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { CookieMiddleware } from 'switchyard/middleware';
 * import { DjangoAuthMiddleware, DjangoSessionMiddleware, DjangoSite } from 'switchyard/django';
 *
 * declare const inner: Application;
 * const site = DjangoSite.fromEnv();
 * const app = CookieMiddleware(DjangoSessionMiddleware(DjangoAuthMiddleware(inner, site), site));
 * ```
 */
export function DjangoAuthMiddleware(inner: Application, site: DjangoSite): Application {
  return middleware(inner, async function djangoAuthMiddleware(scope, receive, send, app) {
    if (!(scope.session instanceof Session)) {
      throw new TypeError('DjangoAuthMiddleware cannot find session in scope. DjangoSessionMiddleware must be above it.');
    }
    if (!isAuthenticated(scope.user)) {
      try {
        scope.user = await getDjangoUser(scope.session, site);
      } catch (error) {
        if (!(error instanceof DjangoDatabaseError)) throw error;
        logger.error({ code: error.code, path: scope.path }, `Django database unavailable: ${error.message} (${scope.type === 'websocket' ? 'handshake' : 'request'} refused)`);
        return unavailable(scope, receive, send);
      }
    }
    return app(scope, receive, send);
  });
}

/**
 * Cookies, Django's session and Django's user: the stack that makes a
 * Switchyard service see the user signed in on the Django site.
 *
 * @example
 * ```ts
 * import { ProtocolTypeRouter, type Route, URLRouter } from 'switchyard';
 * import { AllowedHostsOriginValidator } from 'switchyard/middleware';
 * import { DjangoAuthMiddlewareStack, DjangoSite } from 'switchyard/django';
 *
 * declare const routes: Route[];
 * const site = new DjangoSite({ secretKey: process.env.DJANGO_SECRET_KEY!, database: 'postgres://django@db/mysite' });
 * export const application = ProtocolTypeRouter({
 *   websocket: AllowedHostsOriginValidator(DjangoAuthMiddlewareStack(URLRouter(routes), site)),
 * });
 * ```
 */
export function DjangoAuthMiddlewareStack(inner: Application, site: DjangoSite): Application {
  return CookieMiddleware(DjangoSessionMiddleware(DjangoAuthMiddleware(inner, site), site));
}
