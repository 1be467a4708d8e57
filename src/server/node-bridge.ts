/**
 * Runs a Node `(req, res)` handler over plain ASGI events, for scopes that
 * carry no Node request: a test communicator, or another ASGI server.
 *
 * How it works. A `ServerResponse` is attached to an in-memory socket that
 * captures what Node would put on the wire. The request is presented as
 * HTTP/1.0, so Node frames the response by connection close (no chunked
 * encoding to undo): the captured bytes are the status line and headers,
 * then the raw body. The head becomes `http.response.start` (hop-by-hop
 * headers dropped), each later write an `http.response.body` with
 * `more_body`, and the response's `finish` the last one. The request body is
 * pumped from `receive()` into the `IncomingMessage`.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Header, HttpScope, Receive, ReceiveEvent, Send } from '../asgi.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);
const HEAD_END = Buffer.from('\r\n\r\n');

/** A socket that reads nothing and hands every write to `onWrite`. */
class CaptureSocket extends Duplex {
  readonly #onWrite: (chunk: Buffer) => void;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  encrypted: boolean;

  constructor(onWrite: (chunk: Buffer) => void, scope: HttpScope) {
    super();
    this.#onWrite = onWrite;
    this.remoteAddress = scope.client?.[0];
    this.remotePort = scope.client?.[1] ?? undefined;
    this.encrypted = scope.scheme === 'https';
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#onWrite(chunk);
    callback();
  }

  setTimeout(): this { return this; }
  setNoDelay(): this { return this; }
  setKeepAlive(): this { return this; }
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Serves one ASGI `http` connection with a Node handler; resolves when the response is over. */
export async function runDetached(
  handler: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => unknown,
  scope: HttpScope,
  receive: Receive,
  send: Send,
  onRequest: (req: IncomingMessage) => void,
): Promise<void> {
  let head: Buffer | null = Buffer.alloc(0);
  let chain: Promise<void> = Promise.resolve();
  let failed: unknown = null;
  const enqueue = (step: () => Promise<void>): void => {
    chain = chain.then(step).catch((err: unknown) => { failed ??= err; });
  };
  const onWrite = (chunk: Buffer): void => {
    if (head === null) {
      if (chunk.byteLength > 0) enqueue(() => send({ type: 'http.response.body', body: chunk, more_body: true }));
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf(HEAD_END);
    if (end === -1) return;
    const lines = head.subarray(0, end).toString('latin1').split('\r\n');
    const rest = head.subarray(end + HEAD_END.length);
    head = null;
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Header[] = [];
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!HOP_BY_HOP.has(name)) headers.push([Buffer.from(name, 'latin1'), Buffer.from(line.slice(colon + 1).trim(), 'latin1')]);
    }
    enqueue(() => send({ type: 'http.response.start', status, headers }));
    if (rest.byteLength > 0) enqueue(() => send({ type: 'http.response.body', body: Buffer.from(rest), more_body: true }));
  };

  const socket = new CaptureSocket(onWrite, scope);
  const req = new IncomingMessage(socket as unknown as Socket);
  req.method = scope.method;
  const query = scope.query_string.byteLength > 0 ? `?${text(scope.query_string)}` : '';
  req.url = (scope.raw_path !== undefined ? text(scope.raw_path) : encodeURI(scope.path)) + query;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 0;
  req.httpVersion = '1.0';
  for (const [name, value] of scope.headers) {
    const key = text(name).toLowerCase();
    const val = text(value);
    req.rawHeaders.push(key, val);
    const existing = req.headers[key];
    if (existing === undefined) req.headers[key] = val;
    else if (Array.isArray(existing)) existing.push(val);
    else req.headers[key] = key === 'set-cookie' ? [existing, val] : `${existing}, ${val}`;
  }
  onRequest(req);

  // A test scope may lack framing headers; body parsers only read bodies that have them.
  const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const first = await receive() as ReceiveEvent;
  if (!framed && first.type === 'http.request') {
    if (first.more_body === true) req.headers['transfer-encoding'] = 'chunked';
    else if (first.body !== undefined && first.body.byteLength > 0) req.headers['content-length'] = String(first.body.byteLength);
  }

  // Pump the request body in, as it arrives.
  void (async () => {
    for (let event: ReceiveEvent | null = first; ; event = null) {
      event ??= await receive() as ReceiveEvent;
      if (event.type === 'http.disconnect') {
        req.destroy();
        return;
      }
      if (event.type !== 'http.request') continue;
      if (event.body !== undefined && event.body.byteLength > 0) req.push(Buffer.from(event.body));
      if (event.more_body !== true) {
        req.complete = true;
        req.push(null);
        return;
      }
    }
  })();

  const res = new ServerResponse(req);
  res.assignSocket(socket as unknown as Socket);
  return new Promise<void>((resolve, reject) => {
    res.once('finish', () => {
      enqueue(() => send({ type: 'http.response.body', body: new Uint8Array(0), more_body: false }));
      void chain.then(() => {
        socket.destroy();
        if (failed !== null) reject(failed);
        else resolve();
      });
    });
    invokeNodeHandler(handler, req, res, reject);
  });
}

/**
 * Calls a Node/Express handler with a `next()` that answers 404 when nothing
 * handled the request (Express's final handler) and reports errors, thrown,
 * rejected or passed to `next`, through `fail`.
 */
export function invokeNodeHandler(
  handler: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => unknown,
  req: IncomingMessage,
  res: ServerResponse,
  fail: (err: unknown) => void,
): void {
  const next = (err?: unknown): void => {
    if (err !== undefined && err !== null && err !== 'route' && err !== 'router') return fail(err);
    if (!res.headersSent) {
      res.statusCode = 404;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('Not Found');
    }
  };
  try {
    const result = handler(req, res, next);
    if (result instanceof Promise) result.catch(fail);
  } catch (err) {
    fail(err);
  }
}
