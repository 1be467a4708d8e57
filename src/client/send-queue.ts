/**
 * The bounded queue that holds what the user sends while the link is down.
 *
 * When it is full, the overflow policy decides:
 * - `'reject'` (default): the new item is refused and `push` returns `false`, so
 *   the caller knows at once that this message will not be delivered (a chat
 *   page can say so) and what was queued before keeps its order;
 * - `'drop-oldest'`: the oldest item is evicted to make room and returned, for
 *   feeds where only the latest state matters.
 *
 * @internal
 */
export type OverflowPolicy = 'reject' | 'drop-oldest';

/** What `push` did. `dropped` is the item evicted under `'drop-oldest'`. */
export type PushResult<T> = { queued: true; dropped?: T } | { queued: false };

export class SendQueue<T> {
  #items: T[] = [];
  readonly capacity: number;
  readonly overflow: OverflowPolicy;

  constructor(capacity: number, overflow: OverflowPolicy) {
    this.capacity = capacity;
    this.overflow = overflow;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): PushResult<T> {
    if (this.#items.length < this.capacity) {
      this.#items.push(item);
      return { queued: true };
    }
    if (this.overflow === 'reject' || this.capacity === 0) return { queued: false };
    const dropped = this.#items.shift() as T;
    this.#items.push(item);
    return { queued: true, dropped };
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }
}
