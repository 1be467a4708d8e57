/**
 * Sessions: `SessionManager` (cookie ⇄ store) and Django's
 * `SessionMiddleware` / `SessionMiddlewareStack`. The `Session` object a
 * connection gets is in `session.ts` (re-exported here).
 *
 * How it works. The session cookie carries a *signed* token
 * (`token.timestamp.hmac`, see `signing.ts`); the token names the session in
 * the store (or, with the signed-cookie store, is the data). A cookie that is
 * unsigned, tampered with, signed by an unknown secret or older than
 * `maxAge` is ignored, exactly as no cookie: the connection gets a new, empty
 * session (and so an anonymous user). Nothing is read from the store until
 * the session is first used (`await session.get(...)`), so a request that
 * never touches its session costs no store round trip.
 *
 * Saving follows Django: over HTTP the session is saved when the app sends
 * `http.response.start` with a status other than 500 and the session was
 * modified (or `saveEveryRequest`), and the response gets the `Set-Cookie`
 * (or a deleting one when the session became empty). Over WebSocket there is
 * no response to carry a cookie: save explicitly with `await
 * session.save()`; the browser keeps its cookie, so this works for sessions
 * that already had one.
 *
 * A store that cannot be reached (`SessionStoreUnavailableError`, Redis
 * down) fails the session's reads and writes fast; when that error escapes
 * the application before it answered, the middleware answers 503 (the
 * WebSocket handshake is refused with 503) and logs one line for the outage
 * (`session-stores/unavailable.ts`). A failed load is not remembered: the
 * next read of the session tries the store again.
 */
import type { Application, HttpResponseStartEvent, Receive, Scope, Send, SendEvent } from '../asgi.js';
import { ImproperlyConfigured, SessionStoreUnavailableError, SessionUpdateError, SuspiciousOperation } from '../errors.js';
import { middleware } from './base.js';
import { CookieMiddleware, formatSetCookie, httpDate } from './cookies.js';
import type { SessionStore } from './session-stores/base.js';
import { MemorySessionStore } from './session-stores/memory.js';
import { SignedCookieSessionStore } from './session-stores/signed-cookie.js';
import { type RefusedScope, refuseSessionUnavailable } from './session-stores/unavailable.js';
import { Session } from './session.js';
import { Signer } from './signing.js';

export { Session } from './session.js';

/** Session settings, with Django's defaults. */
export interface SessionOptions {
  /** Secrets for the cookie signature: the first signs, all verify. Default: `SWITCHYARD_SECRET_KEYS` (comma-separated); required. */
  secrets?: string | readonly string[];
  /** Where sessions live. Default: a new `MemorySessionStore`. */
  store?: SessionStore;
  /** Default `sessionid`. */
  cookieName?: string;
  /** Seconds a session lives (cookie `Max-Age`, store TTL, signature age). Default 1209600 (two weeks). */
  maxAge?: number;
  /** Default `/`. */
  cookiePath?: string;
  /** Default none (the host only). */
  cookieDomain?: string | null;
  /** Send the cookie over HTTPS only. Default `false`. */
  secure?: boolean;
  /** Hide the cookie from scripts. Default `true`. */
  httpOnly?: boolean;
  /** `Strict`, `Lax` or `None`. Default `Lax`. */
  sameSite?: 'Strict' | 'Lax' | 'None' | 'strict' | 'lax' | 'none';
  /** Save (and re-send the cookie) on every HTTP response. Default `false`. */
  saveEveryRequest?: boolean;
  /** A cookie without `Max-Age`, gone when the browser closes. Default `false`. */
  expireAtBrowserClose?: boolean;
}

const DEFAULTS = {
  cookieName: 'sessionid',
  maxAge: 1209600,
  cookiePath: '/',
  cookieDomain: null,
  secure: false,
  httpOnly: true,
  sameSite: 'Lax',
  saveEveryRequest: false,
  expireAtBrowserClose: false,
} as const;

/**
 * Turns session cookies into {@link Session}s and back. One manager (one
 * store, one cookie) can serve the ASGI middleware and the Node/Express
 * middleware at once, so an HTTP login is seen by WebSocket consumers.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { type Route, URLRouter } from 'switchyard';
 * import { AuthMiddlewareStack, expressSession, RedisSessionStore, SessionManager, type UserLoader } from 'switchyard/middleware';
 *
 * declare const routes: Route[];
 * declare const loadUser: UserLoader;
 * const sessions = new SessionManager({ store: new RedisSessionStore(), secrets: [process.env.SECRET!] });
 * const app = AuthMiddlewareStack(URLRouter(routes), { sessions, loadUser });
 * express().use(expressSession(sessions));
 * ```
 */
