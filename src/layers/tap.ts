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
  /**
   * Listener, message, listener, message...: no object per delivery. Two
   * arrays taking turns, kept at their size (a listener may deliver again
   * while a batch runs): a broadcast to 500 members grows no array.
   */
  #batch: unknown[] = [];
  #spare: unknown[] = [];
  /** Entries of {@link #batch} in use (past it, emptied slots). */
  #length = 0;

  /** Calls `listener` with `message` in the next microtask (with every other delivery of this stretch). */
  deliver(listener: TapListener, message: LayerMessage): void {
    if (this.#length === 0) queueMicrotask(this.#flush);
    this.#batch[this.#length++] = listener;
    this.#batch[this.#length++] = message;
  }

  readonly #flush = (): void => {
    const batch = this.#batch;
    const length = this.#length;
    this.#batch = this.#spare;
    this.#length = 0;
    for (let i = 0; i < length; i += 2) {
      try {
        (batch[i] as TapListener)(batch[i + 1] as LayerMessage);
      } catch (error) {
        // A listener's failure is its consumer's: report it without stopping the others.
        queueMicrotask(() => { throw error; });
      }
    }
    batch.fill(undefined, 0, length); // a spare array keeps no message alive
    this.#spare = batch;
  };
}
