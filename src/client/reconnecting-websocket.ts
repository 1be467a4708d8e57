/**
 * A WebSocket that stays connected: the client behind `switchyard/client`.
 *
 * How it works: the client owns at most one underlying socket at a time and
 * listens to it only while it is the current one (events of a socket it has
 * let go of are ignored). When that socket closes, the client waits a
 * jittered, growing delay (see `backoff.ts`) and opens a new one. Sends made
 * while no socket is open go to a bounded queue (see `send-queue.ts`) that is
 * flushed, in order, as soon as the next socket opens. The heartbeat's timers
 * live in `heartbeat.ts`; every timer (retry, connect timeout, heartbeat,
 * ping) is cleared in one place, `#clearTimers`.
 */
import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { Heartbeat } from './heartbeat.js';
import {
  CLOSE_CONNECT_TIMEOUT,
  CLOSE_HEARTBEAT_TIMEOUT,
  type ClientEvents,
  type ClientState,
  type CloseDetail,
  type MessageDetail,
} from './events.js';
import { resolveOptions, type ClientOptions, type Outgoing, type ResolvedOptions, type WebsocketLike } from './options.js';
import { RecoveryTracker } from './recovery.js';
import { RequestError, Requests, type RequestOptions } from './requests.js';
import { SendQueue } from './send-queue.js';
import type { ClientMessage, RequestInput, RequestName, RequestReply, ServerFrame } from '../consumers/schema.js';

const OPEN = 1; // WebSocket.OPEN, the same in every implementation

type Timer = ReturnType<typeof setTimeout>;

/**
 * A reconnecting WebSocket client for browsers and Node.
 *
 * - Reconnects after any loss with exponential backoff and full jitter
 *   (`minDelay`, `maxDelay`, `factor`, `maxRetries`).
 * - Queues sends while offline, up to `queueSize` (default 100); when full, a
 *   send is rejected (`send` returns `false`) or, with
 *   `queueOverflow: 'drop-oldest'`, evicts the oldest queued item (a `drop`
 *   event reports it). The queue is flushed in order on reconnect, before any
 *   `state` or `open` listener runs, so sends made in listeners follow it.
 * - Delivery is at most once: what was sent on a link that then died is not resent.
 * - With `recover: true`, what the server's groups said while the client was
 *   away is replayed on reconnect, each message once (`docs/recovery.md`);
 *   a `recovery` event tells when something was lost.
 * - Parses JSON text frames (`message` event `data`); `sendJson` encodes.
 * - `request(name, input)` asks the server and resolves with its reply
 *   (`docs/requests.md`), or rejects with a `RequestError` that has a `code`.
 * - Typed with no code generation: `new ReconnectingWebsocket<typeof ChatConsumer>(url)`,
 *   importing only the type of a `TypedJsonConsumer` (or of its protocol),
 *   types `sendJson`, `request` and the `message` event's `data`.
 * - Optional heartbeat: with `heartbeat: { timeout }`, a link on which nothing
 *   arrives for `timeout` ms is dropped and replaced (see {@link HeartbeatOptions}).
 * - `close()` stops everything, including reconnection; `connect()` starts again.
 *   In Node, a client that is not closed keeps the process alive, as a server does.
 *
 * @example Browser
 * ```ts
 * import { ReconnectingWebsocket } from 'switchyard/client';
 *
 * const chat = new ReconnectingWebsocket(`wss://${location.host}/ws/chat/lobby/`);
 * chat.on('message', ({ data }) => console.log(data));
 * chat.on('state', ({ state }) => (document.title = `Chat (${state})`));
 * chat.sendJson({ message: 'hello', username: 'ada' }); // queued until open
 * ```
 *
 * @example Node 20, with the `ws` package and a heartbeat
 * ```ts
 * import { WebSocket } from 'ws';
 * import { ReconnectingWebsocket } from 'switchyard/client';
 *
 * const client = new ReconnectingWebsocket('ws://127.0.0.1:8000/ws/chat/lobby/', {
 *   WebSocket,
 *   minDelay: 250,
 *   maxDelay: 10_000,
 *   heartbeat: { timeout: 30_000, message: '{"type":"ping"}' },
 * });
 * client.on('reconnecting', ({ attempt, delay }) => console.log(`retry ${attempt} in ${delay} ms`));
 * ```
 */
