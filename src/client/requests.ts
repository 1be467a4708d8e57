/**
 * The client's half of request/reply (`docs/requests.md`): each request
 * gets an id, goes out as `{"$sy":"q","id":n,"r":name,"d":input}`, and
 * settles when the `{"$sy":"a","id":n,...}` frame with its id arrives, when
 * its timeout fires, or when the link it went out on drops (then it fails,
 * or with `retry: 'once'` goes out once more on the next link).
 *
 * @internal
 */
import { RequestError, type RequestIssue } from '../errors.js';

export type { RequestIssue };

/** How one request waits. */
export interface RequestOptions {
  /** Ms to wait for the reply, reconnections included. Default 10 000. */
  timeout?: number;
  /**
   * A request already sent when the link drops: `false` (default) rejects
   * it at once (reason `disconnected`); `'once'` sends it again after the
   * reconnection (the server may then run it twice: use it for requests
   * that are safe to repeat).
   */
  retry?: 'once' | false;
}

export { RequestError };

interface Pending {
  frame: string;
  resolve: (value: unknown) => void;
  reject: (error: RequestError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Retries left after a drop. */
  retries: number;
  /** Written on the current link (else it waits for the next one). */
  sent: boolean;
}

interface Reply { id?: unknown; d?: unknown; error?: { code?: unknown; message?: unknown; issues?: RequestIssue[] } }

/** The requests of one client, across its links. */
export class Requests {
  #next = 1;
  readonly #pending = new Map<number, Pending>();

  /** Starts a request; `write` sends the frame now and says whether it could. */
  start(name: string, input: unknown, options: RequestOptions, write: (frame: string) => boolean): Promise<unknown> {
    const { timeout = 10_000, retry = false } = options;
    if (typeof name !== 'string' || name === '') throw new TypeError('request() needs a request name');
    if (!(timeout > 0)) throw new TypeError('The "timeout" option must be a number > 0');
    const id = this.#next++;
    const frame = JSON.stringify({ $sy: 'q', id, r: name, d: input });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(id, new RequestError('timeout', `No reply to "${name}" within ${timeout} ms`)), timeout);
      const pending: Pending = { frame, resolve, reject, timer, retries: retry === 'once' ? 1 : 0, sent: false };
      this.#pending.set(id, pending);
      pending.sent = write(frame);
    });
  }

  /** A frame from the server: true when it was a reply (settled, or late and dropped), false for the app's. */
  reply(text: string): boolean {
    if (!text.startsWith('{"$sy":"a"')) return false;
    let reply: Reply;
    try {
      reply = JSON.parse(text) as Reply;
    } catch {
      return false;
    }
    const error = reply.error;
    this.#settle(reply.id as number, error === undefined ? undefined : new RequestError(String(error.code), String(error.message), error.issues), reply.d);
    return true;
  }

  /** A link opened: what waits for one goes out. */
  opened(write: (frame: string) => void): void {
    for (const pending of this.#pending.values()) {
      if (pending.sent) continue;
      pending.sent = true;
      write(pending.frame);
    }
  }

  /** The link dropped: requests sent on it fail, or wait for the next link once. */
  lost(): void {
    for (const [id, pending] of this.#pending) {
      if (!pending.sent) continue;
      if (pending.retries-- > 0) pending.sent = false;
      else this.#settle(id, new RequestError('disconnected', 'The connection dropped before the reply came'));
    }
  }

  /** The client closed: every request fails. */
  closed(): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, new RequestError('closed', 'The client is closed'));
  }

  #settle(id: number, error: RequestError | undefined, value?: unknown): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return; // a late reply, after a timeout
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (error === undefined) pending.resolve(value);
    else pending.reject(error);
  }
}
