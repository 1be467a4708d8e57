/**
 * The HTTP/1.1 bridge: one `node:http` request ⇄ one ASGI `http` app instance.
 *
 * How it works. The request body is read lazily, only when the app calls
 * `receive()`, through the request's async iterator, so TCP backpressure
 * holds a slow app's upload and an app that hands the raw request to a Node
 * handler ({@link nodeHandler}) finds the body unread. Each chunk is one
 * `http.request` event; `more_body` is false on the last. After the body,
 * `receive()` waits until the client goes away or the response is done,
 * then yields `http.disconnect`. `http.response.start` is held until the
 * first body event, so a one-shot response gets a `content-length`; a
 * streamed one goes out chunked and each `send()` waits for the socket to
 * drain. A response started with `trailers: true` (the ASGI trailers
 * extension) goes out chunked, and its `http.response.trailers` end it. An
 * app that throws, or returns without a complete response, gets a
 * 500 (or, once bytes are out, a dropped connection) and a logged stack,
 * never a hung socket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Header, HttpScope, ReceiveEvent, SendEvent } from '../asgi.js';
import { ProtocolError } from '../errors.js';
import { elapsed, isRouteNotFound, track, type ServerContext } from './context.js';
import { NODE_HTTP, type NodeExchange } from './node-handler.js';
import { httpScope } from './scope.js';

const EMPTY = new Uint8Array(0);
const DISCONNECT: ReceiveEvent = Object.freeze({ type: 'http.disconnect' }) as ReceiveEvent;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Whether `text` is an HTTP token (RFC 9110 §5.6.2): a header name, a subprotocol. */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/** `Uint8Array` (or a stray string) → latin1 string, without copying bytes. */
export function latin1(value: Uint8Array | string): string {
  if (typeof value === 'string') return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
}

