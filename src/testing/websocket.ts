/**
 * `WebsocketCommunicator` and `HttpCommunicator`: drive a WebSocket or HTTP
 * application with Django Channels' test API, no server involved.
 */
import { type Application, type Header, type HeadersInit, type HttpScope, type SendEvent, type WebsocketScope, toHeaders } from '../asgi.js';
import { ApplicationCommunicator } from './application.js';

/** What `connect()` tells: accepted with a subprotocol, or refused with a close code. */
export type ConnectResult =
  | { connected: true; subprotocol: string | null }
  | { connected: false; closeCode: number; response?: DenialResponse };

/** An HTTP response the app answered the handshake with (the denial response extension). */
export interface DenialResponse { status: number; headers: Header[]; body: Uint8Array }

/** Splits `"/path?query"` (or a full URL) into a decoded path and the raw query bytes. */
function splitPath(path: string): { path: string; raw_path: Uint8Array; query_string: Uint8Array } {
  if (typeof path !== 'string') throw new TypeError(`Expected str, got ${typeof path}`);
  const url = new URL(path, 'http://testserver');
  return {
    path: decodeURIComponent(url.pathname),
    raw_path: Buffer.from(url.pathname, 'latin1'),
    query_string: Buffer.from(url.search.replace(/^\?/, ''), 'latin1'),
  };
}

function expectType<T extends SendEvent['type']>(event: SendEvent, type: T): Extract<SendEvent, { type: T }> {
  if (event.type !== type) throw new Error(`Expected type '${type}', but was '${event.type}'`);
  return event as Extract<SendEvent, { type: T }>;
}

/** Options of a {@link WebsocketCommunicator}. */
export interface WebsocketCommunicatorOptions {
  headers?: HeadersInit;
  subprotocols?: string[];
  /** Extra scope fields (cookies, user, client...). */
  scope?: Partial<WebsocketScope>;
}

/**
 * Talks to a WebSocket application as a client would.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import type { Application } from 'switchyard';
 * import { WebsocketCommunicator } from 'switchyard/testing';
 *
 * declare const application: Application;
 * const client = new WebsocketCommunicator(application, '/ws/chat/lobby/');
 * const { connected } = await client.connect();
 * await client.sendJsonTo({ message: 'hello' });
 * assert.equal((await client.receiveJsonFrom()).message, 'hello');
 * await client.disconnect();
 * ```
 */
export class WebsocketCommunicator extends ApplicationCommunicator {
  /** Headers the app sent with `websocket.accept`. */
  responseHeaders: Header[] = [];

  constructor(application: Application, path: string, options: WebsocketCommunicatorOptions = {}) {
    const scope: WebsocketScope = {
      type: 'websocket',
      asgi: { version: '3.0', spec_version: '2.4' },
      http_version: '1.1',
      scheme: 'ws',
      ...splitPath(path),
      root_path: '',
      headers: toHeaders(options.headers),
      subprotocols: options.subprotocols ?? [],
      client: ['127.0.0.1', 0],
      server: ['testserver', 80],
      extensions: { 'websocket.http.response': {} },
      ...options.scope,
    };
    super(application, scope);
  }

