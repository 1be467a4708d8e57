/**
 * The middleware pattern (Django's `BaseMiddleware`), and the denier that
 * refuses a connection.
 *
 * How it works. A middleware is an application that wraps another one: it
 * receives the scope, copies it (with `Object.assign`, which keeps symbol
 * keys and, unlike a spread, a shared hidden class: see {@link scopeWith}),
 * adds what it knows (cookies, session, user) and calls the inner
 * application. One middleware serves every connection, so it never keeps
 * per-connection state on itself: what belongs to a connection lives in the
 * copied scope or in the closure of that one call. A middleware that only
 * reads the scope (the origin check, the limits) needs no copy and makes
 * none ({@link passThroughMiddleware}). Every middleware made
 * with {@link middleware} inherits the inner app's path-routing mark, so a
 * `URLRouter` route whose app is middleware around a router still matches
 * as a prefix.
 */
import type { Application, Receive, Scope, Send } from '../asgi.js';
import { utf8 } from '../asgi.js';
import { inheritPathRouting } from '../routing.js';

/**
 * Header bytes as latin-1 text, read in place. `Buffer.from(bytes)` would copy
 * them into Node's shared allocation pool first, and every connection's scan of
 * its headers would then keep pool memory alive (about 300 bytes per connection).
 * Internal to the middleware: not exported from `switchyard/middleware`.
 */
export function latin1Text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * Whether a header's name bytes spell `name` (lower-case ASCII), compared in
 * place: scanning a request's headers makes no string or Buffer per header.
 * With `anyCase`, upper-case letters of the bytes match too.
 * Internal to the middleware, as {@link latin1Text}.
 */
export function headerNameIs(bytes: Uint8Array, name: string, anyCase = false): boolean {
  if (bytes.length !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const byte = bytes[i]!;
    if ((anyCase && byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte) !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** What a middleware does with one connection: typically enrich `scope` and `return inner(scope, receive, send)`. */
export type MiddlewareHandler = (scope: Scope, receive: Receive, send: Send, inner: Application) => Promise<void>;

/**
 * Builds a middleware application around `inner`. The scope handed to
 * `handle` is already a copy: change it freely.
 *
 * @example
 * ```ts
 * import { randomUUID } from 'node:crypto';
 * import { type Application, scopeWith } from 'switchyard';
 * import { middleware } from 'switchyard/middleware';
 *
 * const WithRequestId = (inner: Application) =>
 *   middleware(inner, (scope, receive, send, app) => app(scopeWith(scope, { requestId: randomUUID() }), receive, send));
 * ```
 */
export function middleware(inner: Application, handle: MiddlewareHandler): Application {
  const app: Application = (scope, receive, send) => {
    // A handler need not be async (one that only enriches the scope and returns the inner
    // app's promise holds no frame per connection); its synchronous throw still rejects.
    try {
      return handle(Object.assign({}, scope), receive, send, inner);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  Object.defineProperty(app, 'name', { value: `${handle.name || 'middleware'}(${inner.name || 'app'})` });
  return inheritPathRouting(app, inner);
}

/**
 * A middleware that only reads the scope (a check, a limit): unlike
 * {@link middleware}, `handle` gets the scope as it came, and passes it on
 * as it is, so a connection costs no copy here. Internal: a handler that
 * adds to the scope must use {@link middleware}.
 */
export function passThroughMiddleware(inner: Application, handle: MiddlewareHandler): Application {
  const app: Application = (scope, receive, send) => {
    try {
      return handle(scope, receive, send, inner);
    } catch (error) {
      return Promise.reject(error);
    }
  };
  Object.defineProperty(app, 'name', { value: `${handle.name || 'middleware'}(${inner.name || 'app'})` });
  return inheritPathRouting(app, inner);
}

/**
 * Django's `BaseMiddleware`, for those who prefer a class: override
 * {@link BaseMiddleware.call} and pass `instance.asApp()` where an
 * application is expected.
 *
 * @example
 * ```ts
 * import { type Application, logger, type Receive, type Scope, type Send } from 'switchyard';
 * import { BaseMiddleware } from 'switchyard/middleware';
 *
 * declare const inner: Application;
 * class QueryStringLogger extends BaseMiddleware {
 *   override async call(scope: Scope, receive: Receive, send: Send) {
 *     logger.info({ qs: String(scope.query_string) });
 *     await super.call(scope, receive, send);
 *   }
 * }
 * const app = new QueryStringLogger(inner).asApp();
 * ```
 */
export class BaseMiddleware {
  readonly inner: Application;
  constructor(inner: Application) {
    this.inner = inner;
  }

  /** Copies the scope and calls the inner application. */
  async call(scope: Scope, receive: Receive, send: Send): Promise<void> {
    await this.inner(Object.assign({}, scope), receive, send);
  }

  /** This middleware as an ASGI application. */
  asApp(): Application {
    return inheritPathRouting((scope, receive, send) => this.call(scope, receive, send), this.inner);
  }
}

/**
 * Refuses a connection before the inner application ever runs: a WebSocket
 * handshake is closed before accept (the server answers HTTP 403, as Django's
 * `WebsocketDenier`), an HTTP request gets `status` with a short text body.
 *
 * @example
 * ```ts
 * import type { Application } from 'switchyard';
 * import { deny } from 'switchyard/middleware';
 *
 * const OfficeHoursOnly = (inner: Application): Application => (scope, receive, send) => {
 *   const hour = new Date().getHours();
 *   if (hour < 9 || hour >= 18) return deny(scope, receive, send);
 *   return inner(scope, receive, send);
 * };
 * ```
 */
export async function deny(scope: Scope, receive: Receive, send: Send, status = 403, text = 'Forbidden'): Promise<void> {
  if (scope.type === 'websocket') {
    const event = await receive();
    if (event.type === 'websocket.disconnect') return;
    await send({ type: 'websocket.close' });
    return;
  }
  if (scope.type === 'http') {
    const body = utf8(`${text}\n`);
    await send({
      type: 'http.response.start',
      status,
      headers: [
        [utf8('content-type'), utf8('text/plain; charset=utf-8')],
        [utf8('content-length'), utf8(String(body.length))],
      ],
    });
    await send({ type: 'http.response.body', body });
  }
}
