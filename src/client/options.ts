/**
 * The client's options, their defaults (applied in one place, below the
 * interface) and their validation: a misused option throws a `TypeError` with
 * an exact message when the client is built, not later inside a timer.
 */
import type { OverflowPolicy } from './send-queue.js';
import type { CloseDetail, MessageDetail } from './events.js';

/** What can be sent: what `WebSocket.send` accepts in browsers and in `ws`. */
export type Outgoing = string | ArrayBuffer | ArrayBufferView | Blob;

/**
 * The part of the WebSocket API the client uses. The browser's `WebSocket`,
 * Node 22's global one and the `ws` package's all fit.
 */
export interface WebsocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: Outgoing): void;
  close(code?: number, reason?: string): void;
  // `any`: each implementation has its own event classes; the client reads only `data`, `code`, `reason`, `wasClean`, `error`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: any) => void): void;
  /** `ws` only: drops the TCP connection without a closing handshake. */
  terminate?(): void;
}

/** A WebSocket class: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebsocketConstructor = new (url: string, protocols?: string | string[]) => WebsocketLike;

/**
 * Application-level heartbeat. Browsers answer the server's protocol pings
 * without telling the page, so a page cannot see them; instead the client
 * watches for *any* frame from the server. A link where nothing arrives for
 * `timeout` ms is considered dead: the client drops it and reconnects.
 *
 * On a quiet channel, set `message` so the client itself sends a ping every
 * `interval` ms and the server's reply (any frame) keeps the link alive; use
 * `isPong` to keep those replies out of the `message` event.
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 *
 * new ReconnectingWebsocket('wss://chat.example.com/ws/chat/lobby/', {
 *   heartbeat: { timeout: 45_000, interval: 15_000, message: '{"type":"ping"}', isPong: ({ data }) => (data as { type?: string })?.type === 'pong' },
 * });
 * ```
 */
export interface HeartbeatOptions {
  /** Ms without any frame from the server after which the link is dropped. */
  timeout: number;
  /** What to send as a ping; a function is called for each ping. No pings when absent. */
  message?: string | (() => string);
  /** Ms between pings. Default: `timeout / 2`. */
  interval?: number;
  /** Returns `true` for a pong, which then resets the timer but is not emitted as `message`. */
  isPong?: (message: MessageDetail) => boolean;
}

/**
 * How a {@link ReconnectingWebsocket} connects, retries and queues. Every field is optional;
 * times are in milliseconds.
 *
 * @example
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 *
 * new ReconnectingWebsocket('wss://chat.example.com/ws/chat/lobby/', { minDelay: 250, maxDelay: 5000, queueSize: 20, queueOverflow: 'drop-oldest' });
 * ```
 */
export interface ClientOptions {
  /** The WebSocket class to use. Default: `globalThis.WebSocket` (browsers, Node 22+); required on Node 20. */
  WebSocket?: WebsocketConstructor;
  /** Subprotocols to offer. */
  protocols?: string | string[];
  /** Shortest wait before a retry, ms. Default 500. */
  minDelay?: number;
  /** Longest wait before a retry, ms. Default 30 000. */
  maxDelay?: number;
  /** Growth of the retry window per failed attempt. Default 2. */
  factor?: number;
  /** Consecutive failed attempts after which the client gives up (state `closed`). Default `Infinity`. */
  maxRetries?: number;
  /** Ms a connection may stay in the handshake before it is dropped and retried; 0 = no limit. Default 10 000. */
  connectTimeout?: number;
  /** How many sends are kept while offline. 0 = none (sends while offline fail). Default 100. */
  queueSize?: number;
  /** What a send does when the queue is full: `'reject'` it (default) or `'drop-oldest'` queued item. */
  queueOverflow?: OverflowPolicy;
  /** Dead-link detection; off by default. See {@link HeartbeatOptions}. */
  heartbeat?: HeartbeatOptions;
  /** Parse text frames as JSON when they are JSON. Default `true`. */
  parseJson?: boolean;
  /**
   * Ask the server for recovery (`docs/recovery.md`): after a reconnection,
   * the messages of the server's groups missed while away are replayed, each
   * delivered once, and a `recovery` event says whether nothing was lost.
   * Needs a server whose layer keeps history for those groups. Default `false`.
   */
  recover?: boolean;
  /** Binary frames arrive as `ArrayBuffer` (default) or `Blob` (browsers). */
  binaryType?: 'arraybuffer' | 'blob';
  /** Decides whether to reconnect after a connection closed. Default: always (until `close()`). */
  shouldReconnect?: (close: Omit<CloseDetail, 'willReconnect'>) => boolean;
  /** A number in [0, 1) for the jitter. Default `Math.random`; tests may pin it. */
  random?: () => number;
}

/** @deprecated Renamed {@link WebsocketLike} (`Websocket`, as Django spells it). */
export type WebSocketLike = WebsocketLike;
/** @deprecated Renamed {@link WebsocketConstructor} (`Websocket`, as Django spells it). */
export type WebSocketConstructor = WebsocketConstructor;

/** The options with defaults applied. */
export interface ResolvedOptions extends Required<Omit<ClientOptions, 'protocols' | 'heartbeat'>> {
  protocols: string | string[] | undefined;
  heartbeat: (HeartbeatOptions & { interval: number }) | undefined;
}

export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebsocketConstructor }).WebSocket;
  if (typeof WebSocketClass !== 'function') {
    throw new TypeError('No WebSocket implementation: pass { WebSocket } (for example from the "ws" package) on Node 20');
  }
  const resolved: ResolvedOptions = {
    minDelay: 500,
    maxDelay: 30_000,
    factor: 2,
    maxRetries: Infinity,
    connectTimeout: 10_000,
    queueSize: 100,
    queueOverflow: 'reject',
    parseJson: true,
    recover: false,
    binaryType: 'arraybuffer',
    shouldReconnect: () => true,
    random: Math.random,
    protocols: undefined,
    ...withoutUndefined(options),
    WebSocket: WebSocketClass,
    heartbeat: options.heartbeat && {
      ...options.heartbeat,
      interval: options.heartbeat.interval ?? options.heartbeat.timeout / 2,
    },
  };
  const { minDelay, maxDelay, factor, maxRetries, connectTimeout, queueSize, queueOverflow, heartbeat } = resolved;
  nonNegative('minDelay', minDelay);
  nonNegative('maxDelay', maxDelay);
  if (maxDelay < minDelay) throw new TypeError('The "maxDelay" option must be at least "minDelay"');
  if (!(factor >= 1)) throw new TypeError('The "factor" option must be a number >= 1');
  nonNegative('maxRetries', maxRetries, true);
  nonNegative('connectTimeout', connectTimeout);
  nonNegative('queueSize', queueSize, true);
  if (queueOverflow !== 'reject' && queueOverflow !== 'drop-oldest') {
    throw new TypeError('The "queueOverflow" option must be "reject" or "drop-oldest"');
  }
  if (heartbeat) {
    if (!(heartbeat.timeout > 0)) throw new TypeError('The "heartbeat.timeout" option must be a number > 0');
    if (!(heartbeat.interval > 0)) throw new TypeError('The "heartbeat.interval" option must be a number > 0');
  }
  return resolved;
}

function nonNegative(name: string, value: number, integer = false): void {
  const ok = typeof value === 'number' && value >= 0 && (!integer || value === Infinity || Number.isInteger(value));
  if (!ok) throw new TypeError(`The "${name}" option must be a non-negative ${integer ? 'integer' : 'number'}`);
}

/** `{ a: undefined }` must not override a default. */
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
