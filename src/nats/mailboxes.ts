/**
 * The NATS layer's local channels: one {@link Mailbox} (`layers/mailbox.ts`,
 * shared with the in-memory and Redis layers) per channel of this process,
 * with the in-memory layer's rules rather than the pub/sub Redis layer's: a
 * channel at its capacity refuses a direct send (the sender gets
 * `ChannelFull`, through the NATS reply) and skips a group message (or
 * applies its consumer's slow-consumer policy); a message unread after
 * `expiry` is dropped, and a channel that let one expire leaves its groups,
 * as in Django. Idle empty mailboxes are forgotten.
 */
import type { LayerMessage } from '../asgi.js';
import type { ChannelTap, TapListener } from '../layers/base.js';
import { Mailbox, type MailboxOwner } from '../layers/mailbox.js';
import { type SlowConsumer, countSlowConsumerAction } from '../layers/slow-consumers.js';
import { TapDispatcher } from '../layers/tap.js';

/** The mailboxes of one layer's local channels. */
export class LocalChannels {
  readonly #boxes = new Map<string, Mailbox>();
  readonly #taps = new TapDispatcher();
  readonly #capacityFor: (channel: string) => number;
  readonly #expiryMs: number;
  /** Called with a channel that let a message expire. */
  readonly #onExpired: (channel: string) => void;

  constructor(capacityFor: (channel: string) => number, expirySeconds: number, onExpired: (channel: string) => void) {
    this.#capacityFor = capacityFor;
    this.#expiryMs = expirySeconds * 1000;
    this.#onExpired = onExpired;
  }

  readonly #owner: MailboxOwner = {
    expired: (box) => this.#onExpired(box.channel),
    released: (box) => {
      if (box.idle && this.#boxes.get(box.channel) === box) this.#boxes.delete(box.channel);
    },
    waiting: () => {},
  };

  /**
   * Hands a message to the channel's tap or waiting receive, or queues it.
   * Returns false when the channel is full (a group message is then
   * skipped and counted as the slow-consumer action `drop-newest`).
   */
  deliver(channel: string, message: LayerMessage, group?: string): boolean {
    const existing = this.#boxes.get(channel);
    if (existing !== undefined && existing.offer(message)) return true;
    const box = existing ?? this.#box(channel);
    const now = Date.now();
    if (box.messages.length > 0) box.dropExpired(now);
    if (box.place(message, now + this.#expiryMs, this.#capacityFor(channel), group)) return true;
    this.#owner.released(box);
    if (group !== undefined) countSlowConsumerAction('drop-newest');
    return false;
  }

  /** The next message of a channel (see `Mailbox.receive`). */
  receive(channel: string, signal?: AbortSignal): Promise<LayerMessage> {
    return this.#box(channel).receive(signal);
  }

  /** Opens a channel's tap. */
  tap(channel: string, listener: TapListener, slow?: SlowConsumer): ChannelTap {
    return this.#box(channel).openTap(listener, slow);
  }

  /** Receives waiting on a channel. */
  waitersOf(channel: string): number {
    return this.#boxes.get(channel)?.waiters ?? 0;
  }

  /** Drops a channel's queued messages (its waiters and tap stay). */
  forget(channel: string): void {
    this.#boxes.get(channel)?.clear();
  }

  /** Drops expired messages everywhere and forgets idle mailboxes. */
  sweep(): void {
    const now = Date.now();
    for (const box of this.#boxes.values()) {
      box.dropExpired(now);
      this.#owner.released(box);
    }
  }

  /** Empties every mailbox (waiters and taps stay). */
  clear(): void {
    for (const box of this.#boxes.values()) box.clear();
  }

  /** Rejects every waiting receive and forgets everything (the layer is closing). */
  close(error: unknown): void {
    const boxes = [...this.#boxes.values()];
    this.#boxes.clear();
    for (const box of boxes) box.rejectWaiters(error);
  }

  #box(channel: string): Mailbox {
    let box = this.#boxes.get(channel);
    if (box === undefined) this.#boxes.set(channel, (box = new Mailbox(channel, this.#owner, this.#taps)));
    return box;
  }
}
