/**
 * The open WebSocket under a connection, as the bridge sees it: Switchyard's
 * own framing (plain-websocket.ts) on a connection without extensions, a
 * `ws` WebSocket on one with permessage-deflate. Both send and close the
 * same way and report the same four events, so the bridge never asks which
 * it has.
 */
import type { WebSocket } from 'ws';

/** What the bridge does with the open WebSocket (a `ws` WebSocket has all of it). */
export interface PeerSocket {
  /** 1 while open; 2 once either side's close frame went out or came in; 3 once the socket closed. */
  readonly readyState: number;
  /** The negotiated extensions ('' for none). */
  readonly extensions: string;
  /** Bytes waiting to be written. */
  readonly bufferedAmount: number;
  send(data: string | Uint8Array, options: { binary: boolean }): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /** Stops (and resumes) reading from the peer. */
  pause(): void;
  resume(): void;
}

/** What the open WebSocket reports to its connection. */
export interface PeerEvents {
  /** A whole message (text is valid UTF-8). */
  received(data: Buffer, isBinary: boolean): void;
  /** A pong came back. */
  heard(): void;
  /** What the peer sent broke the protocol (`err.code` is one of `ws`'s `WS_ERR_*`): a close frame with its code is on its way. */
  failed(err: Error & { code?: string }): void;
  /** The socket closed: the code of the peer's close frame (1005 for none, 1006 for no frame at all), and its reason. */
  closed(code: number, reason: Buffer): void;
}

/** The connection that owns a `ws` socket, so its listeners can be shared functions rather than closures per connection. */
const OWNER = Symbol('switchyard.peer-events');
type OwnedSocket = WebSocket & { [OWNER]: PeerEvents };

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void { (this as OwnedSocket)[OWNER].received(data, isBinary); }
function onPong(this: WebSocket): void { (this as OwnedSocket)[OWNER].heard(); }
function onError(this: WebSocket, err: Error & { code?: string }): void { (this as OwnedSocket)[OWNER].failed(err); }
function onClose(this: WebSocket, code: number, reason: Buffer): void { (this as OwnedSocket)[OWNER].closed(code, reason); }

/** Reports a `ws` WebSocket's events to `events`. */
export function listenTo(ws: WebSocket, events: PeerEvents): PeerSocket {
  (ws as OwnedSocket)[OWNER] = events;
  ws.on('message', onMessage);
  ws.on('pong', onPong);
  ws.on('error', onError);
  ws.on('close', onClose);
  return ws;
}