export class SessionManager {
  readonly store: SessionStore;
  readonly options: Required<Omit<SessionOptions, 'secrets' | 'store'>>;
  readonly #signer: Signer;

  constructor(options: SessionOptions = {}) {
    const secrets = options.secrets ?? process.env.SWITCHYARD_SECRET_KEYS?.split(',').map((s) => s.trim()).filter(Boolean);
    if (secrets === undefined || secrets.length === 0) {
      throw new ImproperlyConfigured('Sessions need a secret: pass { secrets: [...] } or set SWITCHYARD_SECRET_KEYS');
    }
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULTS, ...defined } as SessionManager['options'];
    if (!['strict', 'lax', 'none'].includes(this.options.sameSite.toLowerCase())) {
      throw new TypeError("samesite must be either 'strict', 'lax' or 'none'");
    }
    this.store = options.store ?? new MemorySessionStore();
    this.#signer = new Signer(secrets, { salt: 'switchyard.sessions' });
  }

  get cookieName(): string {
    return this.options.cookieName;
  }

  /** The session named by a cookie value (a new empty one when the value is missing or not validly signed). */
  open(cookieValue: string | undefined): Session {
    const token = cookieValue === undefined ? null : this.#signer.unsign(cookieValue, this.options.maxAge);
    return new Session(this.store, token, this.options.maxAge);
  }

  /** The cookie value for a saved session's token. */
  cookieValue(session: Session): string | null {
    return session.sessionKey === null ? null : this.#signer.sign(session.sessionKey);
  }

  /**
   * Saves `session` and returns the `Set-Cookie` value to send: a new cookie,
   * a deleting one (the session is now empty and the client had a cookie),
   * or `null`. A session deleted meanwhile is a `SuspiciousOperation`.
   */
  async commit(session: Session, clientHadCookie: boolean): Promise<string | null> {
    try {
      await session.save();
    } catch (error) {
      if (error instanceof SessionUpdateError) {
        throw new SuspiciousOperation(
          "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.",
        );
      }
      throw error;
    }
    const { cookieName, cookiePath, cookieDomain } = this.options;
    const value = this.cookieValue(session);
    if (value === null) {
      return clientHadCookie
        ? formatSetCookie(cookieName, '', { maxAge: 0, path: cookiePath, domain: cookieDomain, expires: 'Thu, 01-Jan-1970 00:00:00 GMT' })
        : null;
    }
    const { maxAge, expireAtBrowserClose } = this.options;
    return formatSetCookie(cookieName, value, {
      maxAge: expireAtBrowserClose ? null : maxAge,
      expires: expireAtBrowserClose ? null : httpDate(Date.now() / 1000 + maxAge),
      domain: cookieDomain,
      path: cookiePath,
      secure: this.options.secure,
      httpOnly: this.options.httpOnly,
      sameSite: this.options.sameSite,
    });
  }
}

/**
 * The session a middleware put in the scope; throws when there is none.
 *
 * @example
 * ```ts
 * import type { Scope } from 'switchyard';
 * import { getSession } from 'switchyard/middleware';
 *
 * declare const scope: Scope; // with scope.session set by SessionMiddleware
 * const cart = await getSession(scope).get<string[]>('cart');
 * ```
 */
export function getSession(scope: object): Session {
  const session = (scope as { session?: unknown }).session;
  if (!(session instanceof Session)) {
    throw new TypeError('Cannot find session in scope. You should wrap your consumer in SessionMiddleware.');
  }
  return session;
}

/** A manager, or the options to build one. */
export type SessionConfig = SessionManager | SessionOptions;

/**
 * Returns `config` if it is a manager, else a new manager for it.
 *
 * @example
 * ```ts
 * import { sessionManager } from 'switchyard/middleware';
 *
 * const manager = sessionManager({ secrets: [process.env.SECRET_KEY!] });
 * ```
 */
export function sessionManager(config: SessionConfig = {}): SessionManager {
  return config instanceof SessionManager ? config : new SessionManager(config);
}

/**
 * Adds `scope.session` (Django's `SessionMiddleware`); must run inside
 * `CookieMiddleware`. A scope that already has a session passes through
 * untouched (the outer session middleware saves). A store that cannot be
 * reached before the app answered gives 503 (HTTP and WebSocket handshake).
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { CookieMiddleware, SessionMiddleware } from 'switchyard/middleware';
 *
 * declare const inner: Application;
 * const app = CookieMiddleware(SessionMiddleware(inner, { secrets: [process.env.SECRET_KEY!] }));
 * ```
 */
