/**
 * A WebSocket look-alike over plain HTTP, for networks that break
 * WebSockets: server-sent events (or long polls) down, POSTs up, against a
 * Switchyard server started with `fallback` on. It implements
 * {@link WebsocketLike}, so `ReconnectingWebsocket` uses it as it uses a
 * WebSocket (reconnection, queueing, heartbeats, recovery unchanged).
 *
 * How it works. The opening GET (`switchyard.transport=sse|poll` added to
 * the WebSocket URL, turned into http(s)) runs the route's consumer; its
 * first element is `open` with the session id. Sends go into an outbox
 * that one POST at a time carries up, numbered (`seq`), so the server
 * delivers them in order and a retried POST delivers nothing twice; a POST
 * that fails on the network is retried, a refused one ends the connection
 * as a WebSocket would end (a frame over the server's limit: 1009).
 * Requests carry cookies even to another origin (`credentials: 'include'`),
 * as a WebSocket handshake does. The wire format is described in
 * `src/server/fallback-wire.ts`.
 */
import type { Outgoing, WebsocketConstructor, WebsocketLike } from './options.js';
import { SseParser } from './fallback-sse.js';

/**
 * How a {@link FallbackWebsocket} talks to the server. Every field is optional.
 *
 * @example
 * ```ts
 * import { fallbackWebsocket, type FallbackOptions } from 'switchyard/client/fallback';
 *
 * const options: FallbackOptions = { transport: 'poll', retryDelay: 1000 };
 * const HttpOnly = fallbackWebsocket(options);
 * ```
 */
export interface FallbackOptions {
  /** `'sse'` (default): one event stream down; `'poll'`: long polls down (for proxies that buffer streams). */
  transport?: 'sse' | 'poll';
  /** The `fetch` to use. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Bytes of frames one POST carries at most (a bigger single frame goes alone). Default 64 KiB. */
  batchBytes?: number;
  /** Ms to wait before retrying a POST or poll that failed on the network. Default 500. */
  retryDelay?: number;
  /** Network failures in a row after which the connection is given up (close 1006). Default 4. */
  maxRetries?: number;
}

