/**
 * `switchyard/client`: a reconnecting WebSocket client for browsers and Node.
 *
 * It has no dependencies and imports nothing from Node, so the same module
 * runs in a page (bundled, see `scripts/build-client.mjs`) and in Node 20
 * (pass `{ WebSocket }` from the `ws` package).
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 *
 * const room = new ReconnectingWebsocket(`ws://${location.host}/ws/chat/lobby/`);
 * room.on('open', ({ reconnected }) => console.log(reconnected ? 'back' : 'connected'));
 * room.on('message', ({ data, json }) => json && console.log(data));
 * room.sendJson({ message: 'hi', username: 'ada' });
 * ```
 *
 * @example Typed by the server's protocol, with request/reply
 * ```ts
 * import { z } from 'zod';
 * import { defineProtocol } from 'switchyard';
 * import { ReconnectingWebsocket } from 'switchyard/client';
 *
 * // Usually `import type { room } from './server/protocol.js'`: types only reach the page.
 * const room = defineProtocol({
 *   messages: { say: z.object({ text: z.string() }) },
 *   requests: { rename: { input: z.object({ name: z.string() }), output: z.object({ name: z.string() }) } },
 * });
 * const client = new ReconnectingWebsocket<typeof room>('wss://chat.example.com/ws/room/');
 * client.sendJson({ type: 'say', text: 'hi' });
 * const { name } = await client.request('rename', { name: 'ada' }, { timeout: 5000, retry: 'once' });
 * ```
 *
 * The HTTP fallback for networks that block WebSockets is a module of its
 * own, `switchyard/client/fallback` (browser bundle
 * `switchyard/client/fallback/browser`), so that pages which do not need it
 * do not load it.
 */
export { ReconnectingWebsocket, ReconnectingWebSocket } from './reconnecting-websocket.js';
export { backoffCeiling, backoffDelay, type BackoffOptions } from './backoff.js';
export type { OverflowPolicy } from './send-queue.js';
export type { Listener } from './emitter.js';
export type { RecoveryDetail } from './recovery.js';
export { RequestError, type RequestIssue, type RequestOptions } from './requests.js';
export type { ClientMessage, ProtocolOf, RequestInput, RequestName, RequestReply, ServerFrame } from '../consumers/schema.js';
export type { ClientOptions, HeartbeatOptions, Outgoing, WebsocketConstructor, WebsocketLike, WebSocketConstructor, WebSocketLike } from './options.js';
export {
  CLOSE_CONNECT_TIMEOUT,
  CLOSE_HEARTBEAT_TIMEOUT,
  type ClientEvents,
  type ClientState,
  type CloseDetail,
  type DropDetail,
  type ErrorDetail,
  type MessageDetail,
  type OpenDetail,
  type ReconnectingDetail,
  type StateDetail,
} from './events.js';
