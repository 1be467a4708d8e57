/**
 * HTTP answers to a WebSocket handshake that is not accepted: a bare status
 * (403 for a close before accept, 400 for a malformed upgrade...) and the
 * ASGI denial response extension (`websocket.http.response`), with which an
 * app answers with a response of its own, a 401 with `WWW-Authenticate`
 * say. Both are written straight to the socket, which then closes.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Header, WebsocketCloseEvent } from '../asgi.js';
import { ProtocolError } from '../errors.js';
import { isToken, latin1 } from './http.js';

/** A connection (WebSocket or fallback transport) as the app's `websocket.close` reaches it. */
export interface ClosableConnection {
  /** Answers the handshake with an HTTP status instead of accepting it. */
  refuse(status: number, why: string): void;
  /** Closes the open connection with a close code and reason. */
  close(code: number, reason: string): void;
}

/**
 * The app's `websocket.close`, the same on every transport: refused during a
 * denial response (a ProtocolError), a 403 before accept (Django's rule),
 * else a close with the app's code (1000 when it gave none) and reason.
 */
export function closeAsAsked(conn: ClosableConnection, event: WebsocketCloseEvent, connecting: boolean, denying: boolean): void {
  if (denying) throw new ProtocolError("'websocket.close' sent during a denial response");
  if (connecting) conn.refuse(403, 'closed before accept');
  else conn.close(event.code ?? 1000, event.reason ?? '');
}

/** Keeps a reset during the handshake from crashing the process; `ws` handles errors once it owns the socket. */
export function ignoreSocketError(): void {}

function writeAndClose(socket: Duplex, head: string, body?: Uint8Array): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  if (body === undefined || body.byteLength === 0) {
    socket.end(head);
  } else {
    socket.write(head);
    socket.end(body);
  }
}

/** Answers a handshake with a bare HTTP status (and fixed extra header lines, `Name: value`) and closes the socket. */
export function rawResponse(socket: Duplex, status: number, extraHeaders: readonly string[] = []): void {
  const extra = extraHeaders.map((line) => `${line}\r\n`).join('');
  writeAndClose(socket, `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * A header an app gives for a handshake answer (`where`: the ASGI event), as
 * latin1 name and value. A name that is not a token, or a value with CR, LF
 * or NUL (which would split the response, or add headers of the app's
 * making), is a {@link ProtocolError}.
 */
export function checkedHeader(rawName: Uint8Array, rawValue: Uint8Array, where: string): [name: string, value: string] {
  const name = latin1(rawName);
  const value = latin1(rawValue);
  if (!isToken(name) || /[\r\n\0]/.test(value)) throw new ProtocolError(`Invalid header in '${where}': ${JSON.stringify(name)}`);
  return [name, value];
}

const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection']);

/**
 * A denial response in the making: `websocket.http.response.start`, then
 * `websocket.http.response.body` events until one has no `more_body`. The
 * body is gathered and sent with a `Content-Length` (denials are short).
 */
export class DenialResponse {
  readonly status: number;
  /** True once the last body chunk is in. */
  complete = false;
  readonly #head: string;
  readonly #chunks: Uint8Array[] = [];

  /** Checks what the app sent: a 1xx, 101 or malformed status, or a header that could split the response, is a {@link ProtocolError}. */
  constructor(status: unknown, headers: Header[]) {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
      throw new ProtocolError(`'websocket.http.response.start' needs a status from 200 to 599 (got ${String(status)})`);
    }
    this.status = status;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
    for (const [rawName, rawValue] of headers) {
      const [name, value] = checkedHeader(rawName, rawValue, 'websocket.http.response.start');
      if (FRAMING.has(name.toLowerCase())) continue; // the server frames the response itself
      head += `${name}: ${value}\r\n`;
    }
    this.#head = head;
  }

  /** Adds a body chunk; returns true once the response is complete. */
  add(body: Uint8Array | undefined, more: boolean): boolean {
    if (body !== undefined && body.byteLength > 0) this.#chunks.push(body);
    this.complete = !more;
    return this.complete;
  }

  /** Writes the whole response and closes the socket. */
  send(socket: Duplex): void {
    const body = Buffer.concat(this.#chunks);
    writeAndClose(socket, `${this.#head}Connection: close\r\nContent-Length: ${body.byteLength}\r\n\r\n`, body);
  }
}
