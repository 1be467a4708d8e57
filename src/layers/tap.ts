/**
 * Delivery of messages to armed taps, batched: every delivery made during
 * one synchronous stretch (a `groupSend` to 500 members) is handed out in
 * one microtask, in order. Listeners run after the send returns, as a
 * resolved `receive()` would, so a handler that sends in turn cannot
 * overtake the message that caused it. Shared by the layers that offer taps.
 */
import type { LayerMessage } from '../asgi.js';
import type { TapListener } from './base.js';

/** Queues tap deliveries and runs them in the next microtask. */
export class TapDispatcher {
  /** Listener, message, listener, message...: no object per delivery. */
  #batch: unknown[] = [];

  /** Calls `listener` with `message` in the next microtask (with every other delivery of this stretch). */
  deliver(listener: TapListener, message: LayerMessage): void {
    if (this.#batch.length === 0) queueMicrotask(this.#flush);
    this.#batch.push(listener, message);
  }

  readonly #flush = (): void => {
    const batch = this.#batch;
    this.#batch = [];
    for (let i = 0; i < batch.length; i += 2) {
      try {
        (batch[i] as TapListener)(batch[i + 1] as LayerMessage);
      } catch (error) {
        // A listener's failure is its consumer's: report it without stopping the others.
        queueMicrotask(() => { throw error; });
      }
    }
  };
}
