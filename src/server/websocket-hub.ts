/**
 * All WebSocket connections of one server and what they share: the
 * `upgrade` listener (which checks the handshake before any app runs), the
 * 101 answer at accept time (the server's own framing, or `ws` for
 * permessage-deflate), the heartbeat sweep, and the shutdown helpers. One
 * connection is a {@link WebSocketBridge}.
 *
 * The hub is its connections' host (websocket-host.ts): it owns the sets of
 * handshaking and open connections and keeps them from the events its
 * connections report, then passes each event on to its one observer (the
 * metrics, when the server has them). No connection touches the sets.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { ServerContext } from './context.js';
import { ignoreSocketError, rawResponse } from './handshake-responses.js';
import { type PeerEvents, type PeerSocket, listenTo } from './peer-socket.js';
import { PlainWebSocket } from './plain-websocket.js';
import { chosenProtocol, switchingProtocols } from './upgrade-response.js';
import { WebSocketBridge } from './websocket.js';
import { NO_OBSERVER, type Connection, type WebSocketEvents } from './websocket-events.js';
import type { Acceptance, WebSocketHost } from './websocket-host.js';

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/** All WebSocket connections of one server, and what they share. */
export class WebSocketHub implements WebSocketHost {
  readonly ctx: ServerContext;
  readonly #wss: WebSocketServer;
  readonly #open = new Set<Connection>();
  readonly #handshaking = new Set<Connection>();
  /** What the app chose at accept time, read by ws's hooks during `handleUpgrade`. */
  readonly #accepted = new WeakMap<IncomingMessage, Acceptance>();
  readonly #observer: WebSocketEvents;
  #sweeper: NodeJS.Timeout | null = null;

  /** `observer` hears every event of every connection (see websocket-host.ts). */
  constructor(ctx: ServerContext, observer: WebSocketEvents = NO_OBSERVER) {
    this.ctx = ctx;
    this.#observer = observer;
    const { options } = ctx;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.wsMaxSize,
      perMessageDeflate: options.wsPerMessageDeflate,
      // Known to ws >= 8.18, missing from @types/ws.
      ...({ closeTimeout: Math.round(options.wsCloseTimeout * 1000) } as object),
      handleProtocols: (offered, req) => chosenProtocol(this.#accepted.get(req)?.subprotocol ?? null, offered, ctx.logger) ?? false,
    });
    this.#wss.on('headers', (lines: string[], req: IncomingMessage) => {
      lines.push(...(this.#accepted.get(req)?.headerLines ?? []));
      this.#accepted.delete(req);
    });
    const { wsPingInterval, wsPingTimeout } = options;
    if (wsPingInterval > 0) {
      const tick = Math.max(25, Math.min(wsPingInterval, wsPingTimeout > 0 ? wsPingTimeout : wsPingInterval) * 500);
      this.#sweeper = setInterval(() => this.#sweep(wsPingInterval * 1000, wsPingTimeout * 1000), tick);
      this.#sweeper.unref();
    }
  }

  /** The `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignoreSocketError); // a reset during the handshake must not crash the process
    const version = req.headers['sec-websocket-version'];
    const key = req.headers['sec-websocket-key'];
    if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket' || key === undefined || !KEY.test(key)) {
      rawResponse(socket, 400);
      return;
    }
    // RFC 6455's version only: the hybi drafts' version 8 carries the page's origin in
    // Sec-WebSocket-Origin, which apps checking Origin would take for a non-browser client.
    if (version !== '13') {
      rawResponse(socket, 400, ['Sec-WebSocket-Version: 13']);
      return;
    }
    if (this.ctx.closing) {
      rawResponse(socket, 503);
      return;
    }
    new WebSocketBridge(this, req, socket, head);
  }

  /**
   * Answers an accepted handshake with 101 and hands the socket over: to
   * Switchyard's own framing (plain-websocket.ts), or to `ws` when the
   * server offers permessage-deflate and the client asks for it.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: Acceptance, events: PeerEvents, done: (peer: PeerSocket) => void): void {
    const { options } = this.ctx;
    if (options.wsPerMessageDeflate && req.headers['sec-websocket-extensions']?.includes('permessage-deflate') === true) {
      this.#accepted.set(req, accepted);
      this.#wss.handleUpgrade(req, socket, head, (ws) => done(listenTo(ws, events)));
      return;
    }
    if (!socket.readable || !socket.writable) {
      socket.destroy(); // the peer left: the socket's close reports it
      return;
    }
    const response = switchingProtocols(req, accepted, this.ctx.logger);
    if (response === null) {
      rawResponse(socket, 400); // a malformed Sec-WebSocket-Protocol header, refused as ws does
      return;
    }
    socket.write(response);
    done(new PlainWebSocket(socket, head, events, options.wsMaxSize, Math.round(options.wsCloseTimeout * 1000)));
  }

  // ---- what connections report (WebSocketEvents): the sets, then the observer ----

  handshaking(conn: Connection): void {
    this.#handshaking.add(conn);
    this.#observer.handshaking(conn);
  }

  refused(conn: Connection, status: number): void {
    this.#handshaking.delete(conn);
    this.#observer.refused(conn, status);
  }

  abandoned(conn: Connection): void {
    this.#handshaking.delete(conn);
    this.#observer.abandoned(conn);
  }

  opened(conn: Connection): void {
    this.#handshaking.delete(conn);
    this.#open.add(conn);
    this.#observer.opened(conn);
  }

  received(conn: Connection, bytes: number): void { this.#observer.received(conn, bytes); }
  sent(conn: Connection, bytes: number): void { this.#observer.sent(conn, bytes); }
  overflowed(conn: Connection): void { this.#observer.overflowed(conn); }

  closed(conn: Connection, code: number): void {
    this.#open.delete(conn);
    this.#observer.closed(conn, code);
  }

  /** Open connections right now. */
  get openCount(): number { return this.#open.size; }

  #sweep(interval: number, timeout: number): void {
    const now = performance.now();
    for (const conn of this.#open) conn.heartbeat(now, interval, timeout);
  }

  /** Closes every connection (1001 for open ones, 503 for handshakes in progress). */
  closeAll(code = 1001, reason = 'Server shutting down'): void {
    for (const conn of [...this.#handshaking]) conn.refuse(503, 'server shutting down');
    for (const conn of [...this.#open]) conn.close(code, reason);
  }

  /** Drops every connection at once (end of the shutdown budget). */
  terminateAll(): void {
    for (const conn of [...this.#open]) conn.terminate();
  }

  stop(): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }
}

