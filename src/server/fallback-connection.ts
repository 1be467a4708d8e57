/**
 * One HTTP fallback connection ⇄ one ASGI `websocket` app instance: the
 * fallback's counterpart of the WebSocket bridge (websocket.ts), with the
 * same events, outcomes and limits.
 *
 * How it works. The opening GET builds a `websocket` scope and starts the
 * app with `websocket.connect` queued; the request waits, unanswered, until
 * the app decides. `websocket.accept` answers it with the `open` element
 * (the session id) and makes the way down (fallback-down.ts); a close
 * before accept, `DenyConnection` or no route answers 403, the denial
 * response extension answers with the app's response, and a failure 500.
 * After accept, each posted frame is one `websocket.receive`, in `seq`
 * order; a frame over `wsMaxSize` closes the connection with 1009, as over
 * a WebSocket. `websocket.disconnect` comes exactly once: with the client's
 * code when it posts a close, the app's when it closes, 1006 when the
 * stream drops or a poll session expires, 1001 at shutdown, 1008 when the
 * client does not take what is sent (over `wsMaxSendBuffer`).
 *
 * The connection reports to the WebSocket hub like a WebSocket does, so it
 * is counted, observed by the metrics, and closed at shutdown with the rest.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Header, SendEvent, WebsocketScope } from '../asgi.js';
import { ProtocolError } from '../errors.js';
import { SEND_BUFFER_CLOSE_CODE, fitReason } from './close-codes.js';
import { isDenied, isRouteNotFound, type ServerContext } from './context.js';
import { PollDown, SseDown, respondJson, type Down, type Respond } from './fallback-down.js';
import type { ResolvedFallbackOptions } from './fallback-options.js';
import type { RelayAnswer } from './fallback-relay.js';
import { errorBody, frameSize, type FallbackTransportName, type WireFrame } from './fallback-wire.js';
import { DenialResponse, closeAsAsked } from './handshake-responses.js';
import { latin1 } from './http.js';
import { ReceiveQueue } from './receive-queue.js';
import type { Connection, WebSocketEvents } from './websocket-events.js';

/** What a fallback connection needs from the server around it. */
export interface FallbackHost {
  readonly ctx: ServerContext;
  readonly options: ResolvedFallbackOptions;
  /** The hub: counts the connection and closes it at shutdown. */
  readonly events: WebSocketEvents;
  /** The session is over: forget its token. */
  forget(token: string): void;
}

type State = 'connecting' | 'open' | 'closed';

const DONE: Promise<void> = Promise.resolve();

export class FallbackConnection extends ReceiveQueue implements Connection {
  readonly token: string;
  readonly #session: string;
  readonly #host: FallbackHost;
  readonly #transport: FallbackTransportName;
  /** The origin the session was opened from: every POST and poll must come from it too. */
  readonly #origin: string | null;
  readonly #path: string;
  #state: State = 'connecting';
  /** The opening request, until the app decides. */
  #opener: { req: IncomingMessage; res: ServerResponse } | null;
  #denial: { response: DenialResponse; status: number; headers: Header[]; chunks: Uint8Array[] } | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #down: Down | null = null;
  #disconnected = false;
  /** The `seq` of the next frame the client posts. */
  #nextSeq = 0;
  /** While the app has many unread events: settles when it caught up (POSTs wait for it). */
  #caughtUp: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #drained: Promise<void> | null = null;
  readonly send: (event: SendEvent) => Promise<void>;

