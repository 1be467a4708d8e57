/**
 * What one WebSocket connection needs from the server around it.
 *
 * How this works. A `WebSocketBridge` (websocket.ts) runs one connection's
 * protocol and nothing else: it keeps no registry and counts nothing. It
 * needs three things from its host, the hub (websocket-hub.ts): the server's
 * context, a way to finish an accepted upgrade, and an ear for what happened
 * (the events of websocket-events.ts: a handshake began, was refused or
 * abandoned, the connection opened, a frame came in or went out, the send
 * buffer overflowed, the connection closed). The hub keeps its own sets of
 * handshaking and open connections from these events and passes every one
 * on to its observer.
 *
 * Dependencies go one way: hub → bridge → this file → websocket-events.ts.
 * The hub sees a connection only as a `Connection`: the few things it asks of one.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerContext } from './context.js';
import type { PeerEvents, PeerSocket } from './peer-socket.js';
import type { WebSocketEvents } from './websocket-events.js';

/** What the app chose at accept time. */
export interface Acceptance {
  subprotocol: string | null;
  /** The app's extra headers, checked, as `Name: value` lines (upgrade-response.ts). */
  headerLines: string[];
}

/** What a connection needs from the server around it (the hub). */
export interface WebSocketHost extends WebSocketEvents {
  readonly ctx: ServerContext;
  /** Completes an accepted handshake: writes the 101 with the app's choices, then hands over the socket. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: Acceptance, events: PeerEvents, done: (peer: PeerSocket) => void): void;
}
