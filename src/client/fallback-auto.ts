/**
 * A WebSocket class that falls back to HTTP by itself: each connection
 * tries a real WebSocket first, and when that fails before it opens (a
 * proxy that refuses the upgrade, or one that lets it hang), the same
 * connection goes on over the HTTP fallback. Once a WebSocket failed, the
 * next connections go straight to the fallback for `websocketRetry` ms,
 * then a WebSocket is tried again. Nothing in `ReconnectingWebsocket`
 * changes: this is its `WebSocket` option.
 */
import { FallbackWebsocket, type FallbackOptions } from './fallback.js';
import type { Outgoing, WebsocketConstructor, WebsocketLike } from './options.js';

/**
 * Options of {@link withFallback}: when to give up on a WebSocket, and the
 * {@link FallbackOptions} of the HTTP fallback.
 *
 * @example
 * ```ts
 * import { withFallback, type AutoFallbackOptions } from 'switchyard/client/fallback';
 *
 * const options: AutoFallbackOptions = { websocketTimeout: 2000, websocketRetry: 60_000 };
 * const WebSocketOrHttp = withFallback(options);
 * ```
 */
export interface AutoFallbackOptions extends FallbackOptions {
  /** The WebSocket class tried first. Default `globalThis.WebSocket`. */
  WebSocket?: WebsocketConstructor;
  /**
   * Ms a WebSocket (or, without a fixed `transport`, an event stream) may take
   * to open before the next way is tried. Default 4000.
   */
  websocketTimeout?: number;
  /** Ms after a failure during which connections start with the way that worked. Default 5 minutes. */
  websocketRetry?: number;
}

type Listener = (event: Record<string, unknown>) => void;
type EventType = 'open' | 'message' | 'close' | 'error';
type Way = 'websocket' | 'sse' | 'poll';

/**
 * A `WebSocket` option for `ReconnectingWebsocket` that uses a WebSocket
 * when it can and the HTTP fallback when it cannot: a WebSocket first (the
 * fallback when it fails or does not open within `websocketTimeout`), then
 * an event stream, then long polls when the stream does not open within
 * `websocketTimeout` (a proxy that buffers it). With `transport` set, only
 * that fallback is used.
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 * import { withFallback } from 'switchyard/client/fallback';
 *
 * const chat = new ReconnectingWebsocket(`wss://${location.host}/ws/chat/lobby/`, { WebSocket: withFallback() });
 * ```
 */
export function withFallback(options: AutoFallbackOptions = {}): WebsocketConstructor & { readonly usingFallback: boolean } {
  const { WebSocket: given, websocketTimeout = 4000, websocketRetry = 5 * 60_000, ...fallback } = options;
  const Native = given ?? (globalThis as { WebSocket?: WebsocketConstructor }).WebSocket;
  const ways: Way[] = [...(Native === undefined ? [] : ['websocket'] as const), ...(fallback.transport !== undefined ? [fallback.transport] : ['sse', 'poll'] as const)];
  /** The way that last worked, and until when connections start with it rather than from the first. */
  let start = 0;
  let startUntil = 0;
  const first = (): number => (Date.now() < startUntil ? start : 0);

  class AutoFallbackWebsocket implements WebsocketLike {
    /** Whether new connections skip the WebSocket now (one failed within `websocketRetry`). */
    static get usingFallback(): boolean { return ways[first()] !== 'websocket'; }

    readonly #url: string;
    readonly #protocols: string | string[] | undefined;
    readonly #listeners = new Map<EventType, Set<Listener>>();
    #inner!: WebsocketLike;
    #binaryType = 'blob';
    #way = 0;
    #opened = false;
    #timer: ReturnType<typeof setTimeout> | undefined;

    constructor(url: string, protocols?: string | string[]) {
      this.#url = url;
      this.#protocols = protocols;
      this.#attempt(first());
    }

    get readyState(): number { return this.#inner.readyState; }
    get binaryType(): string { return this.#binaryType; }
    set binaryType(value: string) {
      this.#binaryType = value;
      this.#inner.binaryType = value;
    }
    /** `'websocket'`, `'sse'` or `'poll'`: the way this connection uses (or is trying). */
    get transport(): Way { return ways[this.#way]!; }

    send(data: Outgoing): void { this.#inner.send(data); }
    close(code?: number, reason?: string): void {
      clearTimeout(this.#timer);
      this.#inner.close(code, reason);
    }
    terminate(): void {
      clearTimeout(this.#timer);
      const inner = this.#inner;
      if (inner.terminate) inner.terminate();
      else inner.close();
    }

    addEventListener(type: EventType, listener: Listener): void {
      let set = this.#listeners.get(type);
      if (set === undefined) this.#listeners.set(type, (set = new Set()));
      set.add(listener);
    }

    #emit(type: EventType, event: Record<string, unknown>): void {
      for (const listener of [...(this.#listeners.get(type) ?? [])]) listener(event);
    }

    /** Opens the `index`th way; before it opens, its failure (or its timeout) moves on to the next, if any. */
    #attempt(index: number): void {
      const way = ways[index]!;
      const last = index === ways.length - 1;
      const socket: WebsocketLike = way === 'websocket'
        ? new Native!(this.#url, this.#protocols)
        : new FallbackWebsocket(this.#url, this.#protocols, { ...fallback, transport: way });
      socket.binaryType = this.#binaryType;
      this.#inner = socket;
      this.#way = index;
      let abandoned = false;
      const next = (): void => {
        if (abandoned || this.#opened || last) return;
        abandoned = true;
        clearTimeout(this.#timer);
        start = index + 1;
        startUntil = Date.now() + websocketRetry;
        try {
          if (socket.terminate) socket.terminate();
          else socket.close();
        } catch { /* already failing */ }
        this.#attempt(index + 1);
      };
      if (!last) this.#timer = setTimeout(next, websocketTimeout);
      const current = (): boolean => !abandoned && this.#inner === socket;
      socket.addEventListener('open', (event) => {
        if (!current()) return;
        clearTimeout(this.#timer);
        this.#opened = true;
        this.#emit('open', event as Record<string, unknown>);
      });
      socket.addEventListener('message', (event) => { if (current()) this.#emit('message', event as Record<string, unknown>); });
      // A WebSocket that fails before it opens means "try HTTP" (a browser does not say why it
      // failed). An event stream that fails is reported: a server that is down or refuses fails
      // long polls too; only one that never opens (a proxy buffering it) gives way to them.
      const failMovesOn = way === 'websocket';
      for (const type of ['error', 'close'] as const) {
        socket.addEventListener(type, (event) => {
          if (!current()) return;
          if (this.#opened || last || !failMovesOn) this.#emit(type, event as Record<string, unknown>);
          else next();
        });
      }
    }
  }
  return AutoFallbackWebsocket;
}
