/**
 * The contract between one WebSocket connection and the server around it.
 *
 * How this works. A `WebSocketBridge` (websocket.ts) runs one connection's
 * protocol and nothing else: it keeps no registry and counts nothing. It
 * needs three things from its host, the hub (websocket-hub.ts): the server's
 * context, a way to finish an accepted upgrade, and an ear for what happened
 * ({@link WebSocketEvents}: a handshake began, was refused or abandoned, the
 * connection opened, a frame came in or went out, the send buffer
 * overflowed, the connection closed). The hub keeps its own sets of
 * handshaking and open connections from these events and passes every one
 * on to a single observer chosen when the server starts: the Prometheus
 * metrics when `metricsPath` is set, {@link NO_OBSERVER} otherwise. So the
 * protocol code reports unconditionally, and whether anyone counts is
 * decided once, in one place (server.ts).
 *
 * Dependencies go one way: hub → bridge → this file. The hub sees a
 * connection only as a {@link Connection}: the few things it asks of one.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Header } from '../asgi.js';
import type { ServerContext } from './context.js';

/** What the hub asks of a connection: heartbeats, and shutdown. */
export interface Connection {
  /** One heartbeat check: ping a silent peer, drop one that did not answer. */
  heartbeat(now: number, interval: number, timeout: number): void;
  /** Answers a handshake still in progress with an HTTP status instead of 101. */
  refuse(status: number, why: string): void;
  /** Starts the closing handshake of an open connection. */
  close(code: number, reason: string): void;
  /** Drops the TCP connection now. */
  terminate(): void;
}

/**
 * What a connection reports about itself, in order: `handshaking`, then one of
 * `refused`, `abandoned` or `opened`; after `opened`, any number of
 * `received`, `sent` and `overflowed`, then `closed` once.
 */
export interface WebSocketEvents {
  /** An upgrade request became a connection; the app is deciding. */
  handshaking(conn: Connection): void;
  /** The handshake was answered with an HTTP status (403, 500, 503, or the app's denial response). */
  refused(conn: Connection, status: number): void;
  /** The peer left before the app decided. */
  abandoned(conn: Connection): void;
  /** The app accepted and the 101 went out. */
  opened(conn: Connection): void;
  /** A message came in (`bytes`: its payload length). */
  received(conn: Connection, bytes: number): void;
  /** A message went out (`bytes`: its payload length). */
  sent(conn: Connection, bytes: number): void;
  /** The peer stopped reading and its outgoing buffer went over `wsMaxSendBuffer` (it is being closed). */
  overflowed(conn: Connection): void;
  /** The connection is gone; `code` is the close code the app is told. */
  closed(conn: Connection, code: number): void;
}

/** The observer of a server nobody observes. */
export const NO_OBSERVER: WebSocketEvents = Object.freeze({
  handshaking(): void {},
  refused(): void {},
  abandoned(): void {},
  opened(): void {},
  received(): void {},
  sent(): void {},
  overflowed(): void {},
  closed(): void {},
});

/** What the app chose at accept time. */
export interface Acceptance { subprotocol: string | null; headers: Header[] }

/** What a connection needs from the server around it (the hub). */
export interface WebSocketHost extends WebSocketEvents {
  readonly ctx: ServerContext;
  /** Completes an accepted handshake: writes the 101 with the app's choices, then hands over the socket. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: Acceptance, done: (ws: WebSocket) => void): void;
}
