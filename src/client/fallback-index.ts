/**
 * `switchyard/client/fallback`: the client side of the HTTP fallback (event
 * streams or long polls down, POSTs up), for networks that block WebSockets.
 * A module of its own, apart from `switchyard/client`, so that the core
 * client stays small; the browser bundle is `switchyard/client/fallback/browser`.
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 * import { withFallback } from 'switchyard/client/fallback';
 *
 * const room = new ReconnectingWebsocket(`wss://${location.host}/ws/chat/lobby/`, { WebSocket: withFallback() });
 * ```
 */
export { FallbackWebsocket, fallbackWebsocket, type FallbackOptions } from './fallback.js';
export { withFallback, type AutoFallbackOptions } from './fallback-auto.js';
