/**
 * The client's dead-link detector (`heartbeat` option; see
 * `HeartbeatOptions` in `options.ts`). Browsers hide the server's protocol
 * pings from the page, so the client watches for *any* frame instead: each
 * one re-arms a timeout, and a link quiet for `timeout` ms is reported dead
 * (the client then drops it and reconnects). With a `message`, it also sends
 * its own ping every `interval` ms, so a quiet channel still gets replies.
 * Kept apart from `reconnecting-websocket.ts` because its two timers have a
 * life of their own: armed when a link opens, cleared when it is lost.
 *
 * @internal
 */
import type { ResolvedOptions } from './options.js';

export class Heartbeat {
  readonly #options: NonNullable<ResolvedOptions['heartbeat']>;
  readonly #onDead: () => void;
  #timeout: ReturnType<typeof setTimeout> | undefined;
  #ping: ReturnType<typeof setInterval> | undefined;

  /** `onDead` is called when nothing arrived for `timeout` ms. */
  constructor(options: NonNullable<ResolvedOptions['heartbeat']>, onDead: () => void) {
    this.#options = options;
    this.#onDead = onDead;
  }

  /** A link opened: arms the timeout and, with a `message`, pings through `send` every `interval` ms. */
  start(send: (ping: string) => void): void {
    this.alive();
    const { message, interval } = this.#options;
    if (message === undefined) return;
    this.#ping = setInterval(() => send(typeof message === 'function' ? message() : message), interval);
  }

  /** A frame arrived: the link is alive, the timeout starts again. */
  alive(): void {
    clearTimeout(this.#timeout);
    this.#timeout = setTimeout(this.#onDead, this.#options.timeout);
  }

  /** The link is gone or the client closed: no more timeout, no more pings. */
  stop(): void {
    clearTimeout(this.#timeout);
    clearInterval(this.#ping);
    this.#timeout = this.#ping = undefined;
  }
}
