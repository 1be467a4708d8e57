/**
 * All WebSocket connections of one server and the `ws` machinery they share:
 * the `upgrade` listener (which checks the handshake before any app runs),
 * subprotocol and extra-header injection at accept time, the heartbeat sweep,
 * and the shutdown helpers. One connection is a {@link WebSocketBridge}.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Header } from '../asgi.js';
import type { ServerContext } from './context.js';
import { latin1 } from './http.js';
import { ignoreSocketError, rawResponse } from './handshake-responses.js';
import { WebSocketBridge } from './websocket.js';

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/** What the app chose at accept time, read by ws's hooks. */
export interface Pending { subprotocol: string | null; headers: Header[] }

/** All WebSocket connections of one server, and the `ws` machinery they share. */
export class WebSocketHub {
  readonly ctx: ServerContext;
  readonly wss: WebSocketServer;
  readonly connections = new Set<WebSocketBridge>();
  readonly handshaking = new Set<WebSocketBridge>();
  readonly pending = new WeakMap<IncomingMessage, Pending>();
  #sweeper: NodeJS.Timeout | null = null;

  constructor(ctx: ServerContext) {
    this.ctx = ctx;
    const { options } = ctx;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.wsMaxSize,
      perMessageDeflate: options.wsPerMessageDeflate,
      // Known to ws >= 8.18, missing from @types/ws.
      ...({ closeTimeout: Math.round(options.wsCloseTimeout * 1000) } as object),
      handleProtocols: (offered, req) => {
        const chosen = this.pending.get(req)?.subprotocol ?? null;
        if (chosen === null) return false;
        if (!offered.has(chosen)) {
          ctx.logger.warn({ subprotocol: chosen, offered: [...offered] }, 'Accepted subprotocol was not offered by the client; not sent');
          return false;
        }
        return chosen;
      },
    });
    this.wss.on('headers', (lines: string[], req: IncomingMessage) => {
      for (const [name, value] of this.pending.get(req)?.headers ?? []) {
        const key = latin1(name);
        if (key.toLowerCase() === 'sec-websocket-protocol') continue; // the spec forbids it here
        lines.push(`${key}: ${latin1(value)}`);
      }
      this.pending.delete(req);
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

  #sweep(interval: number, timeout: number): void {
    const now = performance.now();
    for (const conn of this.connections) conn.heartbeat(now, interval, timeout);
  }

  /** Closes every connection (1001 for open ones, 503 for handshakes in progress). */
  closeAll(code = 1001, reason = 'Server shutting down'): void {
    for (const conn of [...this.handshaking]) conn.refuse(503, 'server shutting down');
    for (const conn of [...this.connections]) conn.close(code, reason);
  }

  /** Drops every connection at once (end of the shutdown budget). */
  terminateAll(): void {
    for (const conn of [...this.connections]) conn.terminate();
  }

  stop(): void {
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }
}

