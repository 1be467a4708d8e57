/**
 * Plain Node `(req, res)` handlers (and so Express, Connect, Fastify's
 * `routing`, Hono's Node adapter) as the `http` branch of a Switchyard app.
 *
 * How it works. For every HTTP request the server puts a {@link NodeExchange}
 * into the scope under the {@link NODE_HTTP} symbol: the raw `req`/`res`
 * and a `claim()` function. Routers and middleware copy scopes with spread,
 * which keeps symbol keys, so the exchange reaches the branch. The app made
 * by {@link nodeHandler} claims the exchange (the server then leaves the
 * response alone: no ASGI events, no 500 when the app returns), runs the
 * handler on the untouched request (body unread, so body parsers work) and
 * resolves when the response is finished or the client is gone. The scope as
 * middleware left it (cookies, session, user) is available to the handler
 * through {@link scopeOf}.
 *
 * Outside the Switchyard server (a test communicator, another ASGI server)
 * there is no Node request to hand over: the handler then runs on an
 * emulated request and response over ASGI events (`node-bridge.ts`), so an
 * Express branch can be tested with `HttpCommunicator`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Application, HttpScope } from '../asgi.js';
import { ProtocolError } from '../errors.js';
import { invokeNodeHandler, runDetached } from './node-bridge.js';

/** Scope key under which the server hands over the raw Node request and response. */
export const NODE_HTTP: unique symbol = Symbol.for('switchyard.nodeHttp');

/** What the server puts in the scope under {@link NODE_HTTP}. */
export interface NodeExchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** Tells the server the app answers on `res` itself. */
  claim(): void;
}

/** A Node request listener; Express apps and routers are ones. */
export type NodeRequestHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => unknown;

const scopes = new WeakMap<IncomingMessage, HttpScope>();

/**
 * The ASGI scope (after middleware) of a request served through
 * {@link nodeHandler}: read `scope.session`, `scope.user`, `scope.cookies`
 * from an Express route.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { scopeOf } from 'switchyard/server';
 *
 * const expressApp = express();
 * expressApp.get('/me', (req, res) => res.json({ user: scopeOf(req)?.user }));
 * ```
 */
export function scopeOf(req: IncomingMessage): HttpScope | undefined {
  return scopes.get(req);
}

/** The exchange a scope carries, if the Switchyard server made it. */
export function exchangeOf(scope: object): NodeExchange | undefined {
  return (scope as { [NODE_HTTP]?: NodeExchange })[NODE_HTTP];
}

/**
 * Turns a Node request handler into an ASGI app for the `http` scope.
 * A request the handler passes on (`next()`) gets a 404; `next(err)` or a
 * thrown error gets a 500 and a logged stack from the server.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { path, ProtocolTypeRouter, URLRouter, WebsocketConsumer } from 'switchyard';
 * import { nodeHandler } from 'switchyard/server';
 *
 * class ChatConsumer extends WebsocketConsumer {}
 * const web = express();
 * web.get('/health', (_req, res) => res.send('ok'));
 * export const application = ProtocolTypeRouter({
 *   http: nodeHandler(web),
 *   websocket: URLRouter([path('ws/chat/<room>/', ChatConsumer.asApp())]),
 * });
 * ```
 */
export function nodeHandler(handler: NodeRequestHandler): Application {
  return async (scope, receive, send) => {
    if (scope.type !== 'http') throw new ProtocolError(`nodeHandler() serves the http scope only (got '${scope.type}')`);
    const exchange = exchangeOf(scope);
    if (exchange === undefined) {
      // No raw request to take over (a test communicator, another server): emulate one over ASGI events.
      return runDetached(handler, scope, receive, send, (req) => scopes.set(req, scope));
    }
    exchange.claim();
    const { req, res } = exchange;
    scopes.set(req, scope);
    await new Promise<void>((resolve, reject) => {
      if (res.writableFinished || res.destroyed) return resolve();
      res.once('close', () => resolve());
      invokeNodeHandler(handler, req, res, reject);
    });
  };
}
