/**
 * The WebSocket bridge: one upgrade request ⇄ one ASGI `websocket` app instance.
 *
 * How it works. The server's `upgrade` listener builds the scope and starts
 * the app with `websocket.connect` queued; the TCP socket waits, unanswered,
 * until the app decides. `websocket.accept` answers 101 with the app's
 * subprotocol and extra headers and hands the socket to the server's own
 * framing (plain-websocket.ts), or to `ws` for permessage-deflate; a
 * `websocket.close` first (or an app that raises `DenyConnection` or hits no
 * route) answers HTTP 403 as Daphne does; `websocket.http.response.start`
 * and `.body` (the ASGI denial response extension) answer with the app's
 * own response; an app that fails or returns before deciding answers 500.
 * After accept, frames become `websocket.receive` events, and
 * `websocket.disconnect` is delivered exactly once, whatever
 * ended the connection (peer close, heartbeat timeout → 1006, oversize
 * message → 1009, invalid UTF-8 → 1007, send-buffer overflow → 1008, server
 * shutdown → 1001). An app that fails after accept closes the socket with 1011.
 *
 * Backpressure both ways: the socket is paused while the app has many unread
 * events (receive-queue.ts); the sending half, with its write turns, shared
 * frames and send-buffer limits (1008), is websocket-writer.ts.
 *
 * Heartbeats: one sweep timer for all connections pings a peer that has been
 * silent for `wsPingInterval` and drops it if nothing comes back within
 * `wsPingTimeout`.
 *
 * The bridge counts nothing and keeps no registry: it reports to its host
 * (websocket-host.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type {
  Address, Header, SendEvent, WebsocketHttpResponseBodyEvent, WebsocketHttpResponseStartEvent, WebsocketSendEvent,
} from '../asgi.js';
import { ProtocolError } from '../errors.js';
import { elapsed, isDenied, isRouteNotFound } from './context.js';
import { websocketScope } from './scope.js';
import { DenialResponse, closeAsAsked, ignoreSocketError, rawResponse } from './handshake-responses.js';
import { WebSocketWriter } from './websocket-writer.js';
import { SEND_BUFFER_CLOSE_CODE, fitReason, protocolErrorCode } from './close-codes.js';
import type { Connection } from './websocket-events.js';
import type { WebSocketHost } from './websocket-host.js';
import type { PeerEvents, PeerSocket } from './peer-socket.js';
import { extraHeaderLines } from './upgrade-response.js';
import { tracerHooks } from '../tracing/hooks.js';
import { SETTLED } from '../settled.js';

/**
 * What `send()` returns for an event it handled completely before returning:
 * one settled promise for every frame, so a broadcast costs no promise per member.
 */
const DONE = SETTLED;

type State = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * The time in whole milliseconds: small integers, kept in the bridge's own
 * fields, where a fractional `performance.now()` would take a heap number
 * each (three per connection) for precision that heartbeats and access logs do not use.
 */
const millis = (): number => Math.floor(performance.now());

/**
 * A peer that ends its side during the handshake has left: an upgraded socket
 * allows half-open connections, so without this its 'close' would never come.
 */
function onEarlyEnd(this: Duplex): void { this.destroy(); }

/**
 * What a connection needs only until the app decides: the upgrade request
 * and its first bytes, the handshake timer, a denial response under way.
 * Released at accept, so an open connection keeps none of it (the request
 * alone is about 1 KB).
 */
interface Handshake {
  req: IncomingMessage;
  head: Buffer;
  timer: NodeJS.Timeout | null;
  /** Listens for the peer leaving during the handshake. */
  onEarlyClose: () => void;
  /** A denial response the app has started (see handshake-responses.ts). */
  denial: DenialResponse | null;
  /** Resolves the app's `websocket.accept` once the 101 went out (or the peer left). */
  acceptDone: (() => void) | null;
}