type Frame = { text: string } | { bytes: string } | { close: { code: number; reason: string } };
type Listener = (event: Record<string, unknown>) => void;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** ws(s):// → http(s)://, with the fallback's parameters added. */
function httpUrl(url: string, params: Record<string, string>): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  else if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  for (const [key, value] of Object.entries(params)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): ArrayBuffer {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/**
 * A WebSocket over HTTP (see the module note). Pass it to
 * `ReconnectingWebsocket` through {@link fallbackWebsocket}, or let
 * {@link withFallback} pick it when a WebSocket cannot connect.
 *
 * @example
 * ```ts
 * import { FallbackWebsocket } from 'switchyard/client/fallback';
 *
 * const socket = new FallbackWebsocket('ws://127.0.0.1:8000/ws/chat/lobby/', undefined, { transport: 'poll' });
 * socket.addEventListener('message', ({ data }) => console.log(data));
 * socket.addEventListener('open', () => socket.send('{"message":"hi","username":"ada"}'));
 * ```
 */
export class FallbackWebsocket implements WebsocketLike {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  readyState = CONNECTING;
  binaryType = 'blob';
  /** The subprotocol the server accepted ('' for none), as `WebSocket.protocol`. */
  protocol = '';
  /** `'sse'` or `'poll'`. */
  readonly transport: 'sse' | 'poll';
  readonly url: string;
  readonly #options: Required<Omit<FallbackOptions, 'transport'>>;
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #abort = new AbortController();
  #session = '';
  /** Frames not yet acknowledged by the server; the first has number `#seq`. */
  #outbox: Array<Frame | Promise<Frame>> = [];
  #seq = 0;
  #posting = false;
  /** Poll elements received so far. */
  #ack = 0;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string | URL, protocols?: string | string[], options: FallbackOptions = {}) {
    this.url = String(url);
    this.transport = options.transport ?? 'sse';
    const global = (globalThis as { fetch?: typeof fetch }).fetch;
    // Called as a plain function: browsers refuse `fetch` called as a method of another object ("Illegal invocation").
    const fetchFn: typeof fetch | undefined = options.fetch ?? (global && ((input, init) => global.call(globalThis, input, init)));
    if (typeof fetchFn !== 'function') throw new TypeError('No fetch implementation: pass { fetch }');
    this.#options = { batchBytes: 64 * 1024, retryDelay: 500, maxRetries: 4, ...options, fetch: fetchFn };
    const offered = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols];
    const params: Record<string, string> = { 'switchyard.transport': this.transport };
    if (offered.length > 0) params['switchyard.protocols'] = offered.join(',');
    const target = httpUrl(this.url, params); // a bad URL throws here, as `new WebSocket` does
    void (this.transport === 'sse' ? this.#stream(target) : this.#poll(target)).catch((error: unknown) => this.#fail(error));
  }

  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: Listener): void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.#listeners.get(type)?.delete(listener);
  }

  send(data: Outgoing): void {
    if (this.readyState === CONNECTING) throw new Error('InvalidStateError: send() before the connection is open');
    if (this.readyState !== OPEN) return;
    this.#outbox.push(this.#encode(data));
    void this.#flush();
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    if (this.readyState === CONNECTING) {
      this.#end(1006, '', false);
      return;
    }
    this.readyState = CLOSING;
    this.#outbox.push({ close: { code, reason } });
    void this.#flush();
    // The server echoes the close down; a link that died meanwhile never will.
    this.#closeTimer = setTimeout(() => this.#end(1006, '', false), 5000);
  }

  /** Drops the connection now (as `ws`'s `terminate()`). */
  terminate(): void {
    this.#end(1006, '', false);
  }

  #emit(type: string, event: Record<string, unknown>): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        listener({ type, target: this, ...event });
      } catch (error) {
        setTimeout(() => { throw error; }); // a listener's bug must not break the connection, nor be hidden
      }
    }
  }

  #fail(error: unknown): void {
    if (this.readyState === CLOSED) return;
    this.#emit('error', { error, message: String((error as Error)?.message ?? error) });
    this.#end(1006, '', false);
  }

  #end(code: number, reason: string, wasClean: boolean): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    clearTimeout(this.#closeTimer);
    this.#outbox = [];
    this.#abort.abort();
    this.#emit('close', { code, reason, wasClean });
  }

  #opened(open: { session: string; subprotocol: string | null }): void {
    this.#session = open.session;
    this.protocol = open.subprotocol ?? '';
    this.readyState = OPEN;
    this.#emit('open', {});
  }

  #received(data: string | ArrayBuffer): void {
    if (this.readyState !== OPEN && this.readyState !== CLOSING) return;
    const value = typeof data === 'string' || this.binaryType === 'arraybuffer' || typeof Blob !== 'function' ? data : new Blob([data]);
    this.#emit('message', { data: value });
  }

  #encode(data: Outgoing): Frame | Promise<Frame> {
    if (typeof data === 'string') return { text: data };
    if (data instanceof ArrayBuffer) return { bytes: toBase64(new Uint8Array(data)) };
    if (ArrayBuffer.isView(data)) return { bytes: toBase64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) };
    return data.arrayBuffer().then((buffer) => ({ bytes: toBase64(new Uint8Array(buffer)) }));
  }

  #query(extra: Record<string, string>): string {
    return httpUrl(this.url, { 'switchyard.transport': this.transport, 'switchyard.session': this.#session, ...extra });
  }

  /** A refused or failed request: the error event, then close (1006, as a failed WebSocket). */
  async #refused(response: Response, what: string): Promise<void> {
    let detail = '';
    try { detail = ((await response.json()) as { message?: string }).message ?? ''; } catch { /* not JSON */ }
    this.#fail(new Error(`${what}: HTTP ${response.status}${detail ? ` (${detail})` : ''}`));
  }

  // ---- down ----

  async #stream(target: string): Promise<void> {
    const response = await this.#options.fetch(target, { signal: this.#abort.signal, headers: { accept: 'text/event-stream' }, cache: 'no-store', credentials: 'include' });
    if (!response.ok || response.body === null) return this.#refused(response, 'The fallback connection was refused');
    const parser = new SseParser();
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const { event, data } of parser.push(value)) {
        if (event === 'open') this.#opened(JSON.parse(data) as { session: string; subprotocol: string | null });
        else if (event === 'message') this.#received(data);
        else if (event === 'text') this.#received(JSON.parse(data) as string);
        else if (event === 'binary') this.#received(fromBase64(data));
        else if (event === 'close') {
          const { code, reason } = JSON.parse(data) as { code: number; reason: string };
          return this.#end(code, reason, true);
        }
      }
    }
    this.#end(1006, '', false); // the stream ended without a close: the link dropped
  }

  async #poll(target: string): Promise<void> {
    let url = target;
    let failures = 0;
    while (this.readyState !== CLOSED) {
      let response: Response;
      try {
        response = await this.#options.fetch(url, { signal: this.#abort.signal, cache: 'no-store', credentials: 'include' });
      } catch (error) {
        if (this.readyState === CLOSED || this.readyState === CONNECTING || ++failures > this.#options.maxRetries) throw error;
        await this.#wait();
        continue; // the server keeps what it sent until acknowledged: the same poll gets it again
      }
      if (!response.ok) return this.#refused(response, this.readyState === CONNECTING ? 'The fallback connection was refused' : 'Polling failed');
      failures = 0;
      const elements = (await response.json()) as Array<Record<string, unknown>>;
      for (const element of elements) {
        this.#ack++;
        if ('open' in element) this.#opened(element.open as { session: string; subprotocol: string | null });
        else if ('text' in element) this.#received(element.text as string);
        else if ('bytes' in element) this.#received(fromBase64(element.bytes as string));
        else if ('close' in element) {
          const { code, reason } = element.close as { code: number; reason: string };
          return this.#end(code, reason, true);
        }
      }
      url = this.#query({ 'switchyard.ack': String(this.#ack) });
    }
  }

  // ---- up ----

  async #flush(): Promise<void> {
    if (this.#posting) return;
    this.#posting = true;
    let failures = 0;
    try {
      while (this.#outbox.length > 0 && (this.readyState === OPEN || this.readyState === CLOSING)) {
        const frames: Frame[] = [];
        let bytes = 0;
        for (const item of this.#outbox) {
          const frame = await item;
          const size = 'text' in frame ? frame.text.length : 'bytes' in frame ? frame.bytes.length : 0;
          if (frames.length > 0 && bytes + size > this.#options.batchBytes) break;
          frames.push(frame);
          bytes += size;
        }
        let response: Response;
        try {
          response = await this.#options.fetch(this.#query({}), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ seq: this.#seq, frames }),
            signal: this.#abort.signal,
            credentials: 'include',
          });
        } catch (error) {
          if ((this.readyState as number) === CLOSED) return;
          if (++failures > this.#options.maxRetries) return this.#fail(error);
          await this.#wait();
          continue; // the same frames, the same seq: the server skips what it already has
        }
        const answer = (await response.json().catch(() => ({}))) as { ack?: number; message?: string };
        if (response.status === 413) {
          // The server closed the connection with 1009, as over a WebSocket; its close comes down.
          this.#emit('error', { error: new Error(answer.message ?? 'Message too big'), message: answer.message ?? 'Message too big' });
          this.#outbox = [];
          return;
        }
        if (response.status >= 500 && ++failures <= this.#options.maxRetries) {
          await this.#wait();
          continue;
        }
        if (!response.ok) {
          const error = new Error(`Sending failed: HTTP ${response.status}${answer.message ? ` (${answer.message})` : ''}`);
          // A session the server has just closed: its close, with the app's code, is on its way down; wait for it a little.
          if (response.status === 404) setTimeout(() => this.#fail(error), 2000);
          else this.#fail(error);
          return;
        }
        failures = 0;
        const acked = typeof answer.ack === 'number' ? answer.ack : this.#seq + frames.length;
        this.#outbox.splice(0, Math.max(0, acked - this.#seq));
        this.#seq = Math.max(this.#seq, acked);
      }
    } finally {
      this.#posting = false;
    }
  }

  #wait(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.#options.retryDelay));
  }
}

/**
 * A WebSocket class that is always the HTTP fallback: pass it as the
 * `WebSocket` option of `ReconnectingWebsocket`.
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 * import { fallbackWebsocket } from 'switchyard/client/fallback';
 *
 * const chat = new ReconnectingWebsocket('wss://chat.example.com/ws/chat/lobby/', { WebSocket: fallbackWebsocket({ transport: 'sse' }) });
 * ```
 */
export function fallbackWebsocket(options: FallbackOptions = {}): WebsocketConstructor {
  return class extends FallbackWebsocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, options);
    }
  };
}