/** Waits until a writable drains or closes. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

class HttpBridge {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #ctx: ServerContext;
  #iterator: AsyncIterator<Buffer> | null = null;
  #bodyDone = false;
  #started = false;
  #complete = false;
  #disconnected = false;
  #closed = false;
  #status = 200;
  #headers: Header[] = [];
  /** Trailers extension: the response was started with `trailers: true`; its body is done, trailers gathered so far. */
  #trailers = false;
  #trailersDropped = false;
  #bodyEnded = false;
  #trailerPairs: Array<[string, string]> = [];
  #waiters: Array<(event: ReceiveEvent) => void> = [];
  claimed = false;

  constructor(ctx: ServerContext, req: IncomingMessage, res: ServerResponse) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
    res.once('close', () => {
      this.#closed = true;
      if (!res.writableFinished) this.#disconnected = true;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake(DISCONNECT);
    });
  }

  readonly receive = async (): Promise<ReceiveEvent> => {
    if (!this.#bodyDone) {
      if (this.#disconnected) return DISCONNECT;
      this.#iterator ??= this.#req[Symbol.asyncIterator]();
      try {
        const { value, done } = await this.#iterator.next();
        if (done === true) {
          this.#bodyDone = true;
          return { type: 'http.request', body: EMPTY, more_body: false };
        }
        // The parser marks the request complete as soon as it has seen the end,
        // so a body that arrived in one piece is one event, not two.
        const more = !this.#req.complete || this.#req.readableLength > 0;
        if (!more) this.#bodyDone = true;
        return { type: 'http.request', body: value, more_body: more };
      } catch {
        this.#bodyDone = true;
        this.#disconnected = true;
        return DISCONNECT;
      }
    }
    if (this.#closed || this.#complete) return DISCONNECT;
    return new Promise((resolve) => this.#waiters.push(resolve));
  };

  readonly send = async (event: SendEvent): Promise<void> => {
    switch (event.type) {
      case 'http.response.start':
        if (this.#started) throw new ProtocolError("'http.response.start' sent twice");
        this.#started = true;
        this.#status = event.status;
        this.#headers = event.headers ?? [];
        // Trailers need chunked encoding, which HTTP/1.0 lacks: there they are dropped.
        this.#trailersDropped = event.trailers === true && this.#req.httpVersion === '1.0';
        this.#trailers = event.trailers === true && !this.#trailersDropped;
        return;
      case 'http.response.body': {
        if (!this.#started) throw new ProtocolError("'http.response.body' sent before 'http.response.start'");
        if (this.#complete || this.#bodyEnded) throw new ProtocolError("'http.response.body' sent after the response completed");
        if (this.#trailers && event.more_body !== true) this.#bodyEnded = true; // trailers follow
        if (this.#disconnected || this.#closed) return;
        const body = event.body ?? EMPTY;
        const res = this.#res;
        if (event.more_body === true || this.#trailers) {
          if (!res.headersSent) {
            this.#writeHead(null);
            // An empty first chunk (server-sent events, long polls): the client should see the headers now.
            if (body.byteLength === 0) res.flushHeaders();
          }
          if (body.byteLength > 0 && !res.write(body)) await drained(res);
        } else {
          this.#complete = true;
          if (!res.headersSent) this.#writeHead(body.byteLength);
          res.end(body.byteLength > 0 ? body : undefined);
        }
        return;
      }
      case 'http.response.trailers': {
        if (this.#trailersDropped) return;
        if (!this.#trailers) throw new ProtocolError("'http.response.trailers' sent without 'trailers: true' in 'http.response.start'");
        if (this.#complete) throw new ProtocolError("'http.response.trailers' sent after the response completed");
        if (!this.#bodyEnded) throw new ProtocolError("'http.response.trailers' sent before the body completed");
        for (const [name, value] of event.headers ?? []) this.#trailerPairs.push([latin1(name), latin1(value)]);
        if (event.more_trailers !== true) {
          this.#complete = true;
          if (this.#disconnected || this.#closed) return;
          try {
            if (this.#trailerPairs.length > 0) this.#res.addTrailers(this.#trailerPairs);
          } catch (error) {
            // A trailer Node refuses (a newline in it, say): the body is out, so the client
            // must not take the response for complete; the connection is dropped.
            this.#res.destroy();
            throw new ProtocolError(`Invalid trailer in 'http.response.trailers': ${(error as Error).message}`);
          }
          this.#res.end();
        }
        return;
      }
      default:
        throw new ProtocolError(`Unexpected ASGI message '${event.type}' for an http connection`);
    }
  };

  #writeHead(length: number | null): void {
    const flat: string[] = [];
    let framed = false;
    let connection = false;
    for (const [name, value] of this.#headers) {
      const key = latin1(name);
      const lower = key.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding') framed = true;
      else if (lower === 'connection') connection = true;
      flat.push(key, latin1(value));
    }
    if (!framed && length !== null && this.#req.method !== 'HEAD') flat.push('content-length', String(length));
    if (this.#ctx.closing && !connection) flat.push('connection', 'close');
    this.#res.writeHead(this.#status, flat);
  }

  get started(): boolean { return this.#started; }
  get complete(): boolean { return this.#complete; }
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function run(ctx: ServerContext, scope: HttpScope, bridge: HttpBridge, res: ServerResponse): Promise<void> {
  const log = ctx.logger;
  try {
    await ctx.app(scope, bridge.receive, bridge.send);
    if (bridge.claimed || bridge.complete || res.destroyed) return;
    if (!bridge.started || !res.headersSent) {
      log.error({ path: scope.path }, 'ASGI application returned without sending a response');
      plain(res, 500, 'Internal Server Error');
    } else {
      log.error({ path: scope.path }, 'ASGI application returned without completing the response');
      res.destroy();
    }
  } catch (err) {
    if (isRouteNotFound(err) && !res.headersSent) {
      log.info({ path: scope.path, reason: (err as Error).message }, 'No route for HTTP request: 404');
      plain(res, 404, 'Not Found');
      return;
    }
    log.error({ err, path: scope.path }, 'Exception inside ASGI application');
    if (!res.headersSent) plain(res, 500, 'Internal Server Error');
    else if (!res.writableEnded) res.destroy();
  }
}

function serveMetrics(ctx: ServerContext, res: ServerResponse): void {
  ctx.metrics!.collect().then(
    ({ text, contentType }) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(text);
    },
    (err: unknown) => {
      ctx.logger.error({ err }, 'Collecting metrics failed');
      plain(res, 500, 'Internal Server Error');
    },
  );
}

/** Serves one HTTP request through the app (the `request` listener of the server). */
export function handleHttp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  if (ctx.metrics !== null && ctx.options.metricsPath !== null && req.method === 'GET') {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q === -1 ? url : url.slice(0, q)) === ctx.options.metricsPath) return serveMetrics(ctx, res);
  }
  const scope = httpScope(req, ctx.listen, ctx.options, ctx.trusted, ctx.state);
  const bridge = new HttpBridge(ctx, req, res);
  const exchange: NodeExchange = { req, res, claim: () => { bridge.claimed = true; } };
  Object.defineProperty(scope, NODE_HTTP, { value: exchange, enumerable: true });
  res.once('close', () => {
    const ms = elapsed(start);
    const aborted = !res.writableFinished;
    if (ctx.metrics !== null) {
      ctx.metrics.httpRequests.labels(String(aborted ? 499 : res.statusCode)).inc();
      ctx.metrics.httpDuration.observe(ms / 1000);
    }
    if (ctx.options.accessLog) {
      const client = scope.client ? `${scope.client[0]}:${scope.client[1] ?? ''}` : undefined;
      ctx.logger.info(
        { access: 'http', method: scope.method, path: scope.path, status: res.statusCode, ms, client, ...(aborted ? { aborted } : {}) },
        `${scope.method} ${scope.path} ${aborted ? 'aborted' : res.statusCode} ${ms}ms`,
      );
    }
  });
  // Shutdown waits for the bytes too, not just the app: a response the app has ended may still be flushing.
  const flushed = new Promise<void>((resolve) => {
    if (res.writableFinished || res.destroyed) return resolve();
    res.once('finish', resolve);
    res.once('close', resolve);
  });
  track(ctx, Promise.all([run(ctx, scope, bridge, res), flushed]).then(() => undefined));
}