/** One WebSocket connection and its app instance. */
export class WebSocketBridge extends WebSocketWriter implements Connection, PeerEvents {
  readonly #host: WebSocketHost;
  /** Until the app decides (then null). */
  #handshake: Handshake | null;
  /** What the logs say of the connection (the scope itself is the app's: not kept here). */
  readonly #path: string;
  readonly #client: Address | null;
  readonly #start = millis();
  #state: State = 'connecting';
  /** The app instance until it settles (shutdown waits for it). */
  #instance: Promise<void> | null = null;
  #disconnected = false;
  /** A close code the server chose and the peer may never echo (overflow, protocol error), with its reason. */
  #closeOverride: { code: number; reason: string } | null = null;
  /** The HTTP status the handshake was answered with (101 once accepted). */
  #status: number | null = null;
  #lastSeen = 0;
  #pingSentAt = 0;
  /** The ASGI `send` callable: a bound method, not a closure per connection. */
  readonly send: (event: SendEvent) => Promise<void>;

  constructor(host: WebSocketHost, req: IncomingMessage, socket: Duplex, head: Buffer) {
    super({ type: 'websocket.connect' }, socket, host.ctx.options);
    this.#host = host;
    this.send = this.#dispatch.bind(this);
    const { ctx } = host;
    const scope = websocketScope(req, ctx.listen, ctx.options, ctx.trusted, ctx.state);
    this.#path = scope.path;
    this.#client = scope.client ?? null;
    const handshake: Handshake = {
      req, head, timer: null, onEarlyClose: this.#earlyClose.bind(this), denial: null, acceptDone: null,
    };
    this.#handshake = handshake;
    host.handshaking(this);
    socket.on('close', handshake.onEarlyClose);
    socket.on('end', onEarlyEnd);
    if (ctx.options.wsConnectTimeout > 0) {
      handshake.timer = setTimeout(() => {
        ctx.logger.warn({ path: this.#path }, 'WebSocket handshake not answered in time: refused');
        this.refuse(403, 'connect timeout');
      }, ctx.options.wsConnectTimeout * 1000);
    }
    // A promise chain, not an async function, and bound methods, not closures: an idle
    // connection holds no suspended frame here.
    let app: Promise<void>;
    const hooks = tracerHooks; // null unless tracing is enabled (switchyard/tracing)
    try {
      app = Promise.resolve(hooks === null ? ctx.app(scope, this.receive, this.send) : hooks.handshake(this, scope, () => ctx.app(scope, this.receive, this.send)));
    } catch (err) {
      app = Promise.reject(err);
    }
    this.#instance = app.then(this.#appReturned.bind(this), this.#appFailed.bind(this));
    ctx.running.add(this.#instance);
  }

  /** The peer left during the handshake. */
  #earlyClose(): void {
    this.#host.abandoned(this);
    if (this.#state === 'connecting') this.#state = 'closed';
    this.#finishAccept();
    this.#disconnect(1006, '');
  }

  #appReturned(): void {
    const { ctx } = this.#host;
    ctx.running.delete(this.#instance!);
    if (this.#state === 'connecting') {
      ctx.logger.error({ path: this.#path }, 'ASGI application returned without accepting or closing the WebSocket');
      this.refuse(500, 'app returned');
    } else if (this.#state === 'open') {
      this.close(1000, '');
    }
  }

  #appFailed(err: unknown): void {
    const { ctx } = this.#host;
    ctx.running.delete(this.#instance!);
    if (this.#state !== 'connecting') {
      ctx.logger.error({ err, path: this.#path }, 'Exception inside ASGI application');
      this.close(1011, 'Internal error');
    } else if (isRouteNotFound(err) || isDenied(err)) {
      ctx.logger.info({ path: this.#path, reason: (err as Error).message }, 'WebSocket handshake refused: 403');
      this.refuse(403, (err as Error).message);
    } else {
      ctx.logger.error({ err, path: this.#path }, 'Exception inside ASGI application during the WebSocket handshake');
      this.refuse(500, 'app error');
    }
  }

  /** Unread events pile up (or have been read): stop (or resume) reading the socket. */
  protected backlog(paused: boolean): void {
    if (paused) this.peer?.pause();
    else this.peer?.resume();
  }

  // Not async: a broadcast calls this once per member, and a send or a close is complete when it
  // returns, so one settled promise (DONE) answers them all (no promise per frame); errors still reject.
  #dispatch(event: SendEvent): Promise<void> {
    try {
      switch (event.type) {
        case 'websocket.send':
          this.#send(event);
          return this.drained ?? DONE;
        case 'websocket.accept':
          return this.#accept(event.subprotocol ?? null, event.headers ?? []);
        case 'websocket.http.response.start':
        case 'websocket.http.response.body':
          this.#deny(event);
          return DONE;
        case 'websocket.close':
          closeAsAsked(this, event, this.#state === 'connecting', Boolean(this.#handshake?.denial));
          return DONE;
        default:
          throw new ProtocolError(`Unexpected ASGI message '${event.type}' for a websocket connection`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #send(event: WebsocketSendEvent): void {
    if (this.#state === 'connecting') throw new ProtocolError("'websocket.send' sent before 'websocket.accept'");
    if (this.#state !== 'open') return; // closing or closed: the frame has nowhere to go
    const { text, bytes } = event;
    const binary = bytes !== undefined && bytes !== null;
    if (!binary && typeof text !== 'string') throw new ProtocolError("'websocket.send' needs 'text' or 'bytes'");
    this.writeFrame(binary ? bytes : text!);
  }

  protected frameSent(length: number): void {
    this.#host.sent(this, length);
  }

  protected get writable(): boolean {
    return this.#state === 'open';
  }

  protected overflowed(buffered: number): void {
    const { ctx } = this.#host;
    ctx.logger.warn(
      { path: this.#path, client: this.#client, buffered, limit: ctx.options.wsMaxSendBuffer },
      `WebSocket peer is not reading: send buffer over ${ctx.options.wsMaxSendBuffer} bytes, closing with ${SEND_BUFFER_CLOSE_CODE}`,
    );
    this.#host.overflowed(this);
    this.#closeOverride = { code: SEND_BUFFER_CLOSE_CODE, reason: 'Send buffer full' };
    this.close(SEND_BUFFER_CLOSE_CODE, 'Send buffer full');
  }

  /** The denial response extension: an HTTP response of the app's own instead of accept. */
  #deny(event: WebsocketHttpResponseStartEvent | WebsocketHttpResponseBodyEvent): void {
    const handshake = this.#handshake;
    const denial = handshake?.denial ?? null;
    if (event.type === 'websocket.http.response.start') {
      if (this.#state === 'open' || this.#state === 'closing' || denial !== null || this.#status !== null || handshake === null) {
        throw new ProtocolError("'websocket.http.response.start' is only valid once, instead of 'websocket.accept'");
      }
      handshake.denial = new DenialResponse(event.status, event.headers ?? []);
      return;
    }
    if (denial === null) throw new ProtocolError("'websocket.http.response.body' sent before 'websocket.http.response.start'");
    if (this.#status !== null) throw new ProtocolError("'websocket.http.response.body' sent after the response completed");
    if (this.#state !== 'connecting') return; // the peer left: nothing to answer
    if (denial.add(event.body, event.more_body === true)) this.refuse(denial.status, 'denial response');
  }

  #accept(subprotocol: string | null, headers: Header[]): Promise<void> {
    const handshake = this.#handshake;
    if (handshake?.denial) throw new ProtocolError("'websocket.accept' sent during a denial response");
    if (this.#state !== 'connecting' || handshake === null) {
      if (this.#state === 'closed') return Promise.resolve(); // the peer left during the handshake
      throw new ProtocolError("'websocket.accept' sent twice");
    }
    const headerLines = extraHeaderLines(headers); // a header that would split the 101 is refused here, before anything is answered
    if (handshake.timer !== null) clearTimeout(handshake.timer);
    handshake.timer = null;
    const { req, head } = handshake;
    // Off before the peer socket adds its own 'end' listener (the upgrade is synchronous, so no 'end' can
    // come in between): removed after, it would leave the socket a listener array grown for
    // three (about 150 bytes per connection).
    this.socket.off('end', onEarlyEnd);
    return new Promise<void>((resolve) => {
      handshake.acceptDone = resolve;
      this.#host.upgrade(req, this.socket, head, { subprotocol, headerLines }, this, (peer) => {
        this.socket.off('close', handshake.onEarlyClose);
        this.socket.off('error', ignoreSocketError);
        this.#opened(peer);
        this.#finishAccept();
        this.#handshake = null;
      });
    });
  }

  #finishAccept(): void {
    const handshake = this.#handshake;
    const done = handshake?.acceptDone;
    if (handshake) handshake.acceptDone = null;
    done?.();
  }

  #opened(peer: PeerSocket): void {
    this.startWriting(peer);
    this.#state = 'open';
    this.#status = 101;
    this.#lastSeen = millis();
    this.#host.opened(this);
    tracerHooks?.opened(this);
  }

  /** A frame from the peer. */
  received(data: Buffer, isBinary: boolean): void {
    this.#lastSeen = millis();
    this.#pingSentAt = 0;
    if (this.#state !== 'open') return; // we are closing: the app has nothing more to read
    this.#host.received(this, data.byteLength);
    this.deliver(isBinary ? { type: 'websocket.receive', bytes: data } : { type: 'websocket.receive', text: data.toString('utf8') });
  }

  /** A pong from the peer: it is alive. */
  heard(): void {
    this.#lastSeen = millis();
    this.#pingSentAt = 0;
  }

  /** A protocol error: the peer socket closes with its code (1007, 1009, 1002...) and stops reading, so the peer's echo never comes. */
  failed(err: Error & { code?: string }): void {
    const code = protocolErrorCode(err);
    if (code !== null && this.#closeOverride === null) this.#closeOverride = { code, reason: err.message };
    this.#host.ctx.logger.info({ path: this.#path, code: err.code, closeCode: code, reason: err.message }, 'WebSocket protocol error');
  }

  /** The socket closed: report the code we sent when we overrode the peer's. */
  closed(code: number, reason: Buffer): void {
    this.#state = 'closed';
    const override = this.#closeOverride;
    const told = override?.code ?? code;
    this.#host.closed(this, told);
    this.#disconnect(told, override !== null ? override.reason : reason.toString('utf8'));
  }

  /** One heartbeat check (called by the hub's sweep). */
  heartbeat(now: number, interval: number, timeout: number): void {
    if (this.#state !== 'open') return;
    const peer = this.peer!;
    if (this.#pingSentAt !== 0) {
      if (now - this.#pingSentAt >= timeout) {
        this.#host.ctx.logger.info({ path: this.#path, client: this.#client }, 'WebSocket peer did not answer a ping: dropped');
        peer.terminate();
      }
    } else if (now - this.#lastSeen >= interval) {
      this.#pingSentAt = Math.floor(now);
      peer.ping();
    }
  }

  /** Refuses the handshake with an HTTP status (403 when the app closed before accepting). */
  refuse(status: number, why: string): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'closed';
    this.#status = status;
    const handshake = this.#handshake;
    if (handshake?.timer) clearTimeout(handshake.timer);
    this.#host.refused(this, status);
    this.#host.ctx.logger.debug({ path: this.#path, status, why }, 'WebSocket handshake refused');
    if (handshake !== null) this.socket.off('close', handshake.onEarlyClose);
    if (handshake?.denial?.complete === true) handshake.denial.send(this.socket);
    else rawResponse(this.socket, status);
    this.#disconnect(1006, '');
  }

  /** Starts the closing handshake (no-op unless open). */
  close(code: number, reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.flushTurn(); // the app's last frames go before the close frame
    // A socket paused for unread events must read again, or the peer's close frame
    // is never seen and every close waits out wsCloseTimeout; unread frames are dropped.
    this.dropUnread();
    this.peer!.close(code, fitReason(reason));
  }

  /** Drops the TCP connection now. */
  terminate(): void {
    if (this.peer !== null && this.#state !== 'closed') this.peer.terminate();
  }

  #disconnect(code: number, reason: string): void {
    if (this.#disconnected) return;
    this.#disconnected = true;
    tracerHooks?.ended(this, this.#status, code);
    const timer = this.#handshake?.timer;
    if (timer) clearTimeout(timer);
    const { ctx } = this.#host;
    if (ctx.options.accessLog) {
      const ms = elapsed(this.#start);
      const client = this.#client ? `${this.#client[0]}:${this.#client[1] ?? ''}` : undefined;
      const outcome = this.#status === 101 ? `closed ${code}` : `refused ${this.#status ?? 'client gone'}`;
      ctx.logger.info(
        { access: 'websocket', path: this.#path, status: this.#status, code, ms, client },
        `WS ${this.#path} ${outcome} ${ms}ms`,
      );
    }
    this.deliver({ type: 'websocket.disconnect', code, reason });
  }
}
