/**
 * `ApplicationCommunicator`: drives an ASGI application exactly as a server
 * would, with no socket: events go in with `sendInput`, the app's events come
 * out with `receiveOutput`. Works with any test runner.
 *
 * As in asgiref, the application starts on first use; once it has ended,
 * every call re-raises how it ended (its error), so a test sees a crash at
 * the next step. A `receiveOutput` that times out while the app is still
 * running cancels the app (its pending `receive()` rejects with
 * {@link CancelledError}) and raises {@link TimeoutError}; a later
 * `sendInput` (so `disconnect()`) then raises {@link CancelledError}, as
 * asgiref's `send_input` does on a cancelled application.
 */
import type { Application, ReceiveEvent, Scope, SendEvent, LayerMessage } from '../asgi.js';
import { CancelledError, TimeoutError } from '../errors.js';

// Defined with every other error in errors.ts; re-exported where they always were.
export { CancelledError, TimeoutError };

/** A FIFO whose `get()` waits; used for the app's input and output. */
class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: Array<{ resolve: (item: T) => void; reject: (error: unknown) => void }> = [];

  put(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  get(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Rejects every waiting `get()`, now and from then on. */
  fail(error: unknown): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    this.get = () => Promise.reject(error);
  }
}

type Outcome = { ok: true } | { ok: false; error: unknown };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs an application against in-memory queues.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import type { Application } from 'switchyard';
 * import { ApplicationCommunicator } from 'switchyard/testing';
 *
 * // An app that answers each `task.run` with an HTTP-style ack, to show the flow.
 * const app: Application = async (_scope, receive, send) => {
 *   const event = await receive();
 *   await send({ type: 'http.response.start', status: event.type === 'task.run' ? 200 : 400 });
 * };
 * const c = new ApplicationCommunicator(app, { type: 'channel', channel: 'tasks' });
 * await c.sendInput({ type: 'task.run', id: 1 });
 * assert.deepEqual(await c.receiveOutput(), { type: 'http.response.start', status: 200 });
 * ```
 */
export class ApplicationCommunicator {
  readonly scope: Scope;
  readonly #app: Application;
  readonly #input = new AsyncQueue<ReceiveEvent | LayerMessage>();
  readonly #output: SendEvent[] = [];
  /** Wakes a waiting `receiveOutput` when output arrives or the app ends. */
  #wake: (() => void) | null = null;
  #running: Promise<void> | null = null;
  #outcome: Outcome | null = null;
  /** Set once {@link cancel} ran: the app can take no more input. */
  #cancelled = false;

  constructor(application: Application, scope: Scope) {
    this.#app = application;
    this.scope = scope;
  }

  /** True once the application has returned or failed. */
  get done(): boolean {
    return this.#outcome !== null;
  }

  #start(): void {
    if (this.#running !== null) return;
    const send = async (event: SendEvent) => {
      this.#output.push(event);
      this.#wake?.();
    };
    this.#running = Promise.resolve()
      .then(() => this.#app(this.scope, () => this.#input.get(), send))
      .then(
        () => { this.#outcome = { ok: true }; },
        (error: unknown) => { this.#outcome = { ok: false, error }; },
      )
      .finally(() => this.#wake?.());
  }

  #raiseIfFailed(): void {
    const outcome = this.#outcome;
    if (outcome !== null && !outcome.ok && !(outcome.error instanceof CancelledError)) throw outcome.error;
  }

  /** Gives the application an event (what its next `receive()` returns). */
  async sendInput(event: ReceiveEvent | LayerMessage): Promise<void> {
    this.#start();
    this.#raiseIfFailed();
    if (this.#cancelled) throw new CancelledError();
    this.#input.put(event);
  }

  /**
   * Resolves with the application's next event. Raises the app's error if it
   * failed; on timeout cancels it and raises {@link TimeoutError}.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async receiveOutput(timeout = 1000): Promise<SendEvent> {
    this.#start();
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.#output.length > 0) return this.#output.shift()!;
      this.#raiseIfFailed();
      if (this.done) throw new TimeoutError('The application ended without sending anything more');
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.cancel();
        throw new TimeoutError(`No output from the application within ${timeout} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
      });
    }
  }

  /**
   * True when the application sends nothing within `timeout` ms (and re-raises its error if it failed).
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=0.1` there is `100` here). Default 100.
   * @param interval Milliseconds between two looks at the output. Default 10.
   */
  async receiveNothing(timeout = 100, interval = 10): Promise<boolean> {
    this.#start();
    const until = Date.now() + timeout;
    while (Date.now() < until) {
      if (this.#output.length > 0) return false;
      await sleep(interval);
    }
    this.#raiseIfFailed();
    return this.#output.length === 0;
  }

  /**
   * Waits for the application to end and re-raises its error; on timeout cancels it.
   *
   * @param timeout Milliseconds, not Django's seconds (`timeout=1` there is `1000` here). Default 1000.
   */
  async wait(timeout = 1000): Promise<void> {
    this.#start();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeout)));
    const winner = await Promise.race([this.#running!.then(() => 'ended' as const), timedOut]);
    clearTimeout(timer);
    if (winner === 'timeout') {
      this.cancel();
      await this.#running;
    }
    this.#raiseIfFailed();
  }

  /** Cancels the application: its pending and future `receive()` calls reject with {@link CancelledError}. */
  cancel(): void {
    this.#cancelled = true;
    this.#input.fail(new CancelledError());
  }
}
