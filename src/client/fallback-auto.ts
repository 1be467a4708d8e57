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

/** Options of {@link withFallback}. */
export interface AutoFallbackOptions extends FallbackOptions {
  /** The WebSocket class tried first. Default `globalThis.WebSocket`. */
  WebSocket?: WebsocketConstructor;
  /** Ms a WebSocket may take to open before the fallback is used instead. Default 4000. */
  websocketTimeout?: number;
  /** Ms after a WebSocket failure during which connections use the fallback directly. Default 5 minutes. */
  websocketRetry?: number;
}

type Listener = (event: Record<string, unknown>) => void;
type EventType = 'open' | 'message' | 'close' | 'error';

/**
 * A `WebSocket` option for `ReconnectingWebsocket` that uses a WebSocket
 * when it can and the HTTP fallback when it cannot.
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket, withFallback } from 'switchyard/client';
 *
 * const chat = new ReconnectingWebsocket(`wss://${location.host}/ws/chat/lobby/`, { WebSocket: withFallback() });
 * ```
 */
export function withFallback(options: AutoFallbackOptions = {}): WebsocketConstructor & { readonly usingFallback: boolean } {
  const { WebSocket: given, websocketTimeout = 4000, websocketRetry = 5 * 60_000, ...fallback } = options;
  const Native = given ?? (globalThis as { WebSocket?: WebsocketConstructor }).WebSocket;
  /** Until when connections skip the WebSocket attempt. */
  let fallbackUntil = Native === undefined ? Infinity : 0;

  class AutoFallbackWebsocket implements WebsocketLike {
    /** Whether new connections go straight to the HTTP fallback now. */
    static get usingFallback(): boolean { return Date.now() < fallbackUntil; }

    readonly #url: string;
    readonly #protocols: string | string[] | undefined;
    readonly #listeners = new Map<EventType, Set<Listener>>();
    #inner: WebsocketLike;
    #binaryType = 'blob';
    #opened = false;
    #timer: ReturnType<typeof setTimeout> | undefined;

    constructor(url: string, protocols?: string | string[]) {
      this.#url = url;
      this.#protocols = protocols;
      this.#inner = Date.now() < fallbackUntil ? this.#fallback() : this.#websocket();
    }

    get readyState(): number { return this.#inner.readyState; }
    get binaryType(): string { return this.#binaryType; }
    set binaryType(value: string) {
      this.#binaryType = value;
      this.#inner.binaryType = value;
    }
    /** `'websocket'`, or the fallback's transport (`'sse'`, `'poll'`). */
    get transport(): string { return this.#inner instanceof FallbackWebsocket ? this.#inner.transport : 'websocket'; }

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

    #websocket(): WebsocketLike {
      const socket = new Native!(this.#url, this.#protocols);
      let switched = false;
      const giveUp = (): void => {
        if (switched || this.#opened) return;
        switched = true;
        clearTimeout(this.#timer);
        fallbackUntil = Date.now() + websocketRetry;
        try { socket.close(); } catch { /* already failing */ }
        this.#inner = this.#fallback();
        this.#inner.binaryType = this.#binaryType;
      };
      this.#timer = setTimeout(giveUp, websocketTimeout);
      socket.addEventListener('open', (event) => {
        if (switched) return;
        clearTimeout(this.#timer);
        this.#opened = true;
        this.#emit('open', event as Record<string, unknown>);
      });
      socket.addEventListener('message', (event) => { if (!switched) this.#emit('message', event as Record<string, unknown>); });
      // Before open, a WebSocket's error or close means "try the fallback", not "closed".
      socket.addEventListener('error', (event) => { if (this.#opened && !switched) this.#emit('error', event as Record<string, unknown>); else giveUp(); });
      socket.addEventListener('close', (event) => { if (this.#opened && !switched) this.#emit('close', event as Record<string, unknown>); else giveUp(); });
      return socket;
    }

    #fallback(): WebsocketLike {
      const socket = new FallbackWebsocket(this.#url, this.#protocols, fallback);
      for (const type of ['open', 'message', 'error', 'close'] as const) {
        socket.addEventListener(type, (event) => { if (this.#inner === socket) this.#emit(type, event); });
      }
      return socket;
    }
  }
  return AutoFallbackWebsocket;
}
