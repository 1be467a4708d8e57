/**
 * All WebSocket connections of one server and the `ws` machinery they share:
 * the `upgrade` listener (which checks the handshake before any app runs),
 * subprotocol and extra-header injection at accept time, the heartbeat sweep,
 * and the shutdown helpers. One connection is a {@link WebSocketBridge}.
 *
 * The hub is its connections' host (websocket-host.ts): it owns the sets of
 * handshaking and open connections and keeps them from the events its
 * connections report, then passes each event on to its one observer (the
 * metrics, when the server has them). No connection touches the sets.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ServerContext } from './context.js';
import { latin1 } from './http.js';
import { ignoreSocketError, rawResponse } from './handshake-responses.js';
import { WebSocketBridge } from './websocket.js';
import { NO_OBSERVER, type Connection, type WebSocketEvents } from './websocket-events.js';
import type { Acceptance, WebSocketHost } from './websocket-host.js';

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/** All WebSocket connections of one server, and the `ws` machinery they share. */
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
      handleProtocols: (offered, req) => {
        const chosen = this.#accepted.get(req)?.subprotocol ?? null;
        if (chosen === null) return false;
        if (!offered.has(chosen)) {
          ctx.logger.warn({ subprotocol: chosen, offered: [...offered] }, 'Accepted subprotocol was not offered by the client; not sent');
          return false;
        }
        return chosen;
      },
    });
    this.#wss.on('headers', (lines: string[], req: IncomingMessage) => {
      for (const [name, value] of this.#accepted.get(req)?.headers ?? []) {
        const key = latin1(name);
        if (key.toLowerCase() === 'sec-websocket-protocol') continue; // the spec forbids it here
        lines.push(`${key}: ${latin1(value)}`);
      }
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

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: Acceptance, done: (ws: WebSocket) => void): void {
    this.#accepted.set(req, accepted);
    this.#wss.handleUpgrade(req, socket, head, done);
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

