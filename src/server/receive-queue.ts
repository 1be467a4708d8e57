/**
 * ASGI `receive()` over events the server pushes: events wait in order
 * until the app reads them, and the app's read waits until an event comes.
 * With many events unread, the subclass is told to stop reading its socket
 * (`backlog(true)`), and told to read again once the app has caught up, so
 * a client cannot queue up the server's memory. A base class rather than a
 * member object, `receive` a bound method rather than a closure, and the
 * queue an array only while events wait: an idle connection holds no extra
 * object for it.
 */
import type { ReceiveEvent } from '../asgi.js';

/** Unread events at which reading pauses, and at which it resumes. */
const HIGH_WATER = 64;
const LOW_WATER = 16;

export abstract class ReceiveQueue {
  /** Events the app has not read yet (null when there are none). */
  #queue: ReceiveEvent[] | null;
  /** The app's pending `receive()` (apps read one event at a time; more wait in `#moreWaiters`). */
  #waiter: ((event: ReceiveEvent) => void) | null = null;
  #moreWaiters: Array<(event: ReceiveEvent) => void> | null = null;
  #paused = false;

  /** The ASGI `receive` callable. */
  readonly receive: () => Promise<ReceiveEvent>;

  constructor(first: ReceiveEvent) {
    this.#queue = [first];
    this.receive = this.#read.bind(this);
  }

  /** Called when the unread events cross the high water mark (true) or fall back to the low one (false). */
  protected abstract backlog(paused: boolean): void;

  #read(): Promise<ReceiveEvent> {
    const queue = this.#queue;
    if (queue === null) {
      return new Promise((resolve) => {
        if (this.#waiter === null) this.#waiter = resolve;
        else (this.#moreWaiters ??= []).push(resolve);
      });
    }
    const next = queue.shift()!;
    if (queue.length === 0) this.#queue = null;
    if (this.#paused && queue.length <= LOW_WATER) this.#resume();
    return Promise.resolve(next);
  }

  /** Hands an event to the app: to its pending read, or to the queue. */
  protected deliver(event: ReceiveEvent): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = this.#moreWaiters?.shift() ?? null;
      return waiter(event);
    }
    const queue = (this.#queue ??= []);
    queue.push(event);
    if (!this.#paused && queue.length >= HIGH_WATER) {
      this.#paused = true;
      this.backlog(true);
    }
  }

  /** Drops the unread events (the connection is closing) and reads again if paused. */
  protected dropUnread(): void {
    this.#queue = null;
    if (this.#paused) this.#resume();
  }

  #resume(): void {
    this.#paused = false;
    this.backlog(false);
  }
}
