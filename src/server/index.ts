/**
 * `switchyard/server`: run Switchyard (any ASGI) applications on a real port.
 *
 * @example
 * ```ts
 * import { serve, nodeHandler } from 'switchyard/server';
 * const server = await serve(application, { host: '0.0.0.0', port: 8000, handleSignals: true });
 * ```
 */
export { serve, type Server } from './server.js';
export { DEFAULT_OPTIONS, resolveOptions, type ServerOptions } from './options.js';
export { nodeHandler, scopeOf, NODE_HTTP, type NodeExchange, type NodeRequestHandler } from './node-handler.js';
export { LifespanError } from './lifespan.js';
export { createLogger, type Logger, type LoggerOptions } from './logging.js';
export { ServerMetrics } from './metrics.js';
export { SEND_BUFFER_CLOSE_CODE } from './websocket.js';
