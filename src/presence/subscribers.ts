/**
 * A replica's local subscribers, per topic: who hears each change, in the
 * order they subscribed, and the unsubscribe function each one gets.
 *
 * How it works. A topic's listeners are one `Set` (insertion order is
 * subscription order), and the topic has one remover function, made with the
 * set. An unsubscribe function is that remover bound to its listener (as
 * `this`): a subscription costs its slot in the set and one bound function,
 * with no closure or context of its own, so a room of ten thousand idle
 * connections costs little more than their listeners. A topic whose last
 * listener left is forgotten; an unsubscribe function called late (or twice)
 * removes nothing from a set made for the topic since.
 */
import { logger } from '../log.js';
import type { PresenceChange, PresenceMeta } from './state.js';

/** What {@link Subscribers.subscribe} takes: called with each change of its topic. */
export type PresenceListener<M extends PresenceMeta> = (change: PresenceChange<M>) => void;

/** One topic's listeners and the function that removes one of them (its `this`). */
interface Topic<M extends PresenceMeta> {
  readonly listeners: Set<PresenceListener<M>>;
  readonly remove: (this: PresenceListener<M>) => void;
}

/** The local subscribers of every topic of one replica. */
export class Subscribers<M extends PresenceMeta> {
  readonly #topics = new Map<string, Topic<M>>();

  /** Adds `listener` to `topic` (once, however often it subscribes); returns the function that removes it. */
  subscribe(topic: string, listener: PresenceListener<M>): () => void {
    const entry = this.#topics.get(topic) ?? this.#open(topic);
    entry.listeners.add(listener);
    return entry.remove.bind(listener);
  }

  /** Whether `topic` has a listener here (a change nobody hears needs no diff). */
  watched(topic: string): boolean {
    return this.#topics.has(topic);
  }

  /**
   * Hands `change` to its topic's listeners, in subscription order. A listener
   * that throws is logged and the others still hear; one that unsubscribes
   * another (or itself) during the call takes effect from the next change.
   */
  emit(change: PresenceChange<M>): void {
    const entry = this.#topics.get(change.topic);
    if (entry === undefined) return;
    for (const listener of [...entry.listeners]) {
      try {
        listener(change);
      } catch (error) {
        logger.error({ err: error, topic: change.topic }, 'presence subscriber failed');
      }
    }
  }

  #open(topic: string): Topic<M> {
    const topics = this.#topics;
    const listeners = new Set<PresenceListener<M>>();
    const entry: Topic<M> = {
      listeners,
      remove(this: PresenceListener<M>) {
        if (listeners.delete(this) && listeners.size === 0 && topics.get(topic) === entry) topics.delete(topic);
      },
    };
    topics.set(topic, entry);
    return entry;
  }
}