export function SessionMiddleware(inner: Application, config: SessionConfig = {}): Application {
  const manager = sessionManager(config);
  // A store in this process never becomes unreachable: its WebSockets need no AnswerWatch.
  const canBeUnavailable = !isInProcess(manager.store);
  return middleware(inner, function sessionMiddleware(scope, receive, send, app) {
    if (scope.session !== undefined) return app(scope, receive, send);
    const cookies = scope.cookies as Record<string, string> | undefined;
    if (cookies === undefined) {
      throw new TypeError('No cookies in scope - SessionMiddleware needs to run inside of CookieMiddleware.');
    }
    const hadCookie = Object.hasOwn(cookies, manager.cookieName);
    const session = manager.open(hadCookie ? cookies[manager.cookieName] : undefined);
    scope.session = session;
    if (scope.type === 'http') return httpSession(manager, session, hadCookie, scope, receive, send, app);
    if (!canBeUnavailable) return app(scope, receive, send);
    const watch = new AnswerWatch(scope, send);
    return Promise.resolve(app(scope, receive, watch.send)).catch(watch.failed);
  });
}

/**
 * True for the stores of this package that keep sessions in this process or in the cookie, which
 * cannot throw `SessionStoreUnavailableError`; a subclass may do I/O, so only these exact classes.
 */
function isInProcess(store: SessionStore): boolean {
  return store.constructor === MemorySessionStore || store.constructor === SignedCookieSessionStore;
}

/** HTTP saves the session on the response start, and answers 503 when the store is away before that. */
function httpSession(
  manager: SessionManager, session: Session, hadCookie: boolean, scope: Scope, receive: Receive, send: Send, app: Application,
): Promise<void> {
  const saveEvery = manager.options.saveEveryRequest;
  /** Set once the app sent something that answers the connection: a 503 is too late then. */
  let answered = false;
  const commitThenSend = async (event: HttpResponseStartEvent): Promise<void> => {
    const header = await manager.commit(session, hadCookie);
    if (header !== null) {
      event = { ...event, headers: [...(event.headers ?? []), [Buffer.from('Set-Cookie'), Buffer.from(header, 'utf8')]] };
    }
    answered = true;
    await send(event);
  };
  const sessionSend: Send = async (event) => {
    if (event.type === 'http.response.start' && event.status !== 500 && (session.modified || saveEvery)) return commitThenSend(event);
    if (event.type === 'http.response.start') answered = true;
    await send(event);
  };
  return Promise.resolve(app(scope, receive, sessionSend)).catch((error: unknown) => {
    if (!(error instanceof SessionStoreUnavailableError) || answered) throw error;
    return refuseSessionUnavailable(scope, send, error);
  });
}

/**
 * A WebSocket's side of the session middleware: notes when the app has
 * answered the handshake (a 503 is too late then) and turns a store outage
 * before that into a refusal. Its state is one object and its `send` and
 * `failed` are its methods, bound once: an open connection keeps no scope
 * and no closures here, and a frame costs no promise of ours.
 */
class AnswerWatch {
  readonly send: Send;
  readonly failed: (error: unknown) => Promise<void>;
  readonly #send: Send;
  /** What a refusal reads of the scope (not the scope: the app holds its own copy). */
  readonly #type: Scope['type'];
  readonly #path: string | undefined;
  readonly #extensions: RefusedScope['extensions'];
  #answered = false;

  constructor(scope: Scope, send: Send) {
    this.#send = send;
    this.#type = scope.type;
    this.#path = (scope as { path?: string }).path;
    this.#extensions = (scope as RefusedScope).extensions;
    this.send = this.#forward.bind(this);
    this.failed = this.#failed.bind(this);
  }

  #forward(event: SendEvent): Promise<void> {
    if (event.type !== 'websocket.send') this.#answered = true;
    return this.#send(event);
  }

  #failed(error: unknown): Promise<void> {
    if (!(error instanceof SessionStoreUnavailableError) || this.#answered) throw error;
    return refuseSessionUnavailable({ type: this.#type, path: this.#path, extensions: this.#extensions }, this.#send, error);
  }
}

/**
 * Cookies, then sessions (Django's `SessionMiddlewareStack`).
 *
 * @example
 * ```ts
 * import { type Route, URLRouter } from 'switchyard';
 * import { RedisSessionStore, SessionMiddlewareStack } from 'switchyard/middleware';
 *
 * declare const routes: Route[];
 * const app = SessionMiddlewareStack(URLRouter(routes), { store: new RedisSessionStore(), secrets: [process.env.SECRET_KEY!] });
 * ```
 */
export function SessionMiddlewareStack(inner: Application, config: SessionConfig = {}): Application {
  return CookieMiddleware(SessionMiddleware(inner, config));
}
