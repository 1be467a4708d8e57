/**
 * `switchyard/server`: run Switchyard (any ASGI 3.0) applications on a real
 * port — the Daphne/Uvicorn of this project.
 *
 * ## From the command line
 * ```sh
 * npx switchyard serve examples/chat/app.ts:application --host 0.0.0.0 --port 8000
 * npx switchyard serve dist/app.js --workers 4            # needs a shared layer (CHANNEL_LAYER_URL=redis://...)
 * npx switchyard serve app.ts --ssl-keyfile key.pem --ssl-certfile cert.pem   # https:// and wss://
 * npx switchyard runworker app.ts:worker thumbnails-generate
 * ```
 * Every `serve` flag has a `SWITCHYARD_*` environment variable (`--help`
 * lists them). SIGTERM/SIGINT drain gracefully and exit 0; a failing
 * lifespan startup exits 3, a configuration error (a bad `CHANNEL_LAYER_URL`,
 * a `.ts` app without tsx installed) 1, before listening. `/livez` answers
 * 200 while the process runs; `/readyz` 503 until the channel layer answers
 * and while draining (both answered before the app; `--readiness-path off`
 * hands the path to the app). `--reload` restarts the app on source changes
 * (development; WebSockets close with 1012 and reconnecting clients return).
 *
 * ## What the server does, in ASGI terms
 * | situation | outcome |
 * |---|---|
 * | `websocket.close` before `websocket.accept`, `DenyConnection`, no route | handshake refused with HTTP 403 (Daphne), reason logged |
 * | app raises or returns during the handshake | HTTP 500, stack logged |
 * | app raises after accept / returns after accept | close 1011 / close 1000 |
 * | handshake not answered within `wsConnectTimeout` | HTTP 403 |
 * | peer silent past `wsPingInterval` + `wsPingTimeout` | dropped, `websocket.disconnect` 1006 |
 * | incoming message over `wsMaxSize` / invalid UTF-8 | close 1009 / 1007 |
 * | outgoing buffer over `wsSendHighWaterMark` (peer reading slowly) | the app's `websocket.send` waits until it drains |
 * | outgoing buffer over `wsMaxSendBuffer` (peer not reading) | close 1008, warning logged |
 * | server shutdown | close 1001 (handshakes in progress: HTTP 503) |
 * | HTTP app raises or returns without a response | 500 (or a dropped connection once bytes are out), stack logged |
 * | HTTP `RouteNotFound` | 404 |
 * | client leaves mid-response | `http.disconnect`; later sends are ignored |
 *
 * `websocket.disconnect` is delivered exactly once per connection.
 * Error codes: `SY_LIFESPAN_FAILED` ({@link LifespanError}).
 *
 * ## ASGI extensions in `scope.extensions`
 * - `websocket.http.response`: deny a handshake with a response of the app's own.
 * - `websocket.send.shared_frames`: a `websocket.send` whose `text` equals the
 *   last text the server framed is not framed again: every socket it goes to
 *   gets the very same frame bytes (connections without permessage-deflate).
 *   A broadcast that hands every member the same string is encoded once,
 *   whoever wrote the app; nothing to call.
 * - `http.response.trailers`: HTTP trailers after a body started with `trailers: true`.
 *
 * ## From code
 * @example
 * ```ts
 * import express from 'express';
 * import { ProtocolTypeRouter, URLRouter, WebsocketConsumer, path } from 'switchyard';
 * import { serve, nodeHandler } from 'switchyard/server';
 *
 * class ChatConsumer extends WebsocketConsumer {}
 * const web = express();
 * web.get('/health', (_req, res) => res.send('ok'));
 * const application = ProtocolTypeRouter({
 *   http: nodeHandler(web),
 *   websocket: URLRouter([path('ws/chat/<room>/', ChatConsumer.asApp())]),
 * });
 * const server = await serve(application, { port: 8000, metricsPath: '/metrics', handleSignals: true });
 * console.log(`Serving on ${server.url}`);
 * ```
 */
export { serve, type Server } from './server.js';
export { DEFAULT_OPTIONS, resolveOptions, type ServerOptions } from './options.js';
export type { FallbackOptions } from './fallback-options.js';
export { nodeHandler, scopeOf, NODE_HTTP, type NodeExchange, type NodeRequestHandler } from './node-handler.js';
export { LifespanError } from './lifespan.js';
export { createLogger, processFields, type Logger, type LoggerOptions } from './logging.js';
export { HealthEndpoints, type HealthOptions } from './health.js';
export { ServerMetrics } from './metrics.js';
export { loadApplication } from './load.js';
export { SEND_BUFFER_CLOSE_CODE } from './close-codes.js';