  constructor(
    host: FallbackHost, req: IncomingMessage, res: ServerResponse, scope: WebsocketScope,
    transport: FallbackTransportName, token: string, session: string, origin: string | null,
  ) {
    super({ type: 'websocket.connect' });
    this.#host = host;
    this.token = token;
    this.#session = session;
    this.#transport = transport;
    this.#origin = origin;
    this.#path = scope.path;
    this.#opener = { req, res };
    this.send = this.#dispatch.bind(this);
    const { ctx } = host;
    host.events.handshaking(this);
    res.once('close', () => {
      if (this.#state !== 'connecting') return;
      this.#state = 'closed';
      this.#opener = null;
      host.events.abandoned(this);
      this.#finish(1006, '');
    });
    if (ctx.options.wsConnectTimeout > 0) {
      this.#connectTimer = setTimeout(() => {
        ctx.logger.warn({ path: this.#path }, 'HTTP fallback handshake not answered in time: refused');
        this.refuse(403, 'connect timeout');
      }, ctx.options.wsConnectTimeout * 1000);
    }
    let app: Promise<void>;
    try {
      app = Promise.resolve(ctx.app(scope, this.receive, this.send));
    } catch (err) {
      app = Promise.reject(err);
    }
    const instance = app.then(() => this.#appReturned(), (err: unknown) => this.#appFailed(err));
    ctx.running.add(instance);
    void instance.finally(() => ctx.running.delete(instance));
  }

  #appReturned(): void {
    if (this.#state === 'connecting') {
      this.#host.ctx.logger.error({ path: this.#path }, 'ASGI application returned without accepting or closing the WebSocket');
      this.refuse(500, 'app returned');
    } else {
      this.close(1000, '');
    }
  }

  #appFailed(err: unknown): void {
    const { logger } = this.#host.ctx;
    if (this.#state !== 'connecting') {
      logger.error({ err, path: this.#path }, 'Exception inside ASGI application');
      this.close(1011, 'Internal error');
    } else if (isRouteNotFound(err) || isDenied(err)) {
      logger.info({ path: this.#path, reason: (err as Error).message }, 'HTTP fallback handshake refused: 403');
      this.refuse(403, (err as Error).message);
    } else {
      logger.error({ err, path: this.#path }, 'Exception inside ASGI application during the HTTP fallback handshake');
      this.refuse(500, 'app error');
    }
  }

  /** Many events unread: POSTs are answered only once the app caught up, so the client stops sending. */
  protected backlog(paused: boolean): void {
    if (paused) {
      this.#caughtUp ??= new Promise((resolve) => { this.#wake = resolve; });
    } else {
      this.#wake?.();
      this.#caughtUp = this.#wake = null;
    }
  }

  #dispatch(event: SendEvent): Promise<void> {
    try {
      switch (event.type) {
        case 'websocket.send': {
          if (this.#state === 'connecting') throw new ProtocolError("'websocket.send' sent before 'websocket.accept'");
          const { text, bytes } = event;
          const binary = bytes !== undefined && bytes !== null;
          if (!binary && typeof text !== 'string') throw new ProtocolError("'websocket.send' needs 'text' or 'bytes'");
          if (this.#state !== 'open') return DONE;
          this.#down!.push(binary ? { bytes } : { text: text! });
          this.#host.events.sent(this, binary ? bytes.byteLength : Buffer.byteLength(text!));
          return this.#backpressure();
        }
        case 'websocket.accept':
          this.#accept(event.subprotocol ?? null);
          return DONE;
        case 'websocket.http.response.start':
          if (this.#state !== 'connecting' || this.#denial !== null) {
            throw new ProtocolError("'websocket.http.response.start' is only valid once, instead of 'websocket.accept'");
          }
          this.#denial = { response: new DenialResponse(event.status, event.headers ?? []), status: event.status, headers: event.headers ?? [], chunks: [] };
          return DONE;
        case 'websocket.http.response.body': {
          const denial = this.#denial;
          if (denial === null) throw new ProtocolError("'websocket.http.response.body' sent before 'websocket.http.response.start'");
          if (event.body !== undefined && event.body.byteLength > 0) denial.chunks.push(event.body);
          if (event.more_body !== true) this.refuse(denial.status, 'denial response');
          return DONE;
        }
        case 'websocket.close':
          closeAsAsked(this, event, this.#state === 'connecting', this.#denial !== null);
          return DONE;
        default:
          throw new ProtocolError(`Unexpected ASGI message '${event.type}' for a websocket connection`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #backpressure(): Promise<void> {
    const down = this.#down!;
    const { wsMaxSendBuffer, wsSendHighWaterMark } = this.#host.ctx.options;
    const buffered = down.buffered;
    if (buffered > wsMaxSendBuffer) {
      this.#host.ctx.logger.warn(
        { path: this.#path, buffered, limit: wsMaxSendBuffer, transport: this.#transport },
        `HTTP fallback client is not reading: send buffer over ${wsMaxSendBuffer} bytes, closing with ${SEND_BUFFER_CLOSE_CODE}`,
      );
      this.#host.events.overflowed(this);
      this.close(SEND_BUFFER_CLOSE_CODE, 'Send buffer full');
      return DONE;
    }
    if (buffered > wsSendHighWaterMark) {
      this.#drained ??= down.drained(wsSendHighWaterMark).then(() => { this.#drained = null; });
      return this.#drained;
    }
    return DONE;
  }

  #accept(subprotocol: string | null): void {
    const opener = this.#opener;
    if (this.#denial !== null) throw new ProtocolError("'websocket.accept' sent during a denial response");
    if (this.#state !== 'connecting' || opener === null) {
      if (this.#state === 'closed') return; // the client left during the handshake
      throw new ProtocolError("'websocket.accept' sent twice");
    }
    this.#clearConnectTimer();
    this.#opener = null;
    this.#state = 'open';
    const open = { session: this.#session, subprotocol, transport: this.#transport };
    const { options } = this.#host;
    const { res } = opener;
    if (this.#transport === 'sse') {
      this.#down = new SseDown(res, open, options.heartbeatInterval, () => this.#gone('event stream closed by the client'));
    } else {
      const respond: Respond = (status, body) => respondJson(res, status, body);
      this.#down = new PollDown(respond, open, options.pollTimeout, options.sessionTimeout,
        () => this.#gone('no poll within sessionTimeout'), () => this.#host.forget(this.token));
    }
    this.#host.events.opened(this);
  }

  // ---- what clients send (local requests, or relayed from another process) ----

  /** Frames posted from `origin`, numbered from `seq`; answers what the POST is answered. */
  async post(seq: number, frames: WireFrame[], origin: string | null): Promise<RelayAnswer> {
    if (origin !== this.#origin) return this.#wrongOrigin(origin);
    if (this.#state !== 'open') return { status: 404, body: errorBody('unknown_session', 'This session is closed') };
    if (seq > this.#nextSeq) {
      return { status: 409, body: errorBody('seq_gap', `Frames are missing: expected seq ${this.#nextSeq}, got ${seq}`, { ack: this.#nextSeq }) };
    }
    const limit = this.#host.ctx.options.wsMaxSize;
    // Frames before #nextSeq were delivered by an earlier try of this POST: not again.
    for (let i = this.#nextSeq - seq; i < frames.length && this.#state === 'open'; i++) {
      const frame = frames[i]!;
      const size = frameSize(frame);
      if (size > limit) {
        this.#host.ctx.logger.info({ path: this.#path, size, limit }, 'HTTP fallback frame over wsMaxSize: closing with 1009');
        this.#peerClosed(1009, 'Message too big', 1009);
        return { status: 413, body: errorBody('message_too_big', `frames[${i}] is ${size} bytes, over the ${limit}-byte limit (wsMaxSize): the connection is closed with 1009`, { ack: this.#nextSeq }) };
      }
      this.#nextSeq++;
      if ('close' in frame) {
        this.#peerClosed(frame.close.code, frame.close.reason ?? '', frame.close.code);
        break;
      }
      this.#host.events.received(this, size);
      this.deliver('text' in frame
        ? { type: 'websocket.receive', text: frame.text }
        : { type: 'websocket.receive', bytes: Buffer.from(frame.bytes, 'base64') });
    }
    if (this.#caughtUp !== null) await this.#caughtUp;
    return { status: 200, body: JSON.stringify({ ack: this.#nextSeq }) };
  }

  /** A long poll from `origin` that has received `ack` elements. */
  poll(ack: number, origin: string | null, respond: Respond): void {
    if (origin !== this.#origin) {
      const answer = this.#wrongOrigin(origin);
      respond(answer.status, answer.body);
      return;
    }
    if (!(this.#down instanceof PollDown)) {
      respond(400, errorBody('wrong_transport', 'This session is an event stream: it cannot be polled'));
      return;
    }
    this.#down.poll(ack, respond);
  }

  /** Stops a held local poll whose client left. */
  abandonPoll(respond: Respond): void {
    if (this.#down instanceof PollDown) this.#down.abandon(respond);
  }

  #wrongOrigin(origin: string | null): RelayAnswer {
    this.#host.ctx.logger.warn({ path: this.#path, origin, expected: this.#origin }, 'HTTP fallback request from another origin than its session: refused');
    return { status: 403, body: errorBody('origin_mismatch', 'This request does not come from the origin that opened the session') };
  }

  // ---- endings ----

  /** Answers the handshake with an HTTP status (403 when the app closed before accepting). */
  refuse(status: number, why: string): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'closed';
    this.#clearConnectTimer();
    const opener = this.#opener;
    this.#opener = null;
    this.#host.events.refused(this, status);
    this.#host.ctx.logger.debug({ path: this.#path, status, why }, 'HTTP fallback handshake refused');
    const denial = this.#denial;
    if (opener !== null && !opener.res.headersSent) {
      if (denial !== null && status === denial.status) {
        const body = Buffer.concat(denial.chunks);
        const headers: string[] = [];
        for (const [name, value] of denial.headers) {
          const key = latin1(name);
          if (!['content-length', 'transfer-encoding', 'connection'].includes(key.toLowerCase())) headers.push(key, latin1(value));
        }
        opener.res.writeHead(status, [...headers, 'content-length', String(body.byteLength)]);
        opener.res.end(body);
      } else {
        respondJson(opener.res, status, errorBody('refused', `The connection was refused (${why})`));
      }
    }
    this.#finish(1006, '');
  }

  /** The server (or app) closes: the close element goes down, the app hears its own code. */
  close(code: number, reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    this.dropUnread();
    const fitted = fitReason(reason);
    this.#down!.push({ close: { code, reason: fitted } });
    this.#host.events.closed(this, code);
    this.#finish(code, fitted);
    if (this.#transport === 'sse') this.#host.forget(this.token);
  }

  /** The client closed (`told` is what the app hears; the close element echoes `code`). */
  #peerClosed(code: number, reason: string, told: number): void {
    this.#state = 'closed';
    this.#down!.push({ close: { code, reason } });
    this.#host.events.closed(this, told);
    this.#finish(told, reason);
    if (this.#transport === 'sse') this.#host.forget(this.token);
  }

  /** The client is gone without a close (stream dropped, poll session expired): 1006. */
  #gone(why: string): void {
    if (this.#state === 'open') {
      this.#state = 'closed';
      this.#host.ctx.logger.info({ path: this.#path, transport: this.#transport, why }, 'HTTP fallback client gone');
      this.#host.events.closed(this, 1006);
      this.#finish(1006, '');
    }
    this.#down?.end();
    this.#host.forget(this.token);
  }

  /** Drops the connection now. */
  terminate(): void { this.#gone('terminated'); }

  /** No protocol pings here: SSE comments keep proxies from idling the stream out, and polls expire on their own. */
  heartbeat(): void {}

  #clearConnectTimer(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }

  #finish(code: number, reason: string): void {
    if (this.#disconnected) return;
    this.#disconnected = true;
    this.#clearConnectTimer();
    this.#wake?.();
    this.#caughtUp = this.#wake = null;
    if (this.#down === null) this.#host.forget(this.token); // never opened: nothing more can reach it
    this.deliver({ type: 'websocket.disconnect', code, reason });
  }
}