export class ReconnectingWebsocket<T = unknown> extends Emitter<ClientEvents<ServerFrame<T>>> {
  readonly #url: string | URL | (() => string | URL);
  readonly #options: ResolvedOptions;
  readonly #queue: SendQueue<Outgoing>;
  /** With `recover: true`: where the client stands in each group. */
  readonly #recovery: RecoveryTracker | null;
  readonly #requests = new Requests();
  #state: ClientState = 'connecting';
  #socket: WebsocketLike | null = null;
  /** Consecutive attempts that failed since the last open. */
  #failures = 0;
  #hasOpened = false;
  /** With a `heartbeat` option: the timers that detect a dead link. */
  readonly #heartbeat: Heartbeat | null;
  #retryTimer: Timer | undefined;
  #connectTimer: Timer | undefined;

  /**
   * Starts connecting at once. `url` may be a function, called before each
   * attempt (for example to put a fresh token in the query string).
   *
   * @throws TypeError when an option is invalid or no WebSocket implementation is available.
   */
  constructor(url: string | URL | (() => string | URL), options: ClientOptions = {}) {
    super();
    this.#url = url;
    this.#options = resolveOptions(options);
    this.#queue = new SendQueue(this.#options.queueSize, this.#options.queueOverflow);
    this.#recovery = this.#options.recover ? new RecoveryTracker() : null;
    const heartbeat = this.#options.heartbeat;
    this.#heartbeat = heartbeat ? new Heartbeat(heartbeat, () => this.#abandon(CLOSE_HEARTBEAT_TIMEOUT, 'heartbeat timeout')) : null;
    this.#open();
  }

  /** Where the client is in its life; see {@link ClientState}. */
  get state(): ClientState {
    return this.#state;
  }

  /** With `recover: true`: where the client stands in each group (epoch and offset), else `{}`. */
  get positions(): Record<string, { epoch: string; offset: number }> {
    return this.#recovery?.positions() ?? {};
  }

