/**
 * The subjects one NATS layer is subscribed to: each subscribed once (two
 * concurrent `groupAdd`s of a new group share one subscription, or every
 * member would get each message twice), and a subscription counts only once
 * the server has confirmed it, so a message another process publishes
 * right after `groupAdd` or `newChannel` resolves is not missed. The nats
 * client restores them after a reconnection; a subject left while NATS was
 * away is forgotten by the client too.
 */
import type { Msg, Subscription } from 'nats';
import type { LayerLogger } from '../redis/log.js';
import type { NatsLink } from './connection.js';

/** A layer's subscriptions, by subject. */
export class NatsSubscriptions {
  readonly #link: NatsLink;
  readonly #logger: LayerLogger;
  readonly #subscribed = new Map<string, Subscription>();
  readonly #pending = new Map<string, Promise<void>>();

  constructor(link: NatsLink, logger: LayerLogger) {
    this.#link = link;
    this.#logger = logger;
  }

  /** Subscribes `subject` unless it is (concurrent callers share one attempt); rejects with `LayerUnavailableError` while NATS is away. */
  subscribe(subject: string, onMessage: (message: Msg) => void, queue?: string): Promise<void> {
    if (this.#subscribed.has(subject)) return Promise.resolve();
    let pending = this.#pending.get(subject);
    if (pending !== undefined) return pending;
    pending = (async () => {
      const connection = await this.#link.get();
      const subscription = connection.subscribe(subject, { queue, callback: (error, message) => {
        if (error !== null) return;
        try {
          onMessage(message);
        } catch (failure) {
          // One bad delivery (a reply that cannot be sent while NATS goes away) must not end the subscription.
          this.#logger.error({ err: failure, subject }, 'A NATS message could not be delivered');
        }
      } });
      try {
        await this.#link.confirm(connection);
      } catch (error) {
        subscription.unsubscribe();
        throw error;
      }
      this.#subscribed.set(subject, subscription);
    })().finally(() => this.#pending.delete(subject));
    this.#pending.set(subject, pending);
    return pending;
  }

  /** Ends the subscription of `subject`, if any. */
  unsubscribe(subject: string): void {
    const subscription = this.#subscribed.get(subject);
    this.#subscribed.delete(subject);
    subscription?.unsubscribe();
  }
}
