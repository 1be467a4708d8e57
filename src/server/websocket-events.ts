/**
 * What a WebSocket connection reports about itself, and what the hub asks
 * of one: the vocabulary between a connection, the hub that keeps the
 * server's connection sets, and the hub's one observer (the metrics).
 *
 * How this works. A connection reports every step of its life, in order,
 * to its host (websocket-host.ts); the host keeps its sets from them and
 * hands each to one observer chosen at startup: the Prometheus metrics when
 * `metricsPath` is set, {@link NO_OBSERVER} otherwise. So the protocol code
 * reports unconditionally, and whether anyone counts is decided once, in one
 * place (server.ts). This file imports nothing: the bridge, the hub and the
 * metrics all depend on it, and it on none of them.
 */

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
