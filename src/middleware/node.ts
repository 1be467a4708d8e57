/**
 * Sessions for Express, Connect and plain Node `(req, res)` handlers, shared
 * with the WebSocket side.
 *
 * How it works. {@link expressSession} takes the same {@link SessionManager}
 * (same store, same cookie name, same secrets) as `AuthMiddlewareStack`, so a
 * session written by an Express login route is the session a WebSocket
 * consumer reads on its next handshake. It parses the `Cookie` header, puts a
 * lazily loaded {@link Session} on `req.session` (and, with `loadUser`, the
 * user on `req.user`), and wraps `res.end`: when the session was modified,
 * it is saved first and the `Set-Cookie` header added, then the response
 * ends. `login(req, user)` and `logout(req)` from `auth.ts` work on `req`
 * as they do on a scope. Set the session before streaming a body: once
 * headers are sent, the cookie cannot be added (the save still happens).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logger } from '../log.js';
import { type AuthenticatedUser, type AuthOptions, type ScopeUser, getUser } from './auth.js';
import { type Cookies, parseCookie } from './cookies.js';
import { type Session, type SessionConfig, sessionManager } from './sessions.js';

/** What {@link expressSession} adds to a request. */
export interface SessionRequestFields<U extends AuthenticatedUser = AuthenticatedUser> {
  session: Session;
  sessionCookies: Cookies;
  /** Set when `loadUser` is given. */
  user?: ScopeUser<U>;
}

/** A Node/Express middleware function. */
export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * An Express/Connect middleware sharing sessions with the ASGI side.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { type Application, ProtocolTypeRouter } from 'switchyard';
 * import { type AuthenticatedUser, AuthMiddlewareStack, expressSession, login, RedisSessionStore, SessionManager, type UserLoader } from 'switchyard/middleware';
 * import { nodeHandler } from 'switchyard/server';
 *
 * declare const secret: string;
 * declare const router: Application;
 * declare const users: { byId: UserLoader; check(username: string, password: string): Promise<AuthenticatedUser | null> };
 * const sessions = new SessionManager({ store: new RedisSessionStore(), secrets: [secret] });
 * const web = express();
 * web.use(expressSession(sessions, { loadUser: users.byId }));
 * web.post('/login', express.urlencoded(), async (req, res) => {
 *   const user = await users.check(req.body.username, req.body.password);
 *   if (!user) return res.status(401).send('no');
 *   await login(req, user);
 *   res.redirect('/');
 * });
 * const app = ProtocolTypeRouter({ http: nodeHandler(web), websocket: AuthMiddlewareStack(router, { sessions, loadUser: users.byId }) });
 * ```
 */
export function expressSession<U extends AuthenticatedUser>(config: SessionConfig, auth?: AuthOptions<U>): NodeMiddleware {
  const manager = sessionManager(config);
  const saveEvery = manager.options.saveEveryRequest;
  return (req, res, next) => {
    const cookies = parseCookie(req.headers.cookie ?? '');
    const hadCookie = Object.hasOwn(cookies, manager.cookieName);
    const session = manager.open(hadCookie ? cookies[manager.cookieName] : undefined);
    const fields = req as IncomingMessage & SessionRequestFields<U>;
    fields.session = session;
    fields.sessionCookies = cookies;

    const end = res.end as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
    let committing = false;
    res.end = function sessionEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
      if (committing || res.statusCode === 500 || !(session.modified || saveEvery)) return end.apply(this, args);
      committing = true;
      manager.commit(session, hadCookie).then(
        (header) => {
          if (header !== null) {
            if (res.headersSent) logger.warn({ url: req.url }, 'session saved but its cookie could not be sent: headers were already sent');
            else res.appendHeader('Set-Cookie', header);
          }
          end.apply(this, args);
        },
        (error: unknown) => {
          logger.error({ err: error, url: req.url }, 'session save failed');
          if (!res.headersSent) res.statusCode = 500;
          end.apply(this, args);
        },
      );
      return this;
    } as ServerResponse['end'];

    if (auth === undefined) return next();
    getUser(fields, auth).then((user) => {
      fields.user = user;
      next();
    }, next);
  };
}