  /** How many sends wait in the queue for the next connection. */
  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Sends `data` now if connected, else queues it for the next connection.
   *
   * @returns `true` when sent or queued; `false` when the queue is full (policy
   * `'reject'`) or the client is closed.
   *
   * @example
   * ```ts
   * import type { ReconnectingWebsocket } from 'switchyard/client';
   *
   * declare const client: ReconnectingWebsocket;
 * if (!client.send('hello')) alert('Not sent: offline for too long');
   * ```
   */
  send(data: Outgoing): boolean {
    if (this.#state === 'closed') return false;
    const socket = this.#socket;
    if (this.#state === 'open' && socket && socket.readyState === OPEN) {
      socket.send(data);
      return true;
    }
    const result = this.#queue.push(data);
    if (result.queued && result.dropped !== undefined) this.emit('drop', { data: result.dropped });
    return result.queued;
  }

  /**
   * Sends `value` as JSON text; the same queueing and return value as {@link send}.
   *
   * @example
   * ```ts
   * import type { ReconnectingWebsocket } from 'switchyard/client';
   *
   * declare const client: ReconnectingWebsocket;
 * client.sendJson({ message: '你好', username: '小明' });
   * ```
   */
  sendJson(value: ClientMessage<T>): boolean {
    return this.send(JSON.stringify(value));
  }

  /**
   * Asks the server (a `TypedJsonConsumer`'s request handler) and resolves
   * with its reply; made offline, it goes out on the next link. Rejects with
   * a {@link RequestError} whose `code` is the server's, or `timeout` (no reply
   * within `timeout` ms, default 10 000), `disconnected` (see `retry`), `closed`.
   *
   * @example
   * ```ts
   * import type { ReconnectingWebsocket } from 'switchyard/client';
   *
   * declare const client: ReconnectingWebsocket;
   * const who = await client.request('who', {}, { timeout: 5000 }).catch((error: { reason: string }) => error.reason);
   * ```
   */
  request<K extends RequestName<T>>(name: K, input: RequestInput<T, K>, options: RequestOptions = {}): Promise<RequestReply<T, K>> {
    if (this.#state === 'closed') return Promise.reject(new RequestError('closed', 'The client is closed'));
    return this.#requests.start(name, input, options, (frame) => {
      const socket = this.#socket;
      if (this.#state !== 'open' || !socket || socket.readyState !== OPEN) return false;
      socket.send(frame);
      return true;
    }) as Promise<RequestReply<T, K>>;
  }

  /**
   * Closes the connection for good: no more retries, the queue is emptied and
   * the state becomes `closed`. A `close` event follows if a socket was open
   * or connecting. Calling it again does nothing.
   *
   * @example
   * ```ts
   * import type { ReconnectingWebsocket } from 'switchyard/client';
   *
   * declare const client: ReconnectingWebsocket;
 * window.addEventListener('pagehide', () => client.close());
   * ```
   */
  close(code = 1000, reason = ''): void {
    if (this.#state === 'closed') return;
    this.#clearTimers();
    this.#queue.drain();
    this.#requests.closed();
    this.#setState('closed');
    // The socket stays current so that its `close` event is still reported.
    try {
      this.#socket?.close(code, reason);
    } catch (error) {
      this.emit('error', { error });
    }
  }

  /**
   * Connects now when not connected: skips the wait before the next retry
   * (for example when the browser reports it is `online` again), or starts
   * again after `close()` or after retries ran out. Does nothing while a
   * socket is open or connecting.
   *
   * @example
   * ```ts
   * import type { ReconnectingWebsocket } from 'switchyard/client';
   *
   * declare const client: ReconnectingWebsocket;
 * window.addEventListener('online', () => client.connect());
   * ```
   */
  connect(): void {
    if (this.#state !== 'closed' && this.#socket) return;
    // After close(), a socket may still be finishing its handshake: let it go unreported.
    this.#socket = null;
    this.#clearTimers();
    this.#failures = 0;
    if (this.#state === 'closed') this.#setState(this.#hasOpened ? 'reconnecting' : 'connecting');
    this.#open();
  }

  #open(): void {
    const { WebSocket, protocols, binaryType, connectTimeout } = this.#options;
    let socket: WebsocketLike;
    try {
      const url = String(typeof this.#url === 'function' ? this.#url() : this.#url);
      socket = new WebSocket(this.#recovery === null ? url : this.#recovery.url(url), protocols);
      socket.binaryType = binaryType;
    } catch (error) {
      // A bad URL on the very first attempt is the caller's bug: say so at once.
      if (!this.#hasOpened && this.#failures === 0 && this.#state === 'connecting') throw error;
      this.emit('error', { error });
      this.#lost(1006, String(error), false);
      return;
    }
    this.#socket = socket;
    socket.addEventListener('open', () => socket === this.#socket && this.#onOpen());
    socket.addEventListener('message', (event: { data: string | ArrayBuffer | Blob }) => {
      if (socket === this.#socket) this.#onMessage(event.data);
    });
    socket.addEventListener('close', (event: { code: number; reason: string; wasClean: boolean }) => {
      if (socket === this.#socket) this.#lost(event.code, event.reason, event.wasClean);
    });
    socket.addEventListener('error', (event: { error?: unknown; message?: string }) => {
      if (socket === this.#socket && this.#state !== 'closed') {
        this.emit('error', { error: event.error ?? new Error(event.message ?? 'WebSocket error') });
      }
    });
    if (connectTimeout > 0) {
      this.#connectTimer = setTimeout(() => this.#abandon(CLOSE_CONNECT_TIMEOUT, 'connect timeout'), connectTimeout);
    }
  }

  #onOpen(): void {
    clearTimeout(this.#connectTimer);
    const reconnected = this.#hasOpened;
    this.#hasOpened = true;
    this.#failures = 0;
    this.#recovery?.connected();
    // Flush before any listener runs (even a `state` one), so nothing overtakes the queue.
    const socket = this.#socket as WebsocketLike;
    for (const data of this.#queue.drain()) socket.send(data);
    this.#requests.opened((frame) => socket.send(frame));
    this.#setState('open');
    this.#heartbeat?.start((ping) => {
      const current = this.#socket;
      if (current && current.readyState === OPEN) current.send(ping);
    });
    this.emit('open', { reconnected });
  }

  #onMessage(raw: string | ArrayBuffer | Blob): void {
    this.#heartbeat?.alive();
    if (typeof raw === 'string' && this.#requests.reply(raw)) return;
    if (this.#recovery !== null && typeof raw === 'string') {
      const unwrapped = this.#recovery.unwrap(raw);
      if (unwrapped.kind === 'none') return;
      if (unwrapped.kind === 'outcome') return this.emit('recovery', unwrapped.detail);
      raw = unwrapped.text;
    }
    let detail: MessageDetail = { data: raw, raw, json: false };
    if (typeof raw === 'string' && this.#options.parseJson) {
      try {
        detail = { data: JSON.parse(raw), raw, json: true };
      } catch {
        // Not JSON: delivered as text.
      }
    }
    if (this.#options.heartbeat?.isPong?.(detail)) return;
    this.emit('message', detail as MessageDetail<ServerFrame<T>>);
  }

  /** Drops the current socket without waiting for its closing handshake, which a dead link never completes. */
  #abandon(code: number, reason: string): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = null;
    try {
      if (socket.terminate) socket.terminate();
      else socket.close(code, reason);
    } catch {
      // Already closing: nothing more to do with it.
    }
    this.#lost(code, reason, false);
  }

  /** The current socket is gone (closed, failed or abandoned): report it and decide what comes next. */
  #lost(code: number, reason: string, wasClean: boolean): void {
    this.#socket = null;
    this.#clearTimers();
    const closedByUser = this.#state === 'closed';
    const detail: CloseDetail = { code, reason, wasClean, willReconnect: false };
    this.#requests.lost();
    if (!closedByUser) {
      this.#failures += 1;
      detail.willReconnect =
        this.#failures <= this.#options.maxRetries && this.#options.shouldReconnect({ code, reason, wasClean });
    }
    if (detail.willReconnect) {
      this.#setState('reconnecting');
    } else if (!closedByUser) {
      this.#queue.drain();
      this.#requests.closed();
      this.#setState('closed');
    }
    this.emit('close', detail);
    // A `close()` or `connect()` called from a `close` listener has already decided.
    if (detail.willReconnect && this.#state === 'reconnecting' && !this.#socket) this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    const delay = backoffDelay(this.#failures, this.#options);
    this.emit('reconnecting', { attempt: this.#failures, delay });
    // A `close()` or `connect()` called from a listener above has already decided.
    if (this.#state !== 'reconnecting' || this.#socket) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#open();
    }, delay);
  }

  #clearTimers(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    this.#heartbeat?.stop();
    this.#retryTimer = this.#connectTimer = undefined;
  }

  #setState(state: ClientState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', { state, previous });
  }
}

/**
 * @deprecated Renamed {@link ReconnectingWebsocket}: class and type names
 * spell it `Websocket`, as Django does (`WebsocketConsumer`).
 */
export const ReconnectingWebSocket = ReconnectingWebsocket;
/** @deprecated Renamed {@link ReconnectingWebsocket}. */
export type ReconnectingWebSocket = ReconnectingWebsocket;