  /**
   * Sends `websocket.connect` and reports whether the app accepted; an app that
   * answered with a denial response has it in `response`.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async connect(timeout = 1000): Promise<ConnectResult> {
    await this.sendInput({ type: 'websocket.connect' });
    const response = await this.receiveOutput(timeout);
    if (response.type === 'websocket.close') return { connected: false, closeCode: response.code ?? 1000 };
    if (response.type === 'websocket.http.response.start') {
      // A denial response: its body follows; the connection never opened (1006, as the server reports it).
      const chunks: Uint8Array[] = [];
      for (;;) {
        const part = expectType(await this.receiveOutput(timeout), 'websocket.http.response.body');
        if (part.body !== undefined) chunks.push(part.body);
        if (part.more_body !== true) break;
      }
      return { connected: false, closeCode: 1006, response: { status: response.status, headers: response.headers ?? [], body: Buffer.concat(chunks) } };
    }
    const accept = expectType(response, 'websocket.accept');
    this.responseHeaders = accept.headers ?? [];
    return { connected: true, subprotocol: accept.subprotocol ?? null };
  }

  /** Sends a text (`{ text }`) or binary (`{ bytes }`) frame to the app. Empty frames are allowed. */
  async sendTo(frame: { text: string } | { bytes: Uint8Array }): Promise<void> {
    if ('text' in frame) {
      if (typeof frame.text !== 'string') throw new TypeError('text must be a string');
      await this.sendInput({ type: 'websocket.receive', text: frame.text });
    } else {
      if (!(frame.bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
      await this.sendInput({ type: 'websocket.receive', bytes: frame.bytes });
    }
  }

  /** Sends `data` as a JSON text frame. */
  async sendJsonTo(data: unknown): Promise<void> {
    await this.sendTo({ text: JSON.stringify(data) });
  }

  /**
   * The next frame the app sends: a `string` or a `Uint8Array`. Throws if the app sent something else.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async receiveFrom(timeout = 1000): Promise<string | Uint8Array> {
    const event = expectType(await this.receiveOutput(timeout), 'websocket.send');
    const hasText = typeof event.text === 'string';
    const hasBytes = event.bytes instanceof Uint8Array;
    if (hasText === hasBytes) throw new Error('websocket.send must carry exactly one of text and bytes');
    return hasText ? event.text! : event.bytes!;
  }

  /**
   * The next frame, parsed as JSON; it must be a text frame.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async receiveJsonFrom<T = Record<string, unknown>>(timeout = 1000): Promise<T> {
    const frame = await this.receiveFrom(timeout);
    if (typeof frame !== 'string') throw new Error('Expected a text frame, got a binary one');
    return JSON.parse(frame) as T;
  }

  /**
   * Sends `websocket.disconnect` and waits for the app to end.
   *
   * @param code The close code the app sees in `websocket.disconnect`. Default 1000.
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async disconnect(code = 1000, timeout = 1000): Promise<void> {
    await this.sendInput({ type: 'websocket.disconnect', code });
    await this.wait(timeout);
  }
}

/** One chunk of a streamed response, as {@link HttpCommunicator.receiveBody} returns it. */
export interface HttpBodyChunk {
  body: Buffer;
  /** More chunks follow (ASGI's `more_body`). */
  moreBody: boolean;
  /** @deprecated Renamed `moreBody` (ASGI's `more_body`, in camelCase). */
  more: boolean;
}

/** A complete HTTP response as seen by {@link HttpCommunicator.getResponse}. */
export interface HttpResponse {
  status: number;
  headers: Header[];
  body: Buffer;
}

/**
 * Talks to an HTTP application as a client would.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import type { Application } from 'switchyard';
 * import { HttpCommunicator } from 'switchyard/testing';
 *
 * declare const app: Application;
 * const response = await new HttpCommunicator(app, 'GET', '/chat/lobby/').getResponse();
 * assert.equal(response.status, 200);
 * ```
 */
export class HttpCommunicator extends ApplicationCommunicator {
  readonly #body: Uint8Array;
  #requested = false;

  constructor(application: Application, method: string, path: string, options: { body?: Uint8Array | string; headers?: HeadersInit; scope?: Partial<HttpScope> } = {}) {
    const scope: HttpScope = {
      type: 'http',
      asgi: { version: '3.0', spec_version: '2.4' },
      http_version: '1.1',
      method: method.toUpperCase(),
      scheme: 'http',
      ...splitPath(path),
      root_path: '',
      headers: toHeaders(options.headers),
      client: ['127.0.0.1', 0],
      server: ['testserver', 80],
      ...options.scope,
    };
    super(application, scope);
    this.#body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body ?? new Uint8Array();
  }

  /** Sends the request body (once). */
  async sendRequest(): Promise<void> {
    if (this.#requested) return;
    this.#requested = true;
    await this.sendInput({ type: 'http.request', body: this.#body, more_body: false });
  }

  /**
   * Sends the request and returns the response's status and headers (for streamed responses).
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async getResponseStart(timeout = 1000): Promise<{ status: number; headers: Header[] }> {
    await this.sendRequest();
    const start = expectType(await this.receiveOutput(timeout), 'http.response.start');
    return { status: start.status, headers: start.headers ?? [] };
  }

  /**
   * The next body chunk of a streamed response.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async receiveBody(timeout = 1000): Promise<HttpBodyChunk> {
    const chunk = expectType(await this.receiveOutput(timeout), 'http.response.body');
    const moreBody = chunk.more_body ?? false;
    const result = { body: Buffer.from(chunk.body ?? new Uint8Array()), moreBody } as HttpBodyChunk;
    // The deprecated spelling, readable but kept out of the chunk's shape (deepEqual, JSON).
    Object.defineProperty(result, 'more', { value: moreBody });
    return result;
  }

  /**
   * Sends the request and collects the whole response.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000. Each chunk may take that long.
   */
  async getResponse(timeout = 1000): Promise<HttpResponse> {
    const { status, headers } = await this.getResponseStart(timeout);
    const chunks: Buffer[] = [];
    for (;;) {
      const { body, moreBody } = await this.receiveBody(timeout);
      chunks.push(body);
      if (!moreBody) break;
    }
    return { status, headers, body: Buffer.concat(chunks) };
  }
}
